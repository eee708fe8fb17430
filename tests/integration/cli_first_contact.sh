#!/usr/bin/env bash
# cli_first_contact.sh ENVELOPE_BIN PROVIDER_DIR
# What a new user meets: every row of the exit-code table of envelope(1)
# with a real cause (a real SoftHSM2 token, real openssl.cnf mistakes, a TPM
# TCTI with nothing listening), each message saying what is wrong, and the
# usage rules (one line and a pointer to --help, --version, no ciphertext
# on a terminal, kek list --json). The token lives in a temp folder removed
# on every exit path.
set -euo pipefail
ENV=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envfirst.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
softhsm_setup "$work" "$PROVDIR" prod
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect WANT_RC "description" "text stderr must contain" CMD...
expect() {
  local want=$1 desc=$2 text=$3 rc=0
  shift 3
  envelope_run_own "$@" >"$work/last.out" 2>"$work/last.err" </dev/null || rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$desc: exit $rc, wanted $want"
    sed 's/^/  | /' "$work/last.err" >&2
  elif [ -n "$text" ] && ! grep -qF -- "$text" "$work/last.err"; then
    fail "$desc: stderr lacks \"$text\""
    sed 's/^/  | /' "$work/last.err" >&2
  fi
  if grep -qF -- "$ENV_PIN" "$work/last.err" "$work/last.out"; then fail "$desc: the PIN was shown"; fi
}
# conf_with SED_EXPR: a copy of the working openssl.cnf changed by SED_EXPR
conf_with() {
  sed "$1" "$OPENSSL_CONF" >"$work/variant.cnf"
  echo "$work/variant.cnf"
}
softhsm_keygen_aes kek-aes 01
AES="pkcs11:token=prod;object=kek-aes"
printf 'first contact\n' >pt
expect 0 "encrypt" "" "$ENV" encrypt --kek "$AES" -o ct pt
expect 0 "keyless decrypt" "" "$ENV" decrypt -o back ct
cmp -s pt back || fail "round trip"

# ---- 1: usage and configuration ------------------------------------------
expect 1 "no OPENSSL_CONF" "the envelope provider is not loaded" \
  env -u OPENSSL_CONF "$ENV" decrypt ct
expect 1 "no OPENSSL_CONF, encrypt" "the envelope provider is not loaded" \
  env -u OPENSSL_CONF "$ENV" encrypt --kek "$AES" -o ct2 pt
[ ! -e ct2 ] || fail "output left by a failed encrypt"
bad=$(conf_with 's/^pkcs11-module =/pkcs11-modul =/')
expect 1 "misspelt setting" 'unknown setting "pkcs11-modul"' "$ENV" --config "$bad" decrypt ct
grep -qF 'did you mean "pkcs11-module"?' last.err || fail "no 'did you mean': $(cat last.err)"
grep -qF 'warning: the envelope provider' last.err || fail "no warning at start: $(cat last.err)"
# the reason is in the provider for every program: openssl itself shows it inactive
OPENSSL_CONF=$bad openssl list -providers 2>/dev/null | grep -A3 '^  envelope' | grep -q 'status: inactive' ||
  fail "openssl list -providers does not show the refused section as inactive"
bad=$(conf_with 's/^activate = 1$/rsa-pkcs1-v15 = maybe\nactivate = 1/')
expect 1 "bad value" 'rsa-pkcs1-v15 = maybe: expected yes or no' "$ENV" --config "$bad" decrypt ct
bad=$(conf_with 's|^pkcs11-module = .*|pkcs11-module = /usr/lib/softhsm/libsofthsm-nope.so|')
expect 1 "missing PKCS#11 module" 'cannot load PKCS#11 module /usr/lib/softhsm/libsofthsm-nope.so' \
  "$ENV" --config "$bad" decrypt ct
bad=$(conf_with 's|^module = .*|module = /nonexistent/envelope.so|')
expect 1 "provider module path" 'cannot read module /nonexistent/envelope.so' \
  "$ENV" --config "$bad" decrypt ct
expect 1 "token= typo" 'no token matching "prd"' "$ENV" encrypt --kek "pkcs11:token=prd;object=kek-aes" -o ct2 pt
grep -q 'check the URI\|list tokens' last.err || fail "token typo gives no next step"
expect 1 "duplicate label" 'already exists on token "prod"' "$ENV" kek create --type aes-256 "$AES"
expect 1 "kek create without token=" 'must name the token and the object' \
  "$ENV" kek create --type aes-256 'pkcs11:object=x'
mv "$ENV_PIN_FILE" "$ENV_PIN_FILE.away"
expect 1 "PIN file missing" "cannot open the PIN file $ENV_PIN_FILE" "$ENV" decrypt ct
if grep -q 'check the URI' last.err; then fail "PIN error hints at the URI"; fi
mv "$ENV_PIN_FILE.away" "$ENV_PIN_FILE"
chmod 644 "$ENV_PIN_FILE"
expect 1 "PIN file readable by others" "chmod 600 $ENV_PIN_FILE" "$ENV" decrypt ct
chmod 600 "$ENV_PIN_FILE"
softhsm_keygen_aes gone 09
expect 0 "encrypt under a key about to be deleted" "" "$ENV" encrypt --kek "pkcs11:token=prod;object=gone" -o gone.env pt
pkcs11-tool --module "$ENV_P11_MODULE" --token-label prod --login --pin "$ENV_PIN" \
  --delete-object --type secrkey --label gone >/dev/null 2>&1
expect 1 "deleted key" 'no key "gone" on token "prod"' "$ENV" encrypt --kek "pkcs11:token=prod;object=gone" -o ct2 pt

