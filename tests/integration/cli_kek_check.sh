#!/usr/bin/env bash
# cli_kek_check.sh ENVELOPE_BIN PROVIDER_DIR
# `envelope kek check` on a real SoftHSM2 token (docs/envelope.1): keys made
# by pkcs11-tool with weaknesses (--extractable, not --sensitive, RSA-2048
# where the token makes RSA-4096, CKA_SIGN on the private key, no
# --private) are reported with their stable codes and exit 6; a KEK made by
# `envelope kek create` has no finding (exit 0); a token whose user PIN was
# never set is reported as such; --json parses (python3) with stable keys;
# hostile and unknown URIs get the same errors as elsewhere, and a check
# never offers a key for use: the provider still refuses the extractable
# key as a KEK.
set -euo pipefail
ENV=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envkekcheck.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
softhsm_setup "$work" "$PROVDIR" envtest
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
run() { # WANT_RC "description" CMD... (stdout in out, stderr in err)
  local want=$1 desc=$2 rc=0
  shift 2
  envelope_run_own "$@" >out 2>err || rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$desc: exit $rc, wanted $want"
    sed 's/^/  | /' err out >&2
  fi
}
p11() { pkcs11-tool --module "$ENV_P11_MODULE" --token-label envtest --login --pin "$ENV_PIN" "$@" \
  >/dev/null 2>&1; }
u() { echo "pkcs11:token=envtest;object=$1"; }
# the codes of one KEK's findings, sorted and unique, from --json
codes() {
  "$ENV" kek check --json "$1" >codes.json 2>/dev/null || true
  /usr/bin/python3 -c '
import json, sys
lines = [json.loads(l) for l in open("codes.json") if l.strip()]
assert len(lines) == 1, lines
d = lines[0]
assert set(d) == {"reference", "kind", "ok", "findings"}, d
assert d["ok"] == (not d["findings"]), d
for f in d["findings"]:
    assert set(f) == {"code", "detail"} and f["detail"], f
print(d["kind"], " ".join(sorted({f["code"] for f in d["findings"]})))'
}

"$ENV" kek create --quiet --type aes-256 "$(u good-aes)"
"$ENV" kek create --quiet --type rsa-3072 "$(u good-rsa)"
p11 --keygen --key-type AES:32 --label extractable --id 11 --extractable --sensitive --private
p11 --keygen --key-type AES:32 --label readable --id 12 --private
p11 --keypairgen --key-type rsa:2048 --label rsa2048 --id 13 --private --usage-decrypt
p11 --keypairgen --key-type rsa:3072 --label signer --id 14 --private --usage-sign
p11 --keygen --key-type AES:32 --label public --id 15 --sensitive

# ours: nothing to report, exit 0, one line each
for k in good-aes good-rsa; do
  run 0 "check of $k made by kek create" "$ENV" kek check "$(u "$k")"
  grep -q '  ok$' out || fail "$k: no \"ok\" line"
done
[ "$(codes "$(u good-aes)")" = "aes-256 " ] || fail "good-aes: $(codes "$(u good-aes)")"
[ "$(codes "$(u good-rsa)")" = "rsa-3072 " ] || fail "good-rsa: $(codes "$(u good-rsa)")"

# pkcs11-tool --keygen --extractable: flagged, and exit 6
run 6 "check of an --extractable key" "$ENV" kek check "$(u extractable)"
grep -q 'extractable  *CKA_EXTRACTABLE is true' out || fail "--extractable key not flagged"
c=$(codes "$(u extractable)")
case " $c " in *" extractable "*) ;; *) fail "extractable key: codes '$c'" ;; esac
case " $c " in *" not-sensitive "*) fail "an --sensitive key flagged not-sensitive: '$c'" ;; esac
# without --sensitive the value is readable (pkcs11-tool's default)
c=$(codes "$(u readable)")
case " $c " in *" not-sensitive "*) ;; *) fail "readable key: codes '$c'" ;; esac
# RSA-2048 on a token that makes larger keys
c=$(codes "$(u rsa2048)")
case "$c" in "rsa-2048 "*weak-size*) ;; *) fail "rsa2048: codes '$c'" ;; esac
# CKA_SIGN on the private key
run 6 "check of a signing key pair" "$ENV" kek check "$(u signer)"
grep -q 'extra-usage  *private key: CKA_SIGN is true' out || fail "CKA_SIGN not flagged"
# no --private: usable without the PIN
c=$(codes "$(u public)")
case " $c " in *" not-private "*) ;; *) fail "public key: codes '$c'" ;; esac

