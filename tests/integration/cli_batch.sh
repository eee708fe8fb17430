#!/usr/bin/env bash
# cli_batch.sh ENVELOPE_BIN PROVIDER_DIR
# Several inputs in one run with a KEK in a real SoftHSM2 token:
# `envelope encrypt --kek K -o DIR FILE...` and `envelope decrypt -o DIR
# FILE...`. Output names FILE.env / FILE without .env; clashing names
# refused before anything is written; one failing file does not stop the
# others and sets the exit status; the token is opened and the KEK found
# once per batch, not once per file (counted in the PKCS#11 call log).
set -euo pipefail
ENV=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envbatch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
softhsm_setup "$work" "$PROVDIR"
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect_rc() {
  local want=$1 desc=$2 rc=0; shift 2
  envelope_run_own "$@" >"$work/last.out" 2>"$work/last.err" || rc=$?
  [ "$rc" -eq "$want" ] || { fail "$desc: exit $rc, wanted $want"; sed 's/^/  | /' "$work/last.err" >&2; }
}
# calls NAME LOG: how many times the PKCS#11 function NAME was called
calls() { grep -c "pkcs11: $1 ->" "$2" || true; }
entries() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' '; }
softhsm_keygen_aes kek 01
K="pkcs11:token=$ENV_TOKEN;object=kek;type=secret-key"

mkdir in enc dec
n=8
for i in $(seq 1 "$n"); do head -c $((i * 3000)) /dev/urandom >"in/f$i"; done
: >in/empty

# --- encrypt a batch: one token open, one key lookup, one wrap per file ---
rm -f enc.log
ENVELOPE_DEBUG=file:$work/enc.log expect_rc 0 "encrypt a batch" "$ENV" encrypt --kek "$K" \
  --context tenant=acme -o enc in/f* in/empty
grep -q "envelope encrypt: $((n + 1)) written, 0 failed" last.err || fail "summary: $(cat last.err)"
grep -q '^in/f1 -> enc/f1.env$' last.out || fail "listing: $(cat last.out)"
[ "$(calls C_Initialize enc.log)" -eq 1 ] || fail "batch: $(calls C_Initialize enc.log) C_Initialize, wanted 1"
[ "$(calls C_Login enc.log)" -eq 1 ] || fail "batch: $(calls C_Login enc.log) C_Login, wanted 1"
# one lookup of the key, one of its wrap counter (hsm/hsm_wrapcount.c reads
# it once per 1,024 wraps)
[ "$(calls C_FindObjectsInit enc.log)" -eq 2 ] ||
  fail "batch: $(calls C_FindObjectsInit enc.log) lookups, wanted 2 (the KEK and its wrap counter)"
[ "$(calls C_Encrypt enc.log)" -eq $((n + 1)) ] || fail "batch: $(calls C_Encrypt enc.log) wraps, wanted $((n + 1))"
# the same files one run each: one token open per file (what the batch saves)
rm -f one.log
for f in in/f1 in/f2; do
  ENVELOPE_DEBUG=file:$work/one.log expect_rc 0 "encrypt $f alone" "$ENV" encrypt --kek "$K" -o "$(basename "$f").single" "$f"
done
[ "$(calls C_Login one.log)" -eq 2 ] || fail "two single runs: $(calls C_Login one.log) C_Login, wanted 2"
for i in $(seq 1 "$n"); do
  expect_rc 0 "f$i.env decrypts alone" "$ENV" decrypt --kek "$K" -o "single.$i" "enc/f$i.env"
  cmp -s "in/f$i" "single.$i" || fail "f$i round trip"
done
[ "$(stat -c %a enc/f1.env)" = 600 ] || fail "batch output mode $(stat -c %a enc/f1.env), wanted 600"

