#!/usr/bin/env bash
# cli_basic.sh ENVELOPE_BIN REFERENCE_DECODER
# The envelope CLI end to end with software RSA KEKs from OpenSSL's file:
# store: round trips, exit codes, the temp-file-and-rename output, refusal
# to overwrite, --config, inspect --json, tampering through the CLI, and
# interop with the independent Python decoder. Everything lives in a temp
# folder removed on every exit path.
set -euo pipefail
ENV=$1
REF=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/envcli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect_rc() { # expect_rc WANT DESC cmd...
  local want=$1 desc=$2 rc=0; shift 2
  "$@" >"$work/last.out" 2>"$work/last.err" || rc=$?
  [ "$rc" -eq "$want" ] || { fail "$desc: exit $rc, wanted $want"; sed 's/^/  | /' "$work/last.err" >&2; }
}

# An empty config: no provider from the environment interferes.
: >empty.cnf
export OPENSSL_CONF=$work/empty.cnf
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out k1.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out k2.pem 2>/dev/null
openssl pkey -in k1.pem -pubout -out k1.pub
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem 2>/dev/null
K1=file:$work/k1.pem K2=file:$work/k2.pem P1=file:$work/k1.pub

# --- round trips at the listed sizes (frame 4 KiB), with and without context
F=4096
for n in 0 1 $((F - 1)) $F $((F + 1)) $((10 * F)); do
  head -c "$n" /dev/urandom >"pt.$n"
  expect_rc 0 "encrypt $n" "$ENV" encrypt --kek "$P1" --frame-size 4K -o "ct.$n" "pt.$n"
  expect_rc 0 "decrypt $n" "$ENV" decrypt --kek "$K1" -o "back.$n" "ct.$n"
  cmp -s "pt.$n" "back.$n" || fail "round trip $n differs"
  expect_rc 0 "encrypt ctx $n" "$ENV" encrypt --kek "$K1" --kek "$K2" --context tenant=acme \
    --context app=bill --frame-size "$F" -o "ctxct.$n" "pt.$n"
  expect_rc 0 "decrypt ctx with k2 $n" "$ENV" decrypt --kek "$K2" --context tenant=acme -o "ctxback.$n" "ctxct.$n"
  cmp -s "pt.$n" "ctxback.$n" || fail "context round trip $n differs"
  # the independent decoder reads what the CLI wrote
  /usr/bin/python3 "$REF" decrypt k1.pem "ctxct.$n" "refback.$n" || fail "reference decoder on $n"
  cmp -s "pt.$n" "refback.$n" || fail "reference decoder plaintext $n differs"
done
frames=$("$ENV" inspect --json ct.$((10 * F)) | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["frames"])')
[ "$frames" = 10 ] || fail "10-frame message inspected as $frames frames"

# --- stdin/stdout pipe
head -c 300000 /dev/urandom >pt.pipe
# shellcheck disable=SC2094  # pt.pipe is only read: stdin of the first command, cmp's reference
"$ENV" encrypt --kek "$K1" <pt.pipe | "$ENV" decrypt --kek "$K1" | cmp -s - pt.pipe || fail "pipe round trip"

# --- inspect --json is stable: exact keys and types
"$ENV" inspect --json ctxct.1 >insp.json
/usr/bin/python3 - "$work/insp.json" "$work/k1.pem" <<'PY' || fail "inspect --json schema"
import json, sys
j = json.load(open(sys.argv[1]))
assert list(j) == ["format", "version", "suite", "suite_name", "message_id", "frame_size",
                   "header_length", "context", "edks", "frames", "plaintext_length", "complete", "kek_policy"], list(j)
assert j["format"] == "envelope" and j["version"] == 1 and j["suite"] == 1
assert len(j["message_id"]) == 64 and j["frame_size"] == 4096
assert j["context"] == {"app": "bill", "tenant": "acme"}
assert [e["wrap_kind"] for e in j["edks"]] == ["rsa-oaep-sha256"] * 2
assert j["edks"][0]["kek"] == "file:" + sys.argv[2] and len(j["edks"][0]["key_id"]) == 64
assert list(j["edks"][0]) == ["wrap_kind", "wrap_kind_id", "kek", "key_id", "wrapped_length"]
assert j["frames"] == 1 and j["plaintext_length"] == 1 and j["complete"] is True
PY
expect_rc 0 "inspect text" "$ENV" inspect ctxct.1
grep -q "tenant=acme" last.out || fail "inspect text shows no context"

