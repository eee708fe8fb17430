#!/usr/bin/env bash
# cli_inspect_compact.sh ENVELOPE_BIN SUITE2_VECTORS
# `envelope inspect` of suite 2's compact forms (docs/FORMAT.md §10): a key
# block and a record from the committed vectors (made by libenvelope),
# from a file and from a pipe, text and --json (DEK id, context, EDKs,
# lengths checked against the bytes), and truncated or appended inputs
# refused with the format's error.
set -euo pipefail
ENV=$1
VEC=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/envinsp.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
export OPENSSL_CONF=/dev/null
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

/usr/bin/python3 - "$VEC" <<'PY'
import sys
for blk in open(sys.argv[1], encoding="utf-8").read().split("\n\n"):
    d = dict(l.split(": ", 1) for l in blk.splitlines() if ": " in l and not l.startswith("#"))
    if d.get("name") == "record-1k":
        open("kb.bin", "wb").write(bytes.fromhex(d["keyblock"]))
        open("rec.bin", "wb").write(bytes.fromhex(d["record"]))
PY
if [ ! -s kb.bin ] || [ ! -s rec.bin ]; then
  echo "FAIL: no record-1k vector in $VEC" >&2
  exit 1
fi

"$ENV" inspect --json kb.bin >kb.json || fail "inspect --json of a key block"
"$ENV" inspect --json <rec.bin >rec.json || fail "inspect --json of a record from a pipe"
/usr/bin/python3 - <<'PY' || fail "inspect --json fields"
import json
kb, rec = json.load(open("kb.json")), json.load(open("rec.json"))
kbb, recb = open("kb.bin", "rb").read(), open("rec.bin", "rb").read()
assert kb["format"] == "envelope-keyblock" and kb["suite"] == 2 and kb["version"] == 1, kb
assert kb["dek_id"] == kbb[8:24].hex(), kb
assert kb["length"] == len(kbb) and kb["context"] == {"tenant": "acme"}, kb
assert len(kb["edks"]) == 1 and kb["edks"][0]["wrap_kind"] == "rsa-oaep-sha256", kb
assert rec["format"] == "envelope-record" and rec["suite"] == 2, rec
assert rec["dek_id"] == kb["dek_id"] == recb[7:23].hex(), rec
assert rec["length"] == len(recb) and rec["plaintext_length"] == len(recb) - 63 == 1024, rec
PY
"$ENV" inspect kb.bin >kb.txt || fail "inspect of a key block"
grep -q "^DEK id: *$(od -An -tx1 -j8 -N16 kb.bin | tr -d ' \n')$" kb.txt || fail "key block text: DEK id"
grep -q "tenant=acme" kb.txt || fail "key block text: context"
"$ENV" inspect rec.bin >rec.txt || fail "inspect of a record"
grep -q "^plaintext: *1024 bytes" rec.txt || fail "record text: plaintext length"

expect_err() { # expect_err WANT DESC FILE
  local rc=0
  "$ENV" inspect "$3" >/dev/null 2>err.txt || rc=$?
  if [ "$rc" -eq 0 ] || ! grep -q "$1" err.txt; then
    fail "$2: exit $rc, $(cat err.txt)"
  fi
}
head -c 62 rec.bin >short.rec
expect_err ENVELOPE_ERR_TRUNCATED "record shorter than its overhead" short.rec
head -c $(($(stat -c %s kb.bin) - 1)) kb.bin >short.kb
expect_err ENVELOPE_ERR_TRUNCATED "truncated key block" short.kb
{ cat kb.bin; printf 'x'; } >long.kb
expect_err ENVELOPE_ERR_TRAILING_DATA "key block with a byte appended" long.kb
printf 'ENVR\002' | cat - <(tail -c +6 rec.bin) >v2.rec
expect_err ENVELOPE_ERR_VERSION "record of version 2" v2.rec

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "cli inspect of key blocks and records: ok"
