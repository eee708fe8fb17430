#!/usr/bin/env bash
# Malformed, oversized and lying KMIP responses, from a named fault injector
# (kms/fault_injector_replay.py: a tiny TLS server that replays chosen bytes,
# not a KMS), are refused with the documented codes; the "ok" case proves the
# injector's encoding is right, so each other case fails for its own reason.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
echo ok >"$KMS_DIR/case"
setsid "$KMS_PY" "$KMS_FAULT_INJECTOR" "$port" "$KMS_DIR" "$KMS_DIR/case" >"$KMS_DIR/inj.log" 2>&1 </dev/null &
KMS_PIDS[injector]=$!
KMS_PORTS[injector]=$port
for _ in $(seq 1 100); do kms_port_open "$port" && break; sleep 0.1; done
KMS_TIMEOUT_MS=1500 kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port" "retries = 0"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
printf '0123456789abcdef0123456789abcdef' >"$KMS_DIR/dek"
fails=0

expect() { # CASE OP WANT(ok|CKR_...) [REASON: text the debug log must show]
  local case=$1 op=$2 want=$3 reason=${4:-} rc
  echo "$case" >"$KMS_DIR/case"
  : >"$KMS_DIR/debug.log"
  export ENVELOPE_KMS_DEBUG=file:$KMS_DIR/debug.log
  set +e
  if [ "$op" = wrap ]; then
    "$KMS_P11" "$KMS_MODULE" wrap kek-a ctx <"$KMS_DIR/dek" >/dev/null 2>"$KMS_DIR/err"
  else
    printf '%0120d' 0 | "$KMS_P11" "$KMS_MODULE" unwrap kek-a ctx >/dev/null 2>"$KMS_DIR/err"
  fi
  rc=$?
  set -e
  if [ -n "$reason" ] && ! grep -q "$reason" "$KMS_DIR/debug.log"; then
    echo "FAIL: $op $case: debug log lacks \"$reason\""; fails=$((fails + 1)); return 0
  fi
  if [ "$want" = ok ] && [ "$rc" -eq 0 ]; then
    echo "ok: $op $case -> success"; return 0
  fi
  if [ "$want" != ok ] && [ "$rc" -eq 2 ] && grep -q "rv=$want " "$KMS_DIR/err"; then
    echo "ok: $op $case -> $want"; return 0
  fi
  echo "FAIL: $op $case: want $want, got rc=$rc $(cat "$KMS_DIR/err")"; fails=$((fails + 1))
}

expect ok wrap ok
expect no-tag wrap CKR_FUNCTION_FAILED "without a 16-byte authentication tag"
expect short-tag wrap CKR_FUNCTION_FAILED "without a 16-byte authentication tag"
expect other-iv wrap CKR_FUNCTION_FAILED "16-byte IV other than ours"
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
# A KMS that picks its own 12-byte IV is refused (the nonce is the caller's,
# and nothing is written through pIv); one that echoes ours is fine.
expect server-iv-12 wrap CKR_FUNCTION_FAILED "12-byte IV other than ours"
expect same-iv wrap ok
# Message-level errors (PyKMIP: no Operation, no batch id, version 1.0) keep
# their reason and message; an "error" that is no failure is refused.
expect msg-auth wrap CKR_USER_NOT_LOGGED_IN "Error verifying the client certificate"
expect msg-invalid wrap CKR_FUNCTION_FAILED "Error parsing request message"
expect msg-success wrap CKR_FUNCTION_FAILED "yet not a failure"
expect zeros wrap CKR_FUNCTION_FAILED "malformed or too deeply nested"
expect ok unwrap ok
expect bad-tag unwrap CKR_ENCRYPTED_DATA_INVALID
expect crypto-failure unwrap CKR_ENCRYPTED_DATA_INVALID
# Answered failures that say nothing about the data are not "tag invalid".
expect invalid-field unwrap CKR_FUNCTION_FAILED
expect not-supported unwrap CKR_FUNCTION_FAILED
expect msg-auth unwrap CKR_USER_NOT_LOGGED_IN
# A transport failure during Decrypt is "unavailable", never "authentication failed".
expect truncated unwrap CKR_DEVICE_ERROR
start=$(date +%s%N)
expect silent wrap CKR_DEVICE_ERROR
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed" -lt 4000 ] || { echo "FAIL: silent server held the call ${elapsed} ms"; fails=$((fails + 1)); }