# the whole token: every key, exit 6, a summary on stderr; several URIs
run 6 "check of the whole token" "$ENV" kek check "pkcs11:token=envtest"
grep -q '^envelope: 7 KEKs checked, 5 with findings$' err || fail "summary: $(cat err)"
run 6 "two URIs, one weak" "$ENV" kek check "$(u good-aes)" "$(u extractable)"
[ "$(grep -c '^pkcs11:' out)" = 2 ] || fail "two URIs: $(cat out)"
run 0 "two clean URIs" "$ENV" --quiet kek check "$(u good-aes)" "$(u good-rsa)"
[ ! -s err ] || fail "--quiet printed: $(cat err)"

# a token whose user PIN was never initialised (SoftHSM2 allows that)
slot=$(pkcs11-tool --module "$ENV_P11_MODULE" -L 2>/dev/null | awk '/^Slot/{s=$2} /uninitialized/{print s; exit}')
pkcs11-tool --module "$ENV_P11_MODULE" --init-token --slot "$slot" --label nopin --so-pin 12345678 \
  >/dev/null 2>&1
run 6 "check of a token without a user PIN" "$ENV" kek check --json "pkcs11:token=nopin"
/usr/bin/python3 -c '
import json, sys
d = json.loads(open("out").read())
assert d["kind"] == "token" and d["reference"] == "pkcs11:token=nopin", d
assert [f["code"] for f in d["findings"]] == ["token-without-pin"], d' ||
  fail "token without a PIN: $(cat out)"

# errors: the same clear errors as elsewhere; the first failure's exit code
# wins over findings; nothing secret in them
run 1 "unknown token" "$ENV" kek check "pkcs11:token=nothere"
grep -q 'no token matching "nothere"' err || fail "unknown token: $(cat err)"
run 1 "missing key" "$ENV" kek check "$(u nokey)" "$(u extractable)"
grep -q 'no key "nokey"' err || fail "missing key: $(cat err)"
grep -q 'CKA_EXTRACTABLE' out || fail "the URI after a failed one was not checked"
run 1 "unknown attribute" "$ENV" kek check "pkcs11:token=envtest;objekt=x"
grep -q 'attribute envelope does not know' err || fail "bad attribute: $(cat err)"
for bad in "file:$work/pin" "alias:payments" "vault:kek" "no-scheme"; do
  run 1 "URI $bad" "$ENV" kek check "$bad"
  grep -q 'kek check takes pkcs11: and tpm2: URIs' err || fail "$bad: $(cat err)"
done
run 1 "a file named like a check store" "$ENV" kek check "file-check:$work/pin"
if grep -q "$ENV_PIN" out err; then fail "a PIN appears in the output"; fi
run 1 "no URI" "$ENV" kek check
run 1 "--type on check" "$ENV" kek check --type aes-256 "$(u good-aes)"

# checking never makes a key usable: the provider still refuses it
run 4 "encrypt with the extractable key (refused by policy)" "$ENV" encrypt --kek "$(u extractable)" -o x.env err
grep -q 'is extractable: its value can leave the token' err || fail "refusal: $(cat err)"
[ ! -e x.env ] || fail "output written with a refused KEK"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "cli.softhsm.kek-check: ok"