# --- decrypt a batch, with the KEK named (looked up once) ---
rm -f dec.log
ENVELOPE_DEBUG=file:$work/dec.log expect_rc 0 "decrypt a batch" "$ENV" decrypt --kek "$K" \
  --context tenant=acme -o dec enc/*.env
grep -q "envelope decrypt: $((n + 1)) written, 0 failed" last.err || fail "decrypt summary: $(cat last.err)"
[ "$(calls C_Login dec.log)" -eq 1 ] || fail "decrypt batch: $(calls C_Login dec.log) C_Login, wanted 1"
[ "$(calls C_FindObjectsInit dec.log)" -eq 1 ] || fail "decrypt batch: $(calls C_FindObjectsInit dec.log) lookups"
for f in in/*; do cmp -s "$f" "dec/$(basename "$f")" || fail "batch round trip of $f"; done
# and from the messages' references (no --kek)
mkdir dec2
expect_rc 0 "decrypt a batch from references" "$ENV" decrypt -o dec2 enc/f1.env enc/f2.env
cmp -s in/f2 dec2/f2 || fail "reference batch round trip"

# --- one bad file: the others are written, the status says it failed ---
mkdir dec3
cp enc/f3.env bad.env
/usr/bin/python3 -c 'd = bytearray(open("bad.env", "rb").read()); d[-20] ^= 1; open("bad.env", "wb").write(d)'
expect_rc 2 "decrypt a batch with a tampered file" "$ENV" decrypt --kek "$K" -o dec3 enc/f1.env bad.env enc/f2.env
grep -q 'bad.env: message failed authentication.*ENVELOPE_ERR_AUTH' last.err || fail "tampered: $(cat last.err)"
grep -q 'envelope decrypt: 2 written, 1 failed' last.err || fail "tampered summary: $(cat last.err)"
[ "$(entries dec3)" = "f1 f2 " ] || fail "tampered batch left: $(entries dec3)"
# an output that exists is kept (as -o OUT), --force replaces it
echo theirs >dec3/f4
expect_rc 1 "existing output" "$ENV" decrypt --kek "$K" -o dec3 enc/f4.env enc/f5.env
[ "$(cat dec3/f4)" = theirs ] || fail "existing output replaced without --force"
cmp -s in/f5 dec3/f5 || fail "the file after an existing output was not written"
expect_rc 0 "existing output, --force" "$ENV" decrypt --kek "$K" --force -o dec3 enc/f4.env enc/f5.env
cmp -s in/f4 dec3/f4 || fail "--force batch"

# --- refused before anything is written ---
mkdir clash other dec4
cp in/f1 other/f1
expect_rc 1 "clashing output names" "$ENV" encrypt --kek "$K" -o clash in/f1 other/f1
grep -q 'would both be written to' last.err || fail "clash: $(cat last.err)"
[ -z "$(entries clash)" ] || fail "a clashing batch wrote $(entries clash)"
expect_rc 1 "decrypt of a name without .env" "$ENV" decrypt --kek "$K" -o dec4 enc/f1.env in/f2
[ -z "$(entries dec4)" ] || fail "a refused batch wrote $(entries dec4)"
expect_rc 1 "several inputs, no -o" "$ENV" encrypt --kek "$K" in/f1 in/f2
grep -q "Try 'envelope encrypt --help'" last.err || fail "no -o: $(cat last.err)"
expect_rc 1 "several inputs, -o a file" "$ENV" encrypt --kek "$K" -o in/f1 in/f2 in/f3
expect_rc 1 "stdin among several" "$ENV" encrypt --kek "$K" -o clash in/f1 -

# --- one input is the single form, unchanged ---
expect_rc 0 "single input to -o OUT" "$ENV" encrypt --kek "$K" -o one.env in/f1
expect_rc 0 "single input to stdout" "$ENV" decrypt --kek "$K" one.env
cmp -s in/f1 last.out || fail "single round trip"

if [ "$fails" -ne 0 ]; then echo "cli_batch: $fails failure(s)"; exit 1; fi
echo "cli_batch: all checks passed"