# The connection goes back to the pool only after its answer was accepted:
# three wraps in one process, each answered with CASE, need WANT handshakes.
pooled() { # CASE WANT
  echo "$1" >"$KMS_DIR/case"
  : >"$KMS_DIR/connections"
  "$KMS_P11" "$KMS_MODULE" loop kek-a 3 0 >"$KMS_DIR/loop.out" 2>&1 || true
  local n
  n=$(grep -c '^tls$' "$KMS_DIR/connections" || true)
  if [ "$n" -eq "$2" ]; then echo "ok: pool after $1: $n handshake(s)"
  else echo "FAIL: pool after $1: $n handshake(s), want $2: $(tail -2 "$KMS_DIR/loop.out")"; fails=$((fails + 1)); fi
}
pooled ok 1                 # accepted answers: one connection throughout
pooled permission-denied 1  # a well-formed failure for our batch id: kept
pooled zeros 3              # framed, then refused: dropped every time
pooled wrong-batch-id 3
pooled wrong-uid 3          # refused payload: dropped
pooled msg-auth 3           # message-level error: dropped

# Key State (KMIP §3.22): Pre-Active and Compromised keys are not offered;
# a Deactivated one decrypts but does not encrypt.
findrc() { # CASE -> rc of "find kek-a"
  echo "$1" >"$KMS_DIR/case"
  set +e; "$KMS_P11" "$KMS_MODULE" find kek-a >/dev/null 2>&1; local rc=$?; set -e
  echo "$rc"
}
if [ "$(findrc pre-active)" -eq 3 ]; then echo "ok: pre-active key not offered"; else echo "FAIL: pre-active key offered"; fails=$((fails + 1)); fi
if [ "$(findrc compromised)" -eq 3 ]; then echo "ok: compromised key not offered"; else echo "FAIL: compromised key offered"; fails=$((fails + 1)); fi
expect deactivated wrap CKR_KEY_FUNCTION_NOT_PERMITTED
expect deactivated unwrap ok
# C_GenerateKey: a usable key of that name is a duplicate; a Pre-Active
# leftover is not; a refused Locate answer (65 items for Maximum Items 64)
# is an error, not "exists already".
keygen() { # CASE WANT(ok|CKR_...)
  echo "$1" >"$KMS_DIR/case"
  set +e; "$KMS_P11" "$KMS_MODULE" keygen kek-a >"$KMS_DIR/out" 2>"$KMS_DIR/err"; local rc=$?; set -e
  if { [ "$2" = ok ] && [ "$rc" -eq 0 ] && grep -qx 2 "$KMS_DIR/out"; } ||
     { [ "$2" != ok ] && [ "$rc" -eq 2 ] && grep -q "rv=$2 " "$KMS_DIR/err"; }; then
    echo "ok: keygen with $1 -> $2"
  else echo "FAIL: keygen with $1: want $2, got rc=$rc $(cat "$KMS_DIR/err")"; fails=$((fails + 1)); fi
}
keygen ok CKR_ATTRIBUTE_VALUE_INVALID
keygen pre-active ok
keygen locate-65 CKR_FUNCTION_FAILED

# TLS 1.3 (the injector offers it): the server's refusal of our certificate
# arrives after SSL_connect succeeded, on the first read. It is "identity
# refused", and not resent to the other endpoint (here: the same one twice).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=client-a" \
  -addext "extendedKeyUsage=clientAuth" -keyout "$KMS_DIR/rogue.key" -out "$KMS_DIR/rogue.pem" 2>/dev/null
chmod 600 "$KMS_DIR/rogue.key"
KMS_TIMEOUT_MS=3000 kms_module_conf "$KMS_DIR/rogue.conf" rogue "127.0.0.1:$port, 127.0.0.1:$port" "retries = 1"
echo ok >"$KMS_DIR/case"
: >"$KMS_DIR/connections"
set +e
ENVELOPE_KMS_CONF=$KMS_DIR/rogue.conf ENVELOPE_KMS_DEBUG=file:$KMS_DIR/rogue.log \
  "$KMS_P11" "$KMS_MODULE" find kek-a >/dev/null 2>"$KMS_DIR/err"
rc=$?
set -e
n=$(grep -c '^accept$' "$KMS_DIR/connections" || true)
if [ "$rc" -eq 2 ] && grep -q 'rv=CKR_USER_NOT_LOGGED_IN' "$KMS_DIR/err" && [ "$n" -eq 1 ] &&
   grep -q 'TLSv1.3' "$KMS_DIR/rogue.log"; then
  echo "ok: TLS 1.3 client certificate refused -> CKR_USER_NOT_LOGGED_IN, 1 connection"
else
  echo "FAIL: TLS 1.3 refused certificate: rc=$rc, $n connection(s): $(cat "$KMS_DIR/err")"; fails=$((fails + 1))
fi

[ "$fails" -eq 0 ] || kms_fail "$fails fault case(s)"
echo "PASS kms_faults"
