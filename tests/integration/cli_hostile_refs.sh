#!/usr/bin/env bash
# cli_hostile_refs.sh ENVELOPE_BIN PROVIDER_DIR
# A message's KEK references are the attacker's: keyless `envelope decrypt`
# opens only references on the tokens openssl.cnf lists in pkcs11-tokens,
# never offers the configured PIN to another token (whose retry counter the
# attacker would wear down), and a reference to a token nobody configured
# cannot turn "authentication failed" (exit 2) into "backend unavailable"
# (exit 3). Real SoftHSM2 with two tokens: "envtest" (listed) and "foreign"
# (another PIN, not listed).
set -euo pipefail
ENV=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envhostile.XXXXXX")
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
edk() { /usr/bin/python3 "$here/edk_tool.py" "$@"; }

FOREIGN_PIN=9999
softhsm2-util --init-token --free --label foreign --so-pin 12345678 --pin "$FOREIGN_PIN" >/dev/null
(umask 077; printf '%s' "$FOREIGN_PIN" >foreign.pin)
softhsm_keygen_aes kek-aes 01
pkcs11-tool --module "$ENV_P11_MODULE" --token-label foreign --login --pin "$FOREIGN_PIN" \
  --keygen --key-type AES:32 --label foreign-kek --id 09 --sensitive >/dev/null 2>&1
OURS="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
THEIRS="pkcs11:token=foreign;object=foreign-kek;type=secret-key"

head -c 50000 /dev/urandom >pt
expect_rc 0 "encrypt with our KEK" "$ENV" encrypt --kek "$OURS" -o ours.env pt
# The donor: a real EDK for the foreign token's key (its owner's PIN, named
# in the URI by the caller who made it).
expect_rc 0 "encrypt with the foreign KEK" "$ENV" encrypt --kek "$THEIRS?pin-source=file:$work/foreign.pin" \
  -o theirs.env pt

# 1. A copied foreign EDK prepended to our message: it still decrypts, and
#    no PIN is offered to the foreign token, however often it is run.
edk graft ours.env theirs.env grafted.env
THEIRS_REF=$(edk refs theirs.env)
[ "$(edk refs grafted.env | sed -n 1p)" = "$THEIRS_REF" ] || fail "graft did not put the foreign EDK first"
for run in 1 2 3 4; do
  ENVELOPE_DEBUG="file:$work/debug.$run" expect_rc 0 "grafted message, run $run" \
    "$ENV" decrypt -o "back.$run" grafted.env
  cmp -s pt "back.$run" || fail "grafted message, run $run: wrong plaintext"
  if grep -q "C_Login -> CKR_PIN_INCORRECT" "debug.$run"; then
    fail "run $run: a PIN was offered to the foreign token"; grep C_Login "debug.$run" | sed 's/^/  | /' >&2
  fi
  grep -q "reference from a message was not opened" "debug.$run" \
    || { fail "run $run: the foreign reference was not skipped with a debug line"; sed 's/^/  | /' "debug.$run" >&2; }
done
# The foreign token still takes its own PIN: it never saw a wrong one.
pkcs11-tool --module "$ENV_P11_MODULE" --token-label foreign --login --pin "$FOREIGN_PIN" -O \
  >/dev/null 2>&1 || fail "the foreign token no longer accepts its PIN"

# 2. Only the foreign EDK: nothing is opened, and the refusal says why.
edk set-ref ours.env 0 "$THEIRS_REF" only-theirs.env
expect_rc 4 "a message naming only an unlisted token" "$ENV" decrypt only-theirs.env
grep -q "pkcs11-tokens" last.err || fail "the refusal does not name pkcs11-tokens"
# named by the caller, with its own PIN source, the same KEK works
expect_rc 0 "the foreign KEK named with --kek" "$ENV" decrypt \
  --kek "$THEIRS?pin-source=file:$work/foreign.pin" -o back.theirs theirs.env
cmp -s pt back.theirs || fail "foreign KEK round trip"
# named by the caller without a PIN source: refused up front, no login
# tried; no PIN source is configuration to fix (exit 1), not a refusal
ENVELOPE_DEBUG="file:$work/debug.named" expect_rc 1 "unlisted token named without a PIN" \
  "$ENV" decrypt --kek "$THEIRS" theirs.env