# ---- 2: authentication or format -----------------------------------------
cp ct bad.env
size=$(stat -c %s bad.env)
printf '\x01' | env -u LD_PRELOAD dd of=bad.env bs=1 seek=$((size - 20)) conv=notrunc 2>/dev/null
expect 2 "tampered message" "failed authentication" "$ENV" decrypt -o out bad.env
[ ! -e out ] || fail "output left by a failed decrypt"
expect 2 "not a message" "" "$ENV" decrypt pt

# ---- 3: backend unavailable (a TCTI with nothing listening) ----------------
port=$(env -u LD_PRELOAD /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bad=$(conf_with "s|^activate = 1\$|tpm2-tcti = swtpm:host=127.0.0.1,port=$port\nactivate = 1|")
expect 3 "TPM unreachable" "backend unavailable" "$ENV" --config "$bad" encrypt --kek tpm2:handle=0x81000101 -o ct2 pt
[ ! -e ct2 ] || fail "output left when the backend was down"

# ---- 4: policy (a wrong PIN: the token refused) --------------------------
(umask 077; printf 'not-the-pin' >wrong.pin)
bad=$(conf_with "s|^pkcs11-pin-source = .*|pkcs11-pin-source = file:$work/wrong.pin|")
expect 4 "wrong PIN" "PIN incorrect" "$ENV" --config "$bad" decrypt ct
if grep -q 'check the URI' last.err; then fail "wrong PIN hints at the URI"; fi

# ---- 5: I/O ---------------------------------------------------------------
expect 5 "input is a folder" "Is a directory" "$ENV" encrypt --kek "$AES" -o ct2 "$work"
# 6: kek check found a weakness (pkcs11-tool's defaults: not sensitive, extractable)
pkcs11-tool --module "$ENV_P11_MODULE" --token-label prod --login --pin "$ENV_PIN" \
  --keygen --key-type AES:32 --label loose --id 77 >/dev/null 2>&1
expect 6 "kek check of a pkcs11-tool key" "1 KEK checked, 1 with findings" \
  "$ENV" kek check "pkcs11:token=prod;object=loose"
pkcs11-tool --module "$ENV_P11_MODULE" --token-label prod --login --pin "$ENV_PIN" \
  --delete-object --type secrkey --label loose >/dev/null 2>&1

# ---- a token key's public half records the private half ---------------------
softhsm_keygen_rsa kek-rsa 02
expect 0 "encrypt to type=public" "" "$ENV" encrypt --kek "pkcs11:token=prod;object=kek-rsa;type=public" -o pub.env pt
expect 0 "inspect" "" "$ENV" inspect pub.env
grep -q 'type=private' last.out || fail "reference is not the private half: $(cat last.out)"
if grep -q 'type=public' last.out; then fail "message records type=public"; fi
expect 0 "keyless decrypt of a message made with the public half" "" "$ENV" decrypt -o pub.back pub.env
cmp -s pt pub.back || fail "type=public round trip"

# ---- usage: one line, then where help is -----------------------------------
expect 1 "unknown option" "Try 'envelope encrypt --help'." "$ENV" encrypt --bogus
[ "$(wc -l <last.err)" -eq 2 ] || fail "usage error is not two lines: $(cat last.err)"
grep -q "^envelope encrypt: unrecognized option '--bogus'" last.err || fail "option not named: $(cat last.err)"
expect 1 "no --kek" "encrypt needs at least one --kek" "$ENV" encrypt pt
[ "$(wc -l <last.err)" -eq 2 ] || fail "usage error is not two lines: $(cat last.err)"
expect 1 "no command" "Try 'envelope --help'." "$ENV"
expect 1 "unknown command" 'unknown command "encrpyt"' "$ENV" encrpyt
expect 1 "kek without verb" "Try 'envelope kek --help'." "$ENV" kek
expect 0 "--version" "" "$ENV" --version
grep -Eq '^envelope [0-9]+\.[0-9]+\.[0-9]+ \(message format v1\)$' last.out || fail "--version: $(cat last.out)"
expect 0 "-V" "" "$ENV" -V
expect 0 "--help" "" "$ENV" --help
for word in tpm2: file: pkcs11: --force --version; do
  grep -qF -- "$word" last.out || fail "top-level usage does not mention $word"
done

# ---- no ciphertext on a terminal (script(1) gives the command a pty) -------
printf '%s' "$ENV encrypt --kek '$AES' pt" >tty.sh
rc=0
script -qec "bash $work/tty.sh" /dev/null >tty.out 2>&1 </dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "encrypt to a terminal: exit $rc"
grep -q 'refusing to write ciphertext to a terminal' tty.out || fail "tty refusal: $(cat tty.out)"
if grep -q 'ENVL' tty.out; then fail "ciphertext reached the terminal"; fi
printf '%s' "$ENV encrypt --kek '$AES' -o - pt" >tty.sh
rc=0
script -qec "bash $work/tty.sh" /dev/null >tty.out 2>&1 </dev/null || rc=$?
[ "$rc" -eq 0 ] || fail "encrypt -o - to a terminal: exit $rc"

# ---- kek list --json ------------------------------------------------------------
expect 0 "kek list --json" "" "$ENV" kek list --json 'pkcs11:token=prod'
/usr/bin/python3 - "$work/last.out" <<'PY' || fail "kek list --json"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
labels = {r["reference"].split("object=")[1].split(";")[0] for r in rows}
assert {"kek-aes", "kek-rsa"} <= labels, labels
for r in rows:
    assert set(r) >= {"reference", "type", "bits", "key_id"}, r
    assert r["reference"].startswith("pkcs11:token=prod"), r
PY
expect 1 "--json on create" "--json applies to kek list and kek check" "$ENV" kek create --json --type aes-256 "$AES"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "cli first contact: all checks passed"
