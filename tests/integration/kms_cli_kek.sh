#!/usr/bin/env bash
# The envelope CLI creates, lists and uses a KMS KEK through the provider
# (hsm/) with the bridge as its pkcs11-module, on a fresh PyKMIP:
#  - kek create: the provider's keygen probes for its random binary CKA_ID
#    (no object, no round trip: PyKMIP could not decode it) and, since the
#    KMS assigns ids (CKR_ATTRIBUTE_READ_ONLY), lets the token choose;
#  - kek list shows it; encrypt/decrypt round trip; a second create of the
#    name is refused;
#  - a PyKMIP with an RSA certificate shares no TLS 1.2 suite with us: the
#    CLI exits 3 and its error names the endpoint and the TLS reason (the
#    bridge's "Vendor envelope" reason text, appended by hsm/).
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
# Before OPENSSL_CONF names our provider: the openssl tool must not load it
# (an ASan build of envelope.so cannot load into it).
kms_cert_rsa server-rsa "kms.test" serverAuth "IP:127.0.0.1,DNS:localhost"
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
activate = 1
CONF
export OPENSSL_CONF=$KMS_DIR/openssl.cnf
KEK='pkcs11:token=kms;object=cli-kek'
cd "$KMS_DIR"
head -c 5000 /dev/urandom >pt
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { # WANT_RC DESC cmd...
  local want=$1 desc=$2 rc=0; shift 2
  "$@" >last.out 2>last.err || rc=$?
  if [ "$rc" -ne "$want" ]; then bad "$desc: exit $rc, wanted $want: $(head -c 600 last.err)"; return 1; fi
  echo "ok: $desc (exit $rc)"
}

run 0 "envelope kek create --type aes-256 $KEK" "$ENVELOPE_CLI" kek create --type aes-256 "$KEK"
grep -q "codec can't decode" main.log && bad "PyKMIP was sent text it could not decode"
run 0 "envelope kek list" "$ENVELOPE_CLI" kek list 'pkcs11:token=kms' \
  && { grep -q 'ENVELOPE-AES-KEK *256 .*object=cli-kek' last.out || bad "kek list: $(cat last.out)"; }
id=$("$KMS_P11" "$KMS_MODULE" find cli-kek) || bad "the bridge does not find cli-kek"
if grep -q "id=%$(printf %s "$id" | xxd -p | sed 's/../&%/g; s/%$//')" last.out; then
  echo "ok: listed with the KMS's id ($id)"
else
  bad "kek list does not show id $id: $(cat last.out)"
fi
run 0 "encrypt with the new KEK" "$ENVELOPE_CLI" encrypt --kek "$KEK" --context app=cli -o ct pt
run 0 "decrypt with it" "$ENVELOPE_CLI" decrypt --kek "$KEK" --context app=cli -o back ct
cmp -s pt back || bad "round trip differs"
# from the message's own reference: the bridge's token is in pkcs11-tokens
run 0 "decrypt from the message's reference" "$ENVELOPE_CLI" decrypt --context app=cli -o back3 ct
cmp -s pt back3 || bad "keyless round trip differs"
run 2 "wrong context" "$ENVELOPE_CLI" decrypt --kek "$KEK" --context app=other -o back2 ct
rc=0
"$ENVELOPE_CLI" kek create --type aes-256 "$KEK" >last.out 2>last.err || rc=$?
if [ "$rc" -ne 0 ] && grep -q 'already exists' last.err; then
  echo "ok: second create refused: $(head -c 200 last.err)"
else
  bad "second create: exit $rc $(cat last.err)"
fi

# PyKMIP with an RSA server certificate (same database): no suite in common.
rport=$(kms_free_port)
KMS_SERVER_CERT=server-rsa kms_server_start rsa "$rport" main
kms_module_conf "$KMS_DIR/rsa.conf" client-a "127.0.0.1:$rport"
rc=0
ENVELOPE_KMS_CONF=$KMS_DIR/rsa.conf ENVELOPE_KMS_DEBUG=file:$KMS_DIR/rsa-debug.log \
  "$ENVELOPE_CLI" encrypt --kek "$KEK" -o ct.rsa pt >last.out 2>last.err || rc=$?
if [ "$rc" -eq 3 ]; then echo "ok: RSA-certified PyKMIP: exit 3"; else bad "RSA PyKMIP: exit $rc, wanted 3"; fi
if grep -q "KMS 127.0.0.1:$rport: TLS handshake failed: sslv3 alert handshake failure" last.err; then
  echo "ok: the error names the endpoint and the TLS reason: $(cat last.err)"
else
  bad "RSA PyKMIP error lacks endpoint/TLS reason: $(cat last.err)"
fi
[ ! -e ct.rsa ] || bad "failed encrypt left an output file"
grep -q "endpoint 127.0.0.1:$rport: TLS handshake failed" rsa-debug.log || bad "debug log lacks the handshake line"
# The reason text carries no data: not the plaintext's first bytes, no key file path.
grep -q "$(head -c 8 pt | xxd -p)" last.err && bad "error holds plaintext bytes"
grep -q 'client-a.key' last.err && bad "error names the key file"
[ "$fails" -eq 0 ] || kms_fail "$fails CLI KEK check(s)"
echo "PASS kms_cli_kek"
