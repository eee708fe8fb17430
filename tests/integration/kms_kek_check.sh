#!/usr/bin/env bash
# `envelope kek check` on KMS keys (a real PyKMIP behind the kms-bridge,
# docs/KMS-BRIDGE.md "Key usage"): the bridge shows each key's KMIP
# Cryptographic Usage Mask as a vendor attribute, and the check reports the
# bits beyond Encrypt|Decrypt of a key made through PyKMIP's own client
# (Wrap Key, Export), exit 6; a KEK made by `envelope kek create` through
# the bridge has no finding; a slot whose client key has no passphrase is
# reported as a token without a PIN.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
cd "$KMS_DIR"
fails=0
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
conf() { # PIN_SOURCE_LINE
  cat >"$KMS_DIR/openssl.cnf" <<CONF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
envelope = envelope_sect
[default_sect]
activate = 1
[envelope_sect]
module = $ENV_PROVIDER_DIR/envelope.so
pkcs11-module = $KMS_MODULE
pkcs11-tokens = kms
$1
activate = 1
CONF
}
codes() { # the kind and codes of one KEK, from --json
  "$ENVELOPE_CLI" kek check --json "$1" >codes.json 2>codes.err || true
  /usr/bin/python3 -c '
import json
lines = [json.loads(l) for l in open("codes.json") if l.strip()]
assert len(lines) == 1, lines
d = lines[0]
assert set(d) == {"reference", "kind", "ok", "findings"} and d["ok"] == (not d["findings"]), d
print(d["kind"], " ".join(sorted(f["code"] for f in d["findings"])))' || cat codes.err >&2
}

# the client key encrypted: the slot asks for a PIN (the key's passphrase)
openssl pkey -in client-a.key -aes256 -passout pass:sekret -out enc.key
chmod 600 enc.key
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
sed -i "s|key-file = .*|key-file = $KMS_DIR/enc.key|" "$KMS_DIR/kms.conf"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
(umask 077; printf 'sekret' >pass)
conf "pkcs11-pin-source = file:$KMS_DIR/pass"
export OPENSSL_CONF=$KMS_DIR/openssl.cnf

"$ENVELOPE_CLI" kek create --quiet --type aes-256 'pkcs11:token=kms;object=ours' ||
  kms_fail "kek create through the bridge"
# a key with extra usage bits, made by PyKMIP's own client (same identity)
env -u OPENSSL_CONF /usr/bin/python3 - "$port" "$KMS_DIR" <<'PY' || kms_fail "PyKMIP client"
import sys
from kmip.core import enums
from kmip.pie.client import ProxyKmipClient
port, d = int(sys.argv[1]), sys.argv[2]
c = ProxyKmipClient(hostname="127.0.0.1", port=port, cert=d + "/client-a.pem",
                    key=d + "/client-a.key", ca=d + "/ca.pem", config_file="/dev/null",
                    kmip_version=enums.KMIPVersion.KMIP_1_2)
with c:
    u = enums.CryptographicUsageMask
    uid = c.create(enums.CryptographicAlgorithm.AES, 256, name="wide",
                   cryptographic_usage_mask=[u.ENCRYPT, u.DECRYPT, u.WRAP_KEY, u.EXPORT])
    c.activate(uid)
PY

[ "$(codes 'pkcs11:token=kms;object=ours')" = "aes-256 " ] ||
  bad "ours: $(codes 'pkcs11:token=kms;object=ours')"
rc=0; "$ENVELOPE_CLI" kek check 'pkcs11:token=kms;object=ours' >out 2>err || rc=$?
[ "$rc" = 0 ] || { cat out err; bad "ours: exit $rc"; }
[ "$(codes 'pkcs11:token=kms;object=wide')" = "aes-256 extra-usage" ] ||
  bad "wide: $(codes 'pkcs11:token=kms;object=wide')"
rc=0; "$ENVELOPE_CLI" kek check 'pkcs11:token=kms;object=wide' >out 2>err || rc=$?
[ "$rc" = 6 ] || { cat out err; bad "wide: exit $rc, wanted 6"; }
grep -q 'KMIP Cryptographic Usage Mask 0x5c allows Wrap Key, Export;' out ||
  { cat out; bad "wide: the extra bits are not named"; }
grep -q sekret out err && bad "the passphrase appears in the output"

# the same client key without a passphrase: whoever reads the key file
# uses every key of the slot
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
conf ""
rc=0; "$ENVELOPE_CLI" kek check --json 'pkcs11:token=kms;object=ours' >out 2>err || rc=$?
[ "$rc" = 6 ] || { cat out err; bad "slot without a PIN: exit $rc, wanted 6"; }
/usr/bin/python3 -c '
import json
e = [json.loads(l) for l in open("out")]
tok = [x for x in e if x["kind"] == "token"]
assert len(tok) == 1 and [f["code"] for f in tok[0]["findings"]] == ["token-without-pin"], e
assert [x["findings"] for x in e if x["kind"] != "token"] == [[]], e' ||
  bad "slot without a PIN: $(cat out)"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "cli.pykmip.kek-check: ok"
