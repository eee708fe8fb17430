#!/usr/bin/env bash
# hsm_wrap_count.sh ENVELOPE_BIN PROVIDER_DIR - wraps under an AES-GCM KEK are
# counted on the token (hsm/hsm_wrapcount.c, docs/SECURITY.md "Nonces"): a
# private CKO_DATA object next to the key, read back with pkcs11-tool; the
# count survives processes (blocks reserved ahead); past 2^30 a "rotate"
# warning; at 2^32 new wraps are refused (exit 4). Real SoftHSM2.
set -euo pipefail
ENV=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envwraps.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
softhsm_setup "$work" "$PROVDIR"
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
softhsm_keygen_aes kek-aes 01
AES="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
LABEL=envelope-wraps:01
tool() { OPENSSL_CONF=/dev/null pkcs11-tool --module "$ENV_P11_MODULE" --token-label "$ENV_TOKEN" --login --pin "$ENV_PIN" "$@"; }
stored() { # the counter object's value, as a decimal number
  rm -f value.bin
  tool --read-object --type data --label "$LABEL" --output-file value.bin >/dev/null 2>&1 || { echo none; return; }
  od -An -tx1 value.bin | tr -d ' \n' | { read -r hex; printf '%d\n' "0x$hex"; }
}
set_stored() { # VALUE: replace the counter object
  tool --delete-object --type data --label "$LABEL" >/dev/null 2>&1 || true
  printf '%016x' "$1" | xxd -r -p >value.bin
  tool --write-object value.bin --type data --label "$LABEL" --application-label "envelope wrap count" \
    --private >/dev/null 2>&1 || fail "cannot write the counter object"
}
head -c 100 /dev/urandom >pt
mkdir out1
envelope_run_own "$ENV" encrypt --quiet --kek "$AES" -o out1 pt >/dev/null 2>&1 || fail "first encrypt"
v=$(stored)
[ "$v" = 1024 ] || fail "after one wrap the token holds $v, wanted a reserved block of 1024"
cp pt pt2; cp pt pt3; mkdir out2
envelope_run_own "$ENV" encrypt --quiet --kek "$AES" -o out2 pt2 pt3 >/dev/null 2>&1 || fail "second run"
v=$(stored)
[ "$v" = 2048 ] || fail "a second process must continue from the reservation: $v, wanted 2048"

# near the bound: a warning that says rotate, then a refusal
set_stored $(( (1 << 30) + 5 ))
ENVELOPE_DEBUG="file:$work/debug.warn" envelope_run_own "$ENV" encrypt --kek "$AES" -o w.env pt 2>/dev/null ||
  fail "encrypt past 2^30"
grep -q "rotate it" debug.warn || fail "no rotate warning past 2^30 wraps"
set_stored $(( (1 << 32) - 1 ))
envelope_run_own "$ENV" encrypt --kek "$AES" -o last.env pt 2>/dev/null || fail "the last wrap before 2^32"
rc=0
envelope_run_own "$ENV" encrypt --kek "$AES" -o over.env pt 2>err.over || rc=$?
[ "$rc" -eq 4 ] || fail "encrypt at 2^32 wraps: exit $rc, wanted 4: $(cat err.over)"
grep -q "rotate it" err.over || fail "the refusal does not say rotate: $(cat err.over)"
[ ! -e over.env ] || fail "a refused encrypt left output"
# decrypting is not limited
envelope_run_own "$ENV" decrypt -o back last.env 2>/dev/null || fail "decrypt under a key at its bound"
cmp -s pt back || fail "round trip"
[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "wrap count: all checks passed"
