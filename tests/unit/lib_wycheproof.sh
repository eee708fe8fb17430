#!/usr/bin/env bash
# lib_wycheproof.sh BIN VECTORS_DIR - lib.none.wycheproof: the Wycheproof
# AES-GCM and HKDF-SHA-512 vectors, read in place from VECTORS_DIR, through
# the library's own GCM and HKDF functions (lib/crypto.c, what the message
# format calls) by BIN (lib_wycheproof.c). Exit 77 (skipped) without them.
set -euo pipefail
bin=$1 vectors=$2
gcm=$vectors/aes_gcm_test.json hkdf=$vectors/hkdf_sha512_test.json
for f in "$gcm" "$hkdf"; do
  if [ ! -r "$f" ]; then
    echo "SKIP: Wycheproof vectors not found: $f (set ENVELOPE_WYCHEPROOF_VECTORS at configure time)"
    exit 77
  fi
done
work=$(mktemp -d /tmp/envelope-wycheproof-lib.XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/wycheproof_tsv.py" "$gcm" "$hkdf" >"$work/vectors.tsv"
"$bin" "$work/vectors.tsv"