# --- inspect never sends a message's controls to the terminal raw: C0, C1,
# DEL and the Unicode bidi controls (LRM, RLM, ALM, U+202A..U+202E,
# U+2066..U+2069) in context keys, values and KEK references are escaped,
# a literal backslash is doubled (so an escape reads back to one original),
# and --json keeps the exact strings. (References are printable ASCII by
# the format, docs/FORMAT.md; one with a backslash is shown doubled.)
bidi_cps=(200e 200f 061c 202a 202b 202c 202d 202e 2066 2067 2068 2069)
ctx_args=()
for cp in "${bidi_cps[@]}"; do
  ch=$(/usr/bin/python3 -c "import sys; sys.stdout.write(chr(0x$cp))")
  ctx_args+=(--context "k$cp$ch=v${ch}x")
done
ctx_args+=(--context "esc=a$(printf '\033')[31m" --context 'lit=a\x1b' --context "c1=$(printf '\302\233')2J")
refdir="$work/ref\\u202edir"
mkdir -p "$refdir" && cp k1.pem "$refdir/k.pem"
expect_rc 0 "encrypt with bidi context" "$ENV" encrypt --kek "file:$refdir/k.pem" "${ctx_args[@]}" -o bidi.ct pt.1
expect_rc 0 "inspect bidi text" "$ENV" inspect bidi.ct
cp last.out bidi.txt
expect_rc 0 "inspect bidi json" "$ENV" inspect --json bidi.ct
cp last.out bidi.json
/usr/bin/python3 - "$work/bidi.txt" "$work/bidi.json" "$refdir/k.pem" "${bidi_cps[@]}" <<'PY' || fail "inspect escapes bidi/control characters"
import json, sys
txt = open(sys.argv[1], "rb").read().decode("utf-8")
raw_json = open(sys.argv[2], "rb").read().decode("utf-8")
ref = "file:" + sys.argv[3]
cps = [int(c, 16) for c in sys.argv[4:]]
bad = set(cps) | {0x1b, 0x9b}
for out, name in ((txt, "text"), (raw_json, "json")):
    for ch in out:
        assert ord(ch) not in bad and (ord(ch) >= 0x20 or ch == "\n"), \
            f"{name}: raw U+{ord(ch):04X} reached the terminal"
for cp in cps:
    c = chr(cp)
    assert f"  k{cp:04x}\\u{cp:04x}=v\\u{cp:04x}x\n" in txt, f"text: U+{cp:04X} not escaped as \\u{cp:04x}"
assert "  esc=a\\x1b[31m\n" in txt, "text: ESC"
assert "  lit=a\\\\x1b\n" in txt, "text: a literal backslash is not doubled"
assert "  c1=\\xc2\\x9b2J\n" in txt, "text: C1 CSI"
assert f"kek={ref.replace(chr(92), chr(92) * 2)} " in txt, "text: backslash in the KEK reference"
j = json.loads(raw_json)
want = {f"k{cp:04x}{chr(cp)}": f"v{chr(cp)}x" for cp in cps}
want.update({"esc": "a\x1b[31m", "lit": "a\\x1b", "c1": "\x9b2J"})
assert j["context"] == want, (j["context"], want)
assert j["edks"][0]["kek"] == ref, (j["edks"][0]["kek"], ref)
for cp in cps:
    assert f"\\u{cp:04x}" in raw_json, f"json: U+{cp:04X} not escaped"
PY

# --- exit codes
expect_rc 1 "no --kek" "$ENV" encrypt pt.1
expect_rc 1 "unknown command" "$ENV" frobnicate
expect_rc 1 "bad frame size" "$ENV" encrypt --kek "$K1" --frame-size 1000 pt.1
expect_rc 1 "bad context pair" "$ENV" encrypt --kek "$K1" --context novalue pt.1
expect_rc 1 "missing KEK file" "$ENV" encrypt --kek "file:$work/nope.pem" pt.1
expect_rc 1 "EC KEK unsupported" "$ENV" encrypt --kek "file:$work/ec.pem" pt.1
grep -q "KEK type not supported" last.err || fail "EC KEK error message"
expect_rc 2 "wrong KEK" "$ENV" decrypt --kek "$K2" ct.1
expect_rc 2 "context mismatch" "$ENV" decrypt --kek "$K1" --context tenant=other ctxct.1
expect_rc 2 "missing context pair" "$ENV" decrypt --kek "$K1" --context region=eu ctxct.1
expect_rc 2 "not a message" "$ENV" decrypt --kek "$K1" pt.$F
expect_rc 2 "inspect garbage" "$ENV" inspect pt.$F
expect_rc 4 "file: reference from message refused" "$ENV" decrypt ct.1
grep -q -- "--kek" last.err || fail "refusal does not say to use --kek"
for sub in encrypt decrypt inspect kek; do
  expect_rc 0 "$sub --help" "$ENV" $sub --help
  grep -q "usage: envelope $sub" last.out || fail "$sub --help text"
