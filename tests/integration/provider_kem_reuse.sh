#!/usr/bin/env bash
# provider_kem_reuse.sh BIN PROVIDER_DIR - DEK reuse through the provider's
# KEM encapsulate (ctx param envelope-dek-reuse, docs/PROVIDER.md "DEK
# reuse") on a real SoftHSM2 AES KEK: the cases of provider_kem_reuse.c,
# and the token's own count of wraps (C_Encrypt in the PKCS#11 debug log).
set -euo pipefail
BIN=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envkemreuse.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
softhsm_setup "$work" "$PROVDIR"
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
softhsm_keygen_aes kek-aes 01
AES="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
encrypts() { grep -c 'pkcs11: C_Encrypt ->' "$1" || true; }
run() { # NAME SETTINGS... -- CASE
  local name=$1; shift
  local settings=()
  while [ "$1" != -- ]; do settings+=("$1"); shift; done
  shift
  ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "${settings[@]}") softhsm_write_conf
  ENVELOPE_DEBUG="file:$work/debug.$name" envelope_run_own "$BIN" "$1" "$AES" >"out.$name" 2>"err.$name" ||
    { fail "$name: exit $?"; sed 's/^/  | /' "err.$name" >&2; }
}
run window "dek-reuse-messages = 3" -- window
# 3 windows for one AAD, 1 for another, 2 calls that did not ask
[ "$(encrypts debug.window)" -eq 6 ] || fail "window: $(encrypts debug.window) C_Encrypt calls, wanted 6"
run off "cache-ttl = 60s" -- off
[ "$(encrypts debug.off)" -eq 3 ] || fail "off: $(encrypts debug.off) C_Encrypt calls, wanted 3"
run expiry "dek-reuse-messages = 100" "dek-reuse-seconds = 1" -- expiry
[ "$(encrypts debug.expiry)" -eq 2 ] || fail "expiry: $(encrypts debug.expiry) C_Encrypt calls, wanted 2"
run bad "dek-reuse-messages = 3" -- bad
grep -q 'envelope-dek-reuse must be 0 or 1' err.bad || fail "bad: $(cat err.bad)"
[ "$fails" -eq 0 ] || exit 1
echo "PASS provider_kem_reuse"
