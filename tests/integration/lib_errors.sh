#!/usr/bin/env bash
# lib_errors.sh ERRORS_BIN PROVIDER_DIR - libenvelope's error model
# (docs/LIBRARY.md, "Errors"), one row per real cause: a SoftHSM2 token, an
# OpenSSL configuration, and RSA files made here. Each case checks the exact
# status, its category and the message: configuration faults (no
# OPENSSL_CONF, a PKCS#11 module that does not exist, a misspelt token, a
# public-only file: KEK used to decrypt) are ENVELOPE_ERR_CONFIG, a wrong
# PIN is ENVELOPE_ERR_POLICY and says so (SoftHSM2 has no PIN retry limit
# unless configured, so the wrong PIN wears nothing down), tampering stays
# ENVELOPE_ERR_AUTH.
set -euo pipefail
BIN=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/enverr.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
softhsm_setup "$work" "$PROVDIR"
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
softhsm_keygen_aes kek-aes 01
AES="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out kek.pem 2>/dev/null
openssl pkey -in kek.pem -pubout -out kek.pub.pem 2>/dev/null

# case NAME STEP STATUS CATEGORY TEXT [NOT_TEXT] -- CMD...: CMD prints
# "step=STEP status=STATUS category=CATEGORY" and a message containing TEXT
# (and not NOT_TEXT)
case_() {
  local name=$1 step=$2 status=$3 cat=$4 text=$5 not=${6:-}
  shift 6
  [ "$1" = "--" ] && shift
  if ! envelope_run_own "$@" >"out.$name" 2>"err.$name"; then
    fail "$name: the program failed: $(cat "err.$name")"
    return
  fi
  local got
  got=$(head -n1 "out.$name")
  [ "$got" = "step=$step status=$status category=$cat" ] ||
    fail "$name: \"$got\", wanted step=$step status=$status category=$cat ($(cat "out.$name"))"
  [ -z "$text" ] || grep -qF -- "$text" "out.$name" || fail "$name: no \"$text\" in: $(cat "out.$name")"
  [ -z "$not" ] || ! grep -qF -- "$not" "out.$name" || fail "$name: \"$not\" in: $(cat "out.$name")"
  ! grep "^message=" "out.$name" | grep -qw -- "$ENV_PIN" || fail "$name: the PIN is in the message"
  echo "$name: $(tr '\n' ' ' <"out.$name")"
}

case_ ok "done" ENVELOPE_OK 0 "" "" -- "$BIN" "$AES" -
# category numbers: envelope_category in include/envelope/envelope.h (AUTH 3, POLICY 5, CONFIG 7)
case_ no-openssl-conf kek-open ENVELOPE_ERR_CONFIG 7 "the envelope provider is not loaded" \
  "check the URI" -- env -u OPENSSL_CONF "$BIN" "$AES"
ENV_P11_MODULE=$work/no-such-module.so softhsm_write_conf
case_ module-missing kek-open ENVELOPE_ERR_CONFIG 7 "$work/no-such-module.so" "check the URI" -- "$BIN" "$AES"
softhsm_write_conf
case_ token-misspelt kek-open ENVELOPE_ERR_CONFIG 7 "no token matching \"envtset\"" "" -- \
  "$BIN" "pkcs11:token=envtset;object=kek-aes;type=secret-key"
(umask 077; printf '%s' 9999 >"$work/wrong-pin")
sed "s|file:$ENV_PIN_FILE|file:$work/wrong-pin|" "$OPENSSL_CONF" >wrong-pin.cnf
case_ wrong-pin kek-open ENVELOPE_ERR_POLICY 5 "the token refused the PIN" "check the URI" -- \
  env OPENSSL_CONF="$work/wrong-pin.cnf" "$BIN" "$AES"
case_ public-only-file open ENVELOPE_ERR_CONFIG 7 "only a public key" "tampered" -- \
  "$BIN" "file:$work/kek.pub.pem" "file:$work/kek.pub.pem"
case_ private-file "done" ENVELOPE_OK 0 "" "" -- "$BIN" "file:$work/kek.pub.pem" "file:$work/kek.pem"
# the other private key: a message not made for it is tampering or a wrong key, never configuration
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.pem 2>/dev/null
openssl pkey -in other.pem -pubout -out other.pub.pem 2>/dev/null
case_ other-key open ENVELOPE_ERR_NO_KEK 3 "" "" -- "$BIN" "file:$work/kek.pub.pem" "file:$work/other.pem"
[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "error model: all cases passed"
