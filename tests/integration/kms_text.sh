#!/usr/bin/env bash
# Labels are KMIP Text Strings (UTF-8, KMIP 1.4 §9.1.1.4):
#  - a label that is not UTF-8 is refused with CKR_ATTRIBUTE_VALUE_INVALID
#    before anything is sent (keygen and find; PyKMIP's log shows no request);
#  - "clé" goes out as the UTF-8 bytes 63 6c c3 a9, and a UTF-8 name in an
#    answer is CKA_LABEL "clé" (fault injector: PyKMIP 0.10 cannot do either,
#    it decodes Text Strings one byte at a time, see docs/KMS-BRIDGE.md);
#  - against real PyKMIP "clé" fails cleanly: its own UnicodeDecodeError in
#    its log, CKR_FUNCTION_FAILED here, and the bridge's reason text names
#    the server's refusal;
#  - a binary CKA_ID (the provider's keygen probes for a random one) is "no
#    object" without a round trip.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
asan_rt=$(ldd "$KMS_MODULE" | awk '/libclang_rt.asan/ {print $3}')
tool() {
  if [ -n "$asan_rt" ]; then
    LD_PRELOAD=$asan_rt ASAN_OPTIONS=detect_leaks=0 pkcs11-tool --module "$KMS_MODULE" "$@"
  else
    pkcs11-tool --module "$KMS_MODULE" "$@"
  fi
}
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
requests() { grep -c 'Request encoding' "$KMS_DIR/main.log" || true; }

"$KMS_P11" "$KMS_MODULE" keygen kek-a >/dev/null || kms_fail "keygen kek-a"
latin1=$'cl\xe9'   # "clé" in ISO 8859-1: not UTF-8
before=$(requests)
if tool --keygen --key-type AES:32 --label "$latin1" >"$KMS_DIR/out" 2>&1; then bad "latin-1 label created"
elif grep -q 'CKR_ATTRIBUTE_VALUE_INVALID' "$KMS_DIR/out"; then echo "ok: keygen, label not UTF-8 -> CKR_ATTRIBUTE_VALUE_INVALID"
else bad "keygen latin-1: $(cat "$KMS_DIR/out")"; fi
set +e
"$KMS_P11" "$KMS_MODULE" find "$latin1" >/dev/null 2>"$KMS_DIR/err"; rc=$?
set -e
if [ "$rc" -eq 2 ] && grep -q 'rv=CKR_ATTRIBUTE_VALUE_INVALID' "$KMS_DIR/err"; then
  echo "ok: find, label not UTF-8 -> CKR_ATTRIBUTE_VALUE_INVALID"
else
  bad "find latin-1: rc=$rc $(cat "$KMS_DIR/err")"
fi
sleep 0.5
if [ "$(requests)" -eq "$before" ]; then
  echo "ok: no request reached the server for them"
else
  bad "$(( $(requests) - before )) request(s) reached the server"
fi

# A CKA_ID that cannot be a KMIP Unique Identifier: no object, no round trip.
before=$(requests)
set +e
"$KMS_P11" "$KMS_MODULE" findid $'\xf7\x80binary' >/dev/null 2>"$KMS_DIR/err"; rc=$?
set -e
sleep 0.5
if [ "$rc" -eq 3 ] && [ "$(requests)" -eq "$before" ]; then
  echo "ok: binary CKA_ID -> no object, nothing sent"
else
  bad "binary CKA_ID: rc=$rc, $(( $(requests) - before )) request(s): $(cat "$KMS_DIR/err")"
fi
grep -q "codec can't decode" "$KMS_DIR/main.log" && bad "PyKMIP failed to decode something already"

# "clé" against PyKMIP 0.10: our request carries UTF-8 (Name Value, tag
# 420055, type 07, length 4, 63 6c c3 a9), PyKMIP cannot decode it.
set +e
ENVELOPE_KMS_DEBUG=file:$KMS_DIR/debug.log tool --keygen --key-type AES:32 --label 'clé' >"$KMS_DIR/out" 2>&1; rc=$?
set -e
if grep -q "4200550700000004636cc3a900000000" "$KMS_DIR/main.log"; then
  echo "ok: the request carries clé as UTF-8"
else
  bad "no UTF-8 Name Value 636cc3a9 in PyKMIP's request log"
fi
if [ "$rc" -ne 0 ] && grep -q 'CKR_FUNCTION_FAILED' "$KMS_DIR/out" && grep -q "codec can't decode byte 0xc3" "$KMS_DIR/main.log"; then
  echo "ok: PyKMIP 0.10 refuses non-ASCII text: CKR_FUNCTION_FAILED"
else
  bad "clé on PyKMIP: rc=$rc $(cat "$KMS_DIR/out")"
fi
grep -q 'Error parsing request message' "$KMS_DIR/debug.log" || bad "debug log lacks the server's refusal"

# A server that speaks UTF-8 (the fault injector): the same bytes go out, and
# its UTF-8 name comes back as CKA_LABEL "clé".
iport=$(kms_free_port)
echo name-utf8 >"$KMS_DIR/case"
setsid "$KMS_PY" "$KMS_FAULT_INJECTOR" "$iport" "$KMS_DIR" "$KMS_DIR/case" >"$KMS_DIR/inj.log" 2>&1 </dev/null &
KMS_PIDS[injector]=$!
KMS_PORTS[injector]=$iport
for _ in $(seq 1 100); do kms_port_open "$iport" && break; sleep 0.1; done
kms_module_conf "$KMS_DIR/inj.conf" client-a "127.0.0.1:$iport" "retries = 0"
: >"$KMS_DIR/connections"
id=$(ENVELOPE_KMS_CONF=$KMS_DIR/inj.conf "$KMS_P11" "$KMS_MODULE" find 'clé') || bad "find clé on a UTF-8 server"
if [ "$id" = 1 ]; then echo "ok: clé found by label on a UTF-8 server"; else bad "find clé: id '$id'"; fi
if grep '^locate ' "$KMS_DIR/connections" | grep -q "4200550700000004636cc3a900000000"; then
  echo "ok: Locate by clé sent UTF-8"
else
  bad "injector saw no UTF-8 Name Value"
fi
lab=$(ENVELOPE_KMS_CONF=$KMS_DIR/inj.conf "$KMS_P11" "$KMS_MODULE" findid 1 | od -An -tx1 | tr -d ' \n')
if [ "$lab" = 636cc3a90a ]; then echo "ok: CKA_LABEL is the UTF-8 bytes of clé"; else bad "CKA_LABEL bytes $lab"; fi
[ "$fails" -eq 0 ] || kms_fail "$fails text check(s)"
echo "PASS kms_text"