done
expect_rc 0 "--help" "$ENV" --help

# --- output file: refuse overwrite, --force, never partial, never the input
echo keep >exists
expect_rc 1 "refuse overwrite" "$ENV" encrypt --kek "$K1" -o exists pt.1
[ "$(cat exists)" = keep ] || fail "existing file changed without --force"
expect_rc 0 "--force" "$ENV" encrypt --kek "$K1" --force -o exists pt.1
expect_rc 0 "decrypt forced" "$ENV" decrypt --kek "$K1" -o back.forced exists
cmp -s back.forced pt.1 || fail "--force output wrong"
# a symlink at OUT, even a dangling one, is an existing name: never followed or replaced
ln -s no-such-target dangling
expect_rc 1 "dangling symlink as OUT" "$ENV" encrypt --kek "$K1" -o dangling pt.1
{ [ -L dangling ] && [ ! -e no-such-target ]; } || fail "dangling symlink replaced or followed"
expect_rc 1 "symlink as OUT with --force" "$ENV" encrypt --kek "$K1" --force -o dangling pt.1
[ -L dangling ] || fail "symlink replaced with --force"
expect_rc 1 "output is input" "$ENV" decrypt --kek "$K1" --force -o ct.1 ct.1
# a tampered last frame: decrypt fails and leaves no output and no temp file
cp ct.$((10 * F)) tampered
printf '\x00' | dd of=tampered bs=1 seek=$(($(stat -c %s tampered) - 3)) conv=notrunc 2>/dev/null
sum_before=$(sha256sum tampered)
expect_rc 2 "tampered last frame" "$ENV" decrypt --kek "$K1" -o out.tampered tampered
[ ! -e out.tampered ] || fail "failed decrypt left an output file"
if compgen -G '.out.tampered*' >/dev/null; then fail "failed decrypt left a temp file"; fi
[ "$(sha256sum tampered)" = "$sum_before" ] || fail "failed decrypt touched its input"
# truncated at a frame boundary: same
head -c $(($(stat -c %s ct.$((10 * F))) - 21 - F)) ct.$((10 * F)) >truncated
expect_rc 2 "truncated at a frame boundary" "$ENV" decrypt --kek "$K1" -o out.trunc truncated
[ ! -e out.trunc ] || fail "truncated decrypt left an output file"

# --- --config overrides OPENSSL_CONF
OPENSSL_CONF=$work/nonexistent.cnf expect_rc 1 "broken OPENSSL_CONF" "$ENV" encrypt --kek "$K1" pt.1
OPENSSL_CONF=$work/nonexistent.cnf expect_rc 0 "--config wins" "$ENV" --config "$work/empty.cnf" encrypt --kek "$K1" -o cfg.ct pt.1
expect_rc 0 "--config after subcommand" "$ENV" decrypt --config "$work/empty.cnf" --kek "$K1" -o cfg.back cfg.ct
cmp -s cfg.back pt.1 || fail "--config round trip"
cat >bad.cnf <<'CNF'
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
nosuch = nosuch_sect
[nosuch_sect]
module = /nonexistent/nosuch.so
activate = 1
CNF
expect_rc 1 "--config with a missing provider" "$ENV" --config "$work/bad.cnf" encrypt --kek "$K1" pt.1

# --- a KEK path that is not printable ASCII (UTF-8, a space) is recorded
# percent-encoded: the message stays readable (it was written unreadable)
mkdir -p "$work/clé dir"
cp k1.pem "$work/clé dir/k.pem"
expect_rc 0 "encrypt with a non-ASCII KEK path" "$ENV" encrypt --kek "file:$work/clé dir/k.pem" -o utf8.ct pt.1
expect_rc 0 "inspect it" "$ENV" inspect --json utf8.ct
grep -q 'cl%C3%A9%20dir/k.pem' last.out || fail "the reference is not percent-encoded: $(cat last.out)"
expect_rc 0 "decrypt it" "$ENV" decrypt --kek "file:$work/clé dir/k.pem" -o utf8.back utf8.ct
cmp -s utf8.back pt.1 || fail "non-ASCII KEK path round trip"

# --- no secret in any message: the PEM's private bits never appear
if grep -r -l -F "$(sed -n 2p k1.pem)" last.err >/dev/null 2>&1; then fail "key material in an error"; fi

if [ "$fails" -ne 0 ]; then echo "cli_basic: $fails failure(s)"; exit 1; fi
echo "cli_basic: all checks passed"
