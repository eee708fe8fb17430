#!/usr/bin/env bash
# cli_reencrypt.sh ENVELOPE_BIN PROVIDER_DIR
# `envelope reencrypt` with KEKs in a real SoftHSM2 token: a new DEK and
# message id under the new KEK (the old one can no longer decrypt), the
# context and frame size kept, in place with owner and mode kept or to -o
# OUT; a message that does not verify is reported and its file left as it
# was, with no temporary file; several files in one run with a summary.
set -euo pipefail
ENV=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envreenc.XXXXXX")
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
# field NAME FILE: one field of `envelope inspect --json`
field() {
  envelope_run_own "$ENV" inspect --json "$2" | /usr/bin/python3 -c \
    'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print(json.dumps(v, sort_keys=True))' "$1"
}
softhsm_keygen_aes kek-old 01
softhsm_keygen_aes kek-new 03
softhsm_keygen_rsa kek-rsa 02
OLD="pkcs11:token=$ENV_TOKEN;object=kek-old;type=secret-key"
NEW="pkcs11:token=$ENV_TOKEN;object=kek-new;type=secret-key"
RSA="pkcs11:token=$ENV_TOKEN;object=kek-rsa;type=private"

head -c 70000 /dev/urandom >pt
expect_rc 0 "encrypt under the old KEK" "$ENV" encrypt --kek "$OLD" --context tenant=acme \
  --context app=ledger --frame-size 8K -o ct pt
cp ct ct.orig
chmod 640 ct

# --- in place ---
expect_rc 0 "reencrypt in place" "$ENV" reencrypt --from "$OLD" --kek "$NEW" ct
grep -q '^reencrypted: ct$' last.out || fail "output: $(cat last.out)"
grep -q '1 reencrypted, 0 failed' last.err || fail "summary: $(cat last.err)"
[ "$(stat -c %a ct)" = 640 ] || fail "mode not kept: $(stat -c %a ct)"
[ "$(field message_id ct)" != "$(field message_id ct.orig)" ] || fail "message id not new"
[ "$(field context ct)" = "$(field context ct.orig)" ] || fail "context not kept: $(field context ct)"
[ "$(field frame_size ct)" = 8192 ] || fail "frame size not kept: $(field frame_size ct)"
expect_rc 0 "new KEK decrypts" "$ENV" decrypt --kek "$NEW" --context tenant=acme -o back ct
cmp -s pt back || fail "round trip after reencrypt"
expect_rc 2 "old KEK cannot" "$ENV" decrypt --kek "$OLD" ct
grep -q ENVELOPE_ERR_NO_KEK last.err || fail "old KEK: $(cat last.err)"

# --- to -o OUT, decrypting from the message's references, new frame size ---
cp ct.orig keep
expect_rc 0 "reencrypt to -o" "$ENV" reencrypt --kek "$RSA" --frame-size 4K -o out.env keep
cmp -s keep ct.orig || fail "-o changed the input"
[ "$(field frame_size out.env)" = 4096 ] || fail "--frame-size: $(field frame_size out.env)"
expect_rc 0 "RSA decrypts -o output" "$ENV" decrypt --kek "$RSA" -o back.rsa out.env
cmp -s pt back.rsa || fail "-o round trip"
expect_rc 1 "-o exists" "$ENV" reencrypt --kek "$RSA" -o out.env keep
expect_rc 0 "-o exists, --force" "$ENV" reencrypt --kek "$RSA" -o out.env --force keep

# --- empty message ---
: >empty
expect_rc 0 "encrypt empty" "$ENV" encrypt --kek "$OLD" -o empty.env empty
expect_rc 0 "reencrypt empty" "$ENV" reencrypt --kek "$NEW" empty.env
expect_rc 0 "decrypt reencrypted empty" "$ENV" decrypt --kek "$NEW" -o empty.back empty.env
{ [ -f empty.back ] && [ ! -s empty.back ]; } || fail "empty round trip"

# --- a message that does not verify is left alone; the others go on ---
mkdir batch
for f in a b c; do cp ct.orig "batch/$f"; done
/usr/bin/python3 -c 'import sys; d = bytearray(open("ct.orig", "rb").read()); d[-40] ^= 1; open("batch/b", "wb").write(d)'
cp batch/b b.tampered
expect_rc 2 "reencrypt with a tampered file" "$ENV" reencrypt --from "$OLD" --kek "$NEW" batch/a batch/b batch/c
grep -q 'batch/b: message failed authentication.*ENVELOPE_ERR_AUTH' last.err || fail "tampered not reported: $(cat last.err)"
grep -q '2 reencrypted, 1 failed' last.err || fail "batch summary: $(cat last.err)"
cmp -s batch/b b.tampered || fail "tampered file was changed"
if find batch -name '.*' | grep -q .; then fail "temporary files left: $(find batch -name '.*')"; fi
for f in a c; do
  expect_rc 0 "batch/$f with the new KEK" "$ENV" decrypt --kek "$NEW" "batch/$f"
  cmp -s pt last.out || fail "batch/$f round trip"
done
# the wrong --from: nothing opens, nothing changes
cp ct.orig wrongfrom
expect_rc 2 "wrong --from" "$ENV" reencrypt --from "$NEW" --kek "$RSA" wrongfrom
cmp -s wrongfrom ct.orig || fail "wrong --from changed the file"

# a symbolic link is not replaced (its target would stay old)
ln -s wrongfrom linked
expect_rc 1 "a symbolic link" "$ENV" reencrypt --from "$OLD" --kek "$NEW" linked
grep -q 'is a symbolic link' last.err || fail "symlink: $(cat last.err)"
{ [ -L linked ] && cmp -s wrongfrom ct.orig; } || fail "symlink or its target changed"

# --- usage ---
expect_rc 1 "no --kek" "$ENV" reencrypt ct
grep -q "Try 'envelope reencrypt --help'" last.err || fail "usage hint: $(cat last.err)"
expect_rc 1 "-o with two files" "$ENV" reencrypt --kek "$NEW" -o x batch/a batch/c
expect_rc 1 "stdin" "$ENV" reencrypt --kek "$NEW" -
expect_rc 0 "--help" "$ENV" reencrypt --help

if [ "$fails" -ne 0 ]; then echo "cli_reencrypt: $fails failure(s)"; exit 1; fi
echo "cli_reencrypt: all checks passed"