grep -q "only to the tokens in pkcs11-tokens" last.err || fail "PIN-missing message does not explain the binding"
if grep -q "C_Login" debug.named; then fail "C_Login sent to an unlisted token without a PIN"; fi

# 3. Tampering stays tampering: our EDK corrupted and a second EDK naming a
#    token that no one configured (absent) -> authentication failed, exit 2.
edk corrupt ours.env 0 bad.env
edk graft bad.env theirs.env bad2.env
edk set-ref bad2.env 0 "pkcs11:token=no-such-token;object=x;type=secret-key" tampered.env
expect_rc 2 "tampered EDK + reference to an absent, unconfigured token" "$ENV" decrypt -o out.t tampered.env
[ ! -e out.t ] || fail "output left by a failed decrypt"
edk set-ref bad2.env 0 "$THEIRS_REF" tampered2.env
expect_rc 2 "tampered EDK + reference to an unlisted token" "$ENV" decrypt tampered2.env
#    a listed, present token decorated so that it matches nothing is not an
#    outage either
for deco in "serial=0000bogus" "manufacturer=bogus" "model=bogus"; do
  edk set-ref bad2.env 0 "pkcs11:token=$ENV_TOKEN;$deco;object=x;type=secret-key" tampered.deco
  expect_rc 2 "tampered EDK + our token with $deco" "$ENV" decrypt tampered.deco
done
#    ... but a token the configuration lists that this process never saw is
#    a configuration mistake (exit 1), not an outage (exit 3, which
#    automation retries) and not tampering: the operator must act.
ENV_EXTRA_TOKENS=gone softhsm_write_conf
edk set-ref bad2.env 0 "pkcs11:token=gone;object=x;type=secret-key" tampered3.env
expect_rc 1 "tampered EDK + a listed token that is absent" "$ENV" decrypt tampered3.env
softhsm_write_conf

# 4. With no pkcs11-tokens at all, a message names nothing; --kek still works.
sed -i '/^pkcs11-tokens/d' "$OPENSSL_CONF"
expect_rc 4 "keyless decrypt without pkcs11-tokens" "$ENV" decrypt ours.env
grep -q "pkcs11-tokens lists none" last.err || fail "the refusal does not say pkcs11-tokens is empty"
expect_rc 1 "our token named without a binding" "$ENV" decrypt --kek "$OURS" ours.env
# a listing that cannot log in fails; it is not an empty listing
expect_rc 1 "kek list without a PIN" "$ENV" kek list "pkcs11:token=$ENV_TOKEN"
grep -q "needs a PIN" last.err || fail "kek list does not say why it failed"
expect_rc 0 "our token named with its pin-source" "$ENV" decrypt --kek "$OURS?pin-source=file:$ENV_PIN_FILE" \
  -o back.named ours.env
cmp -s pt back.named || fail "named round trip"

# 5. A malformed pkcs11-tokens: the provider loads (other programs keep
#    working), shows itself inactive, and refuses every key operation with
#    the entry's own message.
softhsm_write_conf
sed -i "s|^pkcs11-tokens = .*|pkcs11-tokens = $ENV_TOKEN, pkcs11:token=x;object=y|" "$OPENSSL_CONF"
openssl list -providers >list.out 2>&1 || fail "openssl list -providers with a malformed setting"
grep -A3 '^  envelope$' list.out | grep -q 'status: inactive' \
  || { fail "a broken configuration shows as active"; sed 's/^/  | /' list.out >&2; }
expect_rc 1 "encrypt with a malformed pkcs11-tokens" "$ENV" encrypt --kek "$OURS" -o never.env pt
grep -q 'pkcs11-tokens: entry "pkcs11:token=x;object=y": names objects' last.err \
  || fail "the malformed entry is not named"
[ ! -e never.env ] || fail "output written with a broken configuration"

if [ "$fails" -ne 0 ]; then echo "cli_hostile_refs: $fails failure(s)"; exit 1; fi
echo "cli_hostile_refs: all checks passed"
