#!/usr/bin/env bash
# cli_softhsm.sh ENVELOPE_BIN PROVIDER_DIR
# The envelope CLI with KEKs in a real SoftHSM2 token through envelope.so:
# AES and RSA KEKs by pkcs11: URI, several KEKs in one message and decrypt
# with either alone, decrypt from the references recorded in the message,
# `kek create` through the provider's KEYMGMT, `kek list` through
# OSSL_STORE, and the unhappy paths. The token lives in a temp folder
# removed on every exit path.
set -euo pipefail
ENV=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envhsm.XXXXXX")
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
softhsm_keygen_aes kek-aes 01
softhsm_keygen_rsa kek-rsa 02
AES="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
RSA="pkcs11:token=$ENV_TOKEN;object=kek-rsa;type=private"

head -c 200000 /dev/urandom >pt
expect_rc 0 "encrypt AES+RSA" "$ENV" encrypt --kek "$AES" --kek "$RSA" --context tenant=acme -o ct pt
expect_rc 0 "inspect" "$ENV" inspect --json ct
/usr/bin/python3 - "$work/last.out" <<'PY' || fail "inspect of token EDKs"
import json, sys
j = json.load(open(sys.argv[1]))
assert [e["wrap_kind"] for e in j["edks"]] == ["provider-aead", "provider-aead"], j["edks"]
for e in j["edks"]:
    assert e["kek"].startswith("pkcs11:") and "pin" not in e["kek"] and "module" not in e["kek"], e
PY
expect_rc 0 "decrypt with AES alone" "$ENV" decrypt --kek "$AES" -o back.aes ct
cmp -s pt back.aes || fail "AES round trip"
expect_rc 0 "decrypt with RSA alone" "$ENV" decrypt --kek "$RSA" -o back.rsa ct
cmp -s pt back.rsa || fail "RSA round trip"
expect_rc 0 "decrypt from the message's references" "$ENV" decrypt --context tenant=acme -o back.ref ct
cmp -s pt back.ref || fail "reference round trip"
expect_rc 2 "wrong context" "$ENV" decrypt --kek "$AES" --context tenant=other ct
# tamper a byte of the body (python, not dd: under ASan every uninstrumented
# binary runs with the ASan runtime preloaded)
/usr/bin/python3 -c 'import sys; d = bytearray(open("ct", "rb").read()); d[-100] ^= 0x55; open("t1", "wb").write(d)'
expect_rc 2 "tampered body" "$ENV" decrypt --kek "$AES" -o out.t1 t1
[ ! -e out.t1 ] || fail "tampered decrypt left output"

# kek create through the provider's KEYMGMT, then kek list through OSSL_STORE
NEWAES="pkcs11:token=$ENV_TOKEN;object=made-by-cli"
NEWRSA="pkcs11:token=$ENV_TOKEN;object=rsa-by-cli"
expect_rc 0 "kek create aes-256" "$ENV" kek create --type aes-256 "$NEWAES"
expect_rc 0 "kek create rsa-3072" "$ENV" kek create --type rsa-3072 "$NEWRSA"
expect_rc 1 "kek create bad type" "$ENV" kek create --type des "$NEWAES-x"
# the URI printed for use never carries a pin-value, whatever the scheme's case
expect_rc 0 "kek create with an upper-case scheme and a pin-value" "$ENV" kek create --type aes-256 \
  "PKCS11:token=$ENV_TOKEN;object=upper-case?pin-value=$ENV_PIN"
if grep -q -- "pin-value\|$ENV_PIN" last.out last.err; then fail "kek create echoed the PIN"; fi
expect_rc 0 "kek list" "$ENV" kek list "pkcs11:token=$ENV_TOKEN"
grep -q "made-by-cli" last.out || fail "kek list does not show the created AES KEK"
grep -q "rsa-by-cli" last.out || fail "kek list does not show the created RSA KEK"
expect_rc 0 "encrypt with created KEKs" "$ENV" encrypt --kek "$NEWAES;type=secret-key" \
  --kek "$NEWRSA;type=private" -o ct.new pt
expect_rc 0 "decrypt with created AES" "$ENV" decrypt --kek "$NEWAES;type=secret-key" -o back.new ct.new
cmp -s pt back.new || fail "created-KEK round trip"
pkcs11-tool --module "$ENV_P11_MODULE" --token-label "$ENV_TOKEN" --login --pin "$ENV_PIN" -O 2>/dev/null \
  | grep -q "made-by-cli" || fail "created KEK not on the token (pkcs11-tool)"

# a token key that does not exist; a token that does not exist
expect_rc 1 "missing token key" "$ENV" encrypt --kek "pkcs11:token=$ENV_TOKEN;object=nope" pt
rc=0; envelope_run_own "$ENV" encrypt --kek "pkcs11:token=no-such-token;object=kek-aes" pt >/dev/null 2>last.err || rc=$?
[ "$rc" -eq 1 ] || fail "absent token: exit $rc (a token never seen is configuration: 1)"
grep -q 'no token matching "no-such-token"' last.err || fail "absent token: $(cat last.err)"
if grep -q -- "$ENV_PIN" last.err; then fail "PIN in an error message"; fi
# a message whose reference carries a module path is refused without --kek
/usr/bin/python3 - <<'PY'
import struct
d = open("ct", "rb").read()
# rewrite EDK 1's reference to add a module-path (lengths adjusted); the
# decryptor must refuse to open it rather than load the module
ctxlen = struct.unpack(">H", d[44:46])[0]
off = 44 + 2
for _ in range(ctxlen):
    kl = struct.unpack(">H", d[off:off+2])[0]; off += 2 + kl
    vl = struct.unpack(">H", d[off:off+2])[0]; off += 2 + vl
off += 2 + 32 + 16
count = d[off]; off += 1
out = bytearray(d[:off])
for i in range(count):
    kind, res, rl = d[off], d[off+1], struct.unpack(">H", d[off+2:off+4])[0]
    ref = d[off+4:off+4+rl]; p = off + 4 + rl
    il = d[p]; kid = d[p+1:p+1+il]; p += 1 + il
    wl = struct.unpack(">H", d[p:p+2])[0]; w = d[p+2:p+2+wl]; p += 2 + wl
    ref = ref + b";module-path=/tmp/evil.so"
    out += bytes([kind, res]) + struct.pack(">H", len(ref)) + ref + bytes([il]) + kid + struct.pack(">H", wl) + w
    off = p
out += d[off:]
open("evil", "wb").write(out)
PY
expect_rc 4 "module-path reference refused" "$ENV" decrypt evil

# A file in the current folder named like a pkcs11: URI is never the KEK:
# OpenSSL's own file: loader would take "pkcs11:..." as a relative path.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "pkcs11:token=$ENV_TOKEN;object=ghost" 2>/dev/null
rc=0
envelope_run_own "$ENV" encrypt --kek "pkcs11:token=$ENV_TOKEN;object=ghost" -o ghost.env pt \
  >/dev/null 2>ghost.err || rc=$?
[ "$rc" -ne 0 ] || fail "a file named like a pkcs11: URI was used as the KEK"
[ ! -e ghost.env ] || fail "output written with a file-borne KEK"
grep -q "object not found" ghost.err || { fail "ghost KEK: not reported as not found"; sed 's/^/  | /' ghost.err >&2; }

if [ "$fails" -ne 0 ]; then echo "cli_softhsm: $fails failure(s)"; exit 1; fi
echo "cli_softhsm: all checks passed"
