#!/usr/bin/env bash
# Malformed, oversized and lying KMIP responses, from a named fault injector
# (kms/fault_injector_replay.py: a tiny TLS server that replays chosen bytes,
# not a KMS), are refused with the documented codes; the "ok" case proves the
# injector's encoding is right, so each other case fails for its own reason.
set -euo pipefail
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
echo ok >"$KMS_DIR/case"
setsid "$KMS_PY" "$KMS_FAULT_INJECTOR" "$port" "$KMS_DIR" "$KMS_DIR/case" >"$KMS_DIR/inj.log" 2>&1 </dev/null &
KMS_PIDS[injector]=$!
KMS_PORTS[injector]=$port
for i in $(seq 1 100); do kms_port_open "$port" && break; sleep 0.1; done
KMS_TIMEOUT_MS=1500 kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port" "retries = 0"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
printf '0123456789abcdef0123456789abcdef' >"$KMS_DIR/dek"
fails=0

expect() { # CASE OP WANT(ok|CKR_...) [REASON: text the debug log must show]
  local case=$1 op=$2 want=$3 reason=${4:-} rc out
  echo "$case" >"$KMS_DIR/case"
  : >"$KMS_DIR/debug.log"
  export ENVELOPE_KMS_DEBUG=file:$KMS_DIR/debug.log
  set +e
  if [ "$op" = wrap ]; then
    out=$("$KMS_P11" "$KMS_MODULE" wrap kek-a ctx <"$KMS_DIR/dek" 2>"$KMS_DIR/err")
  else
    out=$(printf '%0120d' 0 | "$KMS_P11" "$KMS_MODULE" unwrap kek-a ctx 2>"$KMS_DIR/err")
  fi
  rc=$?
  set -e
  if [ -n "$reason" ] && ! grep -q "$reason" "$KMS_DIR/debug.log"; then
    echo "FAIL: $op $case: debug log lacks \"$reason\""; fails=$((fails + 1)); return 0
  fi
  if [ "$want" = ok ] && [ "$rc" -eq 0 ]; then
    echo "ok: $op $case -> success"; LAST_OUT=$out; return 0
  fi
  if [ "$want" != ok ] && [ "$rc" -eq 2 ] && grep -q "rv=$want " "$KMS_DIR/err"; then
    echo "ok: $op $case -> $want"; return 0
  fi
  echo "FAIL: $op $case: want $want, got rc=$rc $(cat "$KMS_DIR/err")"; fails=$((fails + 1))
}

expect ok wrap ok
expect no-tag wrap CKR_FUNCTION_FAILED "without a 16-byte authentication tag"
expect short-tag wrap CKR_FUNCTION_FAILED "without a 16-byte authentication tag"
expect other-iv wrap CKR_FUNCTION_FAILED "16-byte IV of its own"
expect wrong-batch-id wrap CKR_FUNCTION_FAILED "batch item id missing or not ours"
expect kmip-1.2 wrap CKR_FUNCTION_FAILED "protocol version 1.2, need 1.4"
expect wrong-op wrap CKR_FUNCTION_FAILED "operation does not match"
expect two-items wrap CKR_FUNCTION_FAILED "batch count 2"
expect wrong-uid wrap CKR_FUNCTION_FAILED "answer is for another object"
expect data-len wrap CKR_FUNCTION_FAILED "wrong length"
expect oversized wrap CKR_FUNCTION_FAILED "exceeds the"
expect not-kmip wrap CKR_FUNCTION_FAILED "not a KMIP Response Message"
expect bad-inner-length wrap CKR_FUNCTION_FAILED "malformed or too deeply nested"
expect deep wrap CKR_FUNCTION_FAILED "malformed or too deeply nested"
expect truncated wrap CKR_DEVICE_ERROR
expect permission-denied wrap CKR_KEY_FUNCTION_NOT_PERMITTED
expect not-found wrap CKR_KEY_HANDLE_INVALID
# A KMS that picks its own 12-byte IV: it is written back to pIv (kms_p11
# prints the IV it holds after the call).
expect server-iv-12 wrap ok
[ "${LAST_OUT:0:24}" = "535353535353535353535353" ] || { echo "FAIL: server IV not written back: ${LAST_OUT:0:24}"; fails=$((fails + 1)); }
expect ok unwrap ok
expect bad-tag unwrap CKR_ENCRYPTED_DATA_INVALID
# A transport failure during Decrypt is "unavailable", never "authentication failed".
expect truncated unwrap CKR_DEVICE_ERROR
start=$(date +%s%N)
expect silent wrap CKR_DEVICE_ERROR
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed" -lt 4000 ] || { echo "FAIL: silent server held the call ${elapsed} ms"; fails=$((fails + 1)); }
[ "$fails" -eq 0 ] || kms_fail "$fails fault case(s)"
echo "PASS kms_faults"
