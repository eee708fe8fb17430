#!/usr/bin/env bash
# Two client identities on one PyKMIP server: client-b may neither find nor
# use client-a's key (PyKMIP's default policy: objects belong to their
# creator's certificate CN). A certificate from another CA is refused at the
# TLS handshake.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
kms_module_conf "$KMS_DIR/a.conf" client-a "127.0.0.1:$port"
kms_module_conf "$KMS_DIR/b.conf" client-b "127.0.0.1:$port"

uid=$(ENVELOPE_KMS_CONF=$KMS_DIR/a.conf "$KMS_P11" "$KMS_MODULE" keygen kek-a) || kms_fail "keygen as a"
printf '0123456789abcdef0123456789abcdef' >"$KMS_DIR/dek"
ENVELOPE_KMS_CONF=$KMS_DIR/a.conf "$KMS_P11" "$KMS_MODULE" wrap kek-a "ctx" <"$KMS_DIR/dek" >"$KMS_DIR/blob" \
  || kms_fail "wrap as a"

# b looks the key up by name: Locate filters by owner, so "not found".
set +e
ENVELOPE_KMS_CONF=$KMS_DIR/b.conf "$KMS_P11" "$KMS_MODULE" find kek-a >/dev/null 2>"$KMS_DIR/err"
rc=$?
set -e
[ "$rc" -eq 3 ] || kms_fail "b found a's key by name (rc=$rc): $(cat "$KMS_DIR/err")"

# b names the key by its id (CKA_ID = KMIP Unique Identifier): denied, which
# is a distinct code from "not found" and from "backend unavailable".
set +e
ENVELOPE_KMS_CONF=$KMS_DIR/b.conf "$KMS_P11" "$KMS_MODULE" findid "$uid" >/dev/null 2>"$KMS_DIR/err"
rc=$?
set -e
{ [ "$rc" -eq 2 ] && grep -q 'rv=CKR_KEY_FUNCTION_NOT_PERMITTED' "$KMS_DIR/err"; } \
  || kms_fail "b by id: rc=$rc $(cat "$KMS_DIR/err")"
# and a still can.
ENVELOPE_KMS_CONF=$KMS_DIR/a.conf "$KMS_P11" "$KMS_MODULE" findid "$uid" | grep -qx kek-a || kms_fail "a by id"
ENVELOPE_KMS_CONF=$KMS_DIR/a.conf "$KMS_P11" "$KMS_MODULE" unwrap kek-a "ctx" <"$KMS_DIR/blob" \
  | cmp -s - "$KMS_DIR/dek" || kms_fail "a unwrap"

# A client certificate from a CA the server does not trust: refused by the
# server at the handshake -> CKR_USER_NOT_LOGGED_IN (identity refused), not
# "unavailable".
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=client-a" \
  -addext "extendedKeyUsage=clientAuth" -keyout "$KMS_DIR/rogue.key" -out "$KMS_DIR/rogue.pem" 2>/dev/null
chmod 600 "$KMS_DIR/rogue.key"
kms_module_conf "$KMS_DIR/rogue.conf" rogue "127.0.0.1:$port"
set +e
ENVELOPE_KMS_CONF=$KMS_DIR/rogue.conf "$KMS_P11" "$KMS_MODULE" find kek-a >/dev/null 2>"$KMS_DIR/err"
rc=$?
set -e
{ [ "$rc" -eq 2 ] && grep -q 'rv=CKR_USER_NOT_LOGGED_IN' "$KMS_DIR/err"; } \
  || kms_fail "untrusted client certificate: rc=$rc $(cat "$KMS_DIR/err")"

# A certificate from the right CA without an extended key usage: the TLS
# handshake accepts it (no EKU: any purpose), then PyKMIP answers with a
# message-level error (protocol version 1.0, no Operation, no batch id):
# Authentication Not Successful -> CKR_USER_NOT_LOGGED_IN, with the server's
# message in the debug log, and the connection is not pooled.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$KMS_DIR/noeku.key" 2>/dev/null
chmod 600 "$KMS_DIR/noeku.key"
openssl req -new -key "$KMS_DIR/noeku.key" -subj "/CN=client-a" -out "$KMS_DIR/noeku.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n' >"$KMS_DIR/noeku.ext"
openssl x509 -req -in "$KMS_DIR/noeku.csr" -CA "$KMS_DIR/ca.pem" -CAkey "$KMS_DIR/ca.key" -CAcreateserial \
  -days 2 -sha256 -extfile "$KMS_DIR/noeku.ext" -out "$KMS_DIR/noeku.pem" 2>/dev/null || kms_fail "noeku cert"
kms_module_conf "$KMS_DIR/noeku.conf" noeku "127.0.0.1:$port"
set +e
ENVELOPE_KMS_CONF=$KMS_DIR/noeku.conf ENVELOPE_KMS_DEBUG=file:$KMS_DIR/noeku.log \
  "$KMS_P11" "$KMS_MODULE" find kek-a >/dev/null 2>"$KMS_DIR/err"
rc=$?
set -e
{ [ "$rc" -eq 2 ] && grep -q 'rv=CKR_USER_NOT_LOGGED_IN' "$KMS_DIR/err"; } \
  || kms_fail "certificate without clientAuth: rc=$rc $(cat "$KMS_DIR/err")"
grep -q 'server refused the message: status 1 reason 0x3 "Error verifying the client certificate' "$KMS_DIR/noeku.log" \
  || kms_fail "message-level error not in the debug log: $(cat "$KMS_DIR/noeku.log")"
grep -q 'connection dropped after: message-level error' "$KMS_DIR/noeku.log" \
  || kms_fail "connection kept after a message-level error"

# The server's certificate must carry the name we dial: "localhost" is in its
# SAN, "kms.wrong.test" is not (-> server refused -> backend unavailable).
kms_module_conf "$KMS_DIR/name.conf" client-a "127.0.0.1:$port" "server-name = kms.wrong.test"
set +e
ENVELOPE_KMS_CONF=$KMS_DIR/name.conf ENVELOPE_KMS_DEBUG=file:$KMS_DIR/name.log \
  "$KMS_P11" "$KMS_MODULE" find kek-a >/dev/null 2>"$KMS_DIR/err"
rc=$?
set -e
{ [ "$rc" -eq 2 ] && grep -q 'rv=CKR_DEVICE_REMOVED' "$KMS_DIR/err"; } || kms_fail "wrong server name: rc=$rc $(cat "$KMS_DIR/err")"
grep -q 'server certificate refused' "$KMS_DIR/name.log" || kms_fail "no reason in the debug log"
kms_module_conf "$KMS_DIR/name2.conf" client-a "localhost:$port"
ENVELOPE_KMS_CONF=$KMS_DIR/name2.conf "$KMS_P11" "$KMS_MODULE" find kek-a >/dev/null || kms_fail "DNS name in SAN"
echo "PASS kms_identity"
