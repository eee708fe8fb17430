#!/usr/bin/env bash
# cli_rewrap.sh ENVELOPE_BIN PROVIDER_DIR
# `envelope rewrap` with KEKs in a real SoftHSM2 token through envelope.so:
# the authenticated header and the body are unchanged byte for byte; the
# new KEK decrypts, the old one too unless --remove-old; a rerun skips what
# is done; owner and mode are kept; --dry-run changes nothing (checksums);
# a tampered header is reported and its file left as it was; a run killed
# with SIGKILL in the middle of a folder, run again, finishes every file,
# all readable, no temporary file left.
set -euo pipefail
ENV=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envrewrap.XXXXXX")
bgpid=
cleanup() {
  if [ -n "$bgpid" ]; then kill -9 "$bgpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
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
edk() { /usr/bin/python3 "$here/edk_tool.py" "$@"; }
sums() { (cd "$1" && sha256sum -- *) ; }
softhsm_keygen_aes kek-old 01
softhsm_keygen_aes kek-new 03
softhsm_keygen_rsa kek-rsa 02
OLD="pkcs11:token=$ENV_TOKEN;object=kek-old;type=secret-key"
NEW="pkcs11:token=$ENV_TOKEN;object=kek-new;type=secret-key"
RSA="pkcs11:token=$ENV_TOKEN;object=kek-rsa;type=private"

head -c 50000 /dev/urandom >pt
expect_rc 0 "encrypt under the old KEK" "$ENV" encrypt --kek "$OLD" --context tenant=acme \
  --frame-size 4K -o ct pt
cp ct ct.orig
chmod 640 ct

# --- one file: add the new KEK, keep the old one ---
expect_rc 0 "rewrap to the new KEK" "$ENV" rewrap --from "$OLD" --to "$NEW" ct
grep -q '^rewrapped: ct (+1 EDK, -0 EDK)$' last.out || fail "rewrap output: $(cat last.out)"
grep -q '1 rewrapped, 0 already rewrapped, 0 skipped, 0 failed' last.err || fail "summary: $(cat last.err)"
edk same-data ct.orig ct || fail "rewrap changed the authenticated header or the body"
[ "$(edk refs ct | wc -l)" -eq 2 ] || fail "rewrapped message should have 2 EDKs: $(edk refs ct)"
[ "$(stat -c %a ct)" = 640 ] || fail "mode not kept: $(stat -c %a ct)"
expect_rc 0 "new KEK decrypts" "$ENV" decrypt --kek "$NEW" -o back.new ct
cmp -s pt back.new || fail "new KEK round trip"
expect_rc 0 "old KEK still decrypts" "$ENV" decrypt --kek "$OLD" -o back.old ct
cmp -s pt back.old || fail "old KEK round trip"
cp ct ct.once
expect_rc 0 "rerun" "$ENV" rewrap --from "$OLD" --to "$NEW" ct
grep -q '^already rewrapped: ct$' last.out || fail "rerun not recognised: $(cat last.out)"
cmp -s ct ct.once || fail "rerun changed a rewrapped file"

# --- --remove-old: the old KEK can no longer decrypt, the new ones can ---
cp ct.orig ct2
expect_rc 0 "rewrap to RSA and new, removing old" "$ENV" rewrap --from "$OLD" --to "$RSA" \
  --to "$NEW" --remove-old ct2
grep -q '^rewrapped: ct2 (+2 EDK, -1 EDK)$' last.out || fail "remove-old output: $(cat last.out)"
edk same-data ct.orig ct2 || fail "remove-old changed the authenticated header or the body"
if edk refs ct2 | grep -q kek-old; then fail "old EDK still there: $(edk refs ct2)"; fi
expect_rc 2 "old KEK refused after --remove-old" "$ENV" decrypt --kek "$OLD" -o no.old ct2
grep -q ENVELOPE_ERR_NO_KEK last.err || fail "old KEK: $(cat last.err)"
[ ! -e no.old ] || fail "old KEK left output"
expect_rc 0 "RSA decrypts after --remove-old" "$ENV" decrypt --kek "$RSA" -o back.rsa ct2
cmp -s pt back.rsa || fail "RSA round trip"
expect_rc 0 "references decrypt after --remove-old" "$ENV" decrypt --context tenant=acme -o back.ref ct2
cmp -s pt back.ref || fail "reference round trip"
expect_rc 0 "remove-old rerun" "$ENV" rewrap --from "$OLD" --to "$RSA" --to "$NEW" --remove-old ct2
grep -q '^already rewrapped: ct2$' last.out || fail "remove-old rerun: $(cat last.out)"
# only the new KEK can open it now: --from must name a KEK that can
expect_rc 2 "rewrap with a --from that is gone" "$ENV" rewrap --from "$OLD" --to "$OLD" ct2
grep -q ENVELOPE_ERR_NO_KEK last.err || fail "from gone: $(cat last.err)"

# --- owner and mode are kept (as root: a file of another user) ---
if [ "$(id -u)" -eq 0 ] && getent passwd nobody >/dev/null; then
  cp ct.orig owned && chown nobody:"$(id -gn nobody)" owned && chmod 604 owned
  want=$(stat -c '%U:%G %a' owned)
  expect_rc 0 "rewrap a file of another user" "$ENV" rewrap --from "$OLD" --to "$NEW" owned
  [ "$(stat -c '%U:%G %a' owned)" = "$want" ] || fail "owner/mode not kept: $(stat -c '%U:%G %a' owned), wanted $want"
fi

# --- a tampered header is reported and left alone; the others go on ---
mkdir batch
for i in 1 2 3; do cp ct.orig "batch/m$i"; done
/usr/bin/python3 -c 'import sys; d = bytearray(open("ct.orig", "rb").read()); d[20] ^= 1; open("batch/m2", "wb").write(d)'
edk corrupt ct.orig 0 batch/m4
echo "not a message" >batch/notes.txt
cp batch/m2 m2.tampered
cp batch/m4 m4.tampered
sums batch >sums.before
# --dry-run first: it says what would change and changes nothing
expect_rc 2 "dry run over a folder with a tampered file" "$ENV" rewrap --dry-run --from "$OLD" --to "$NEW" batch
sums batch | cmp -s - sums.before || fail "--dry-run changed files"
[ "$(grep -c '^would rewrap: batch/m[13] (+1 EDK, -0 EDK)$' last.out)" -eq 2 ] || fail "dry-run listing: $(cat last.out)"
grep -q '2 would be rewrapped, 0 already rewrapped, 1 skipped, 2 failed' last.err || fail "dry-run summary: $(cat last.err)"
expect_rc 2 "rewrap a folder with tampered files" "$ENV" rewrap --from "$OLD" --to "$NEW" batch
grep -q 'batch/m2: message failed authentication.*ENVELOPE_ERR_AUTH' last.err || fail "tampered m2 not reported: $(cat last.err)"
grep -q 'batch/m4: message failed authentication.*ENVELOPE_ERR_AUTH' last.err || fail "tampered m4 not reported: $(cat last.err)"
grep -q '2 rewrapped, 0 already rewrapped, 1 skipped, 2 failed' last.err || fail "tampered summary: $(cat last.err)"
cmp -s batch/m2 m2.tampered || fail "tampered m2 was changed"
cmp -s batch/m4 m4.tampered || fail "tampered m4 was changed"
for i in 1 3; do
  expect_rc 0 "batch/m$i with the new KEK" "$ENV" decrypt --kek "$NEW" "batch/m$i"
  cmp -s pt last.out || fail "batch/m$i round trip"
done
expect_rc 2 "a named file that is not a message" "$ENV" rewrap --from "$OLD" --to "$NEW" batch/notes.txt
grep -q ENVELOPE_ERR_BAD_MAGIC last.err || fail "not a message: $(cat last.err)"
ln -s m1 batch/link
expect_rc 1 "a named symbolic link" "$ENV" rewrap --from "$OLD" --to "$NEW" batch/link
[ -L batch/link ] || fail "the symbolic link was replaced"

# --- usage ---
expect_rc 1 "no --to" "$ENV" rewrap --from "$OLD" ct
grep -q "Try 'envelope rewrap --help'" last.err || fail "usage hint: $(cat last.err)"
expect_rc 1 "no file" "$ENV" rewrap --from "$OLD" --to "$NEW"
expect_rc 0 "--help" "$ENV" rewrap --help
grep -q -- '--remove-old' last.out || fail "help: $(cat last.out)"

# --- SIGKILL in the middle of a folder, then the rerun finishes it ---
n=300
mkdir many orig
for i in $(seq -w 1 "$n"); do cp ct.orig "many/f$i"; done
cp many/* orig/
# a simple command, not envelope_run_own: $! must be the tool itself
ASAN_OPTIONS=${ENVELOPE_OWN_ASAN_OPTIONS:-${ASAN_OPTIONS:-}} \
  "$ENV" rewrap --from "$OLD" --to "$NEW" --remove-old many >kill.out 2>kill.err &
bgpid=$!
for _ in $(seq 1 600); do
  [ "$(grep -c '^rewrapped:' kill.out || true)" -ge 3 ] && break
  kill -0 "$bgpid" 2>/dev/null || break
  sleep 0.05
done
kill -9 "$bgpid" 2>/dev/null || fail "the rewrap ended before it could be killed"
wait "$bgpid" 2>/dev/null || true
bgpid=
done_before=$(grep -c '^rewrapped:' kill.out || true)
{ [ "$done_before" -ge 3 ] && [ "$done_before" -lt "$n" ]; } || fail "killed run did $done_before of $n files"
echo "cli_rewrap: SIGKILL after $done_before of $n files"
if find many -name '.*' | grep -q .; then fail "temporary files after SIGKILL: $(find many -name '.*')"; fi
expect_rc 0 "rerun after SIGKILL" "$ENV" rewrap --from "$OLD" --to "$NEW" --remove-old many
already=$(grep -c '^already rewrapped:' last.out || true)
redone=$(grep -c '^rewrapped:' last.out || true)
{ [ "$already" -ge "$done_before" ] && [ $((already + redone)) -eq "$n" ]; } ||
  fail "rerun: $already already, $redone rewrapped, killed run had done $done_before"
if find many -name '.*' | grep -q .; then fail "temporary files after the rerun"; fi
bad=0
for f in orig/*; do
  b=$(basename "$f")
  edk same-data "$f" "many/$b" || bad=$((bad + 1))
  if edk refs "many/$b" | grep -q kek-old; then bad=$((bad + 1)); fi
done
[ "$bad" -eq 0 ] || fail "$bad files not rewrapped as asked (or their data changed)"
for b in f001 f150 "f$n"; do
  expect_rc 0 "many/$b with the new KEK" "$ENV" decrypt --kek "$NEW" "many/$b"
  cmp -s pt last.out || fail "many/$b round trip"
done
expect_rc 2 "old KEK after the rerun" "$ENV" decrypt --kek "$OLD" many/f002
# what a kill between link and rename would leave is never taken for a message
cp ct.orig many/.f001.0123456789abcdef
expect_rc 0 "a leftover temporary name" "$ENV" rewrap --from "$OLD" --to "$NEW" --remove-old many
grep -q 'f001.0123456789abcdef" is a temporary file left by an interrupted run' last.err ||
  fail "leftover not reported: $(cat last.err)"
cmp -s ct.orig many/.f001.0123456789abcdef || fail "a leftover temporary file was rewrapped"

if [ "$fails" -ne 0 ]; then echo "cli_rewrap: $fails failure(s)"; exit 1; fi
echo "cli_rewrap: all checks passed"
