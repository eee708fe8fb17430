#!/usr/bin/env bash
# provider_wycheproof.sh BIN PROVIDER_DIR VECTORS_DIR - provider.softhsm.wycheproof-rsa:
# the Wycheproof RSA-OAEP (SHA-1, MGF1-SHA-1, 2048) and PKCS#1 v1.5 (2048)
# decryption vectors, read in place from VECTORS_DIR (never copied into the
# repository), each test key imported into a fresh SoftHSM2 token
# (wycheproof_rsa_import.py) and every vector decrypted through the provider
# by BIN (provider_wycheproof.c); then again with rsa-pkcs1-v15 = no, where
# every v1.5 vector must be refused by policy. Exit 77 (skipped) when the
# vectors are absent.
set -euo pipefail
bin=$1 provdir=$2 vectors=$3
oaep=$vectors/rsa_oaep_2048_sha1_mgf1sha1_test.json
v15=$vectors/rsa_pkcs1_2048_test.json
for f in "$oaep" "$v15"; do
  if [ ! -r "$f" ]; then
    echo "SKIP: Wycheproof vectors not found: $f (set ENVELOPE_WYCHEPROOF_VECTORS at configure time)"
    exit 77
  fi
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=softhsm.sh
source "$here/softhsm.sh"
work=$(mktemp -d /tmp/envelope-wycheproof.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
softhsm_setup "$work" "$provdir"
# the importer is an uninstrumented Python: it must not load the provider
OPENSSL_CONF=/dev/null /usr/bin/python3 "$here/wycheproof_rsa_import.py" "$ENV_P11_MODULE" \
  "$ENV_TOKEN" "$ENV_PIN" vectors.tsv "$oaep" oaep "$v15" v15
ENV_EXTRA_PROVIDER_CONF="cache-ttl = 0" softhsm_write_conf
envelope_run_own "$bin" vectors.tsv decrypt
ENV_EXTRA_PROVIDER_CONF="cache-ttl = 0
rsa-pkcs1-v15 = no" softhsm_write_conf
envelope_run_own "$bin" vectors.tsv v15-refused
