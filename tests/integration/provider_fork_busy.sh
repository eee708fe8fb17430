#!/usr/bin/env bash
# provider_fork_busy.sh BIN PROVIDER_DIR - provider.softhsm.fault-fork-busy:
# BIN (provider_fork_busy.c) forks from a thread while four others are in
# C_Decrypt, on a fresh SoftHSM2 token in its own temporary folder, with
# the unwrap cache off so that every decryption reaches the token.
set -euo pipefail
bin=$1 provdir=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=softhsm.sh
source "$here/softhsm.sh"
work=$(mktemp -d /tmp/envelope-forkbusy.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
softhsm_setup "$work" "$provdir"
softhsm_keygen_rsa kek-rsa 02
ENV_EXTRA_PROVIDER_CONF="cache-ttl = 0" softhsm_write_conf
export ENV_RSA_URI="pkcs11:token=$ENV_TOKEN;object=kek-rsa;type=private"
envelope_run_own "$bin"
