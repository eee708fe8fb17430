#!/usr/bin/env bash
# The KMS is killed with a call in flight: that call fails cleanly
# (CKR_DEVICE_ERROR / CKR_DEVICE_REMOVED, never wrong data), and after the
# server restarts on the same port and database the same process carries on
# without re-initialising the module.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
"$KMS_P11" "$KMS_MODULE" keygen kek-a >/dev/null || kms_fail keygen

export KMS_LOOP_STOP=$KMS_DIR/stop
ENVELOPE_KMS_DEBUG=file:$KMS_DIR/debug.log "$KMS_P11" "$KMS_MODULE" loop kek-a 100000 100 \
  >"$KMS_DIR/loop.out" 2>&1 &
loop_pid=$!
trap 'kill -KILL $loop_pid 2>/dev/null || true; kms_cleanup' EXIT

wait_for() { # REGEX COUNT TIMEOUT_S
  for _ in $(seq 1 $(( $3 * 10 ))); do
    [ "$(grep -cE "$1" "$KMS_DIR/loop.out" || true)" -ge "$2" ] && return 0
    kill -0 $loop_pid 2>/dev/null || { cat "$KMS_DIR/loop.out"; kms_fail "loop exited early"; }
    sleep 0.1
  done
  cat "$KMS_DIR/loop.out"; kms_fail "timeout waiting for $2 x /$1/"
}

wait_for ' OK ' 3 30
# Freeze the server so that the next call hangs on the wire, then kill it.
kms_server_freeze main
sleep 0.6
kms_server_stop main
wait_for ' FAIL ' 1 10
sleep 1 # a few calls against a dead port
oks_before=$(grep -c ' OK ' "$KMS_DIR/loop.out")
kms_server_start main "$port"
wait_for ' OK ' $(( oks_before + 3 )) 30
touch "$KMS_LOOP_STOP"
wait $loop_pid || kms_fail "loop exit status $? (wrong data?)"
sed -n '1,200p' "$KMS_DIR/loop.out" | grep -v ' OK ' || true

grep -q 'WRONG' "$KMS_DIR/loop.out" && kms_fail "a call returned wrong data"
# Only "backend unavailable" codes during the outage.
if grep ' FAIL ' "$KMS_DIR/loop.out" | grep -vqE 'CKR_DEVICE_(ERROR|REMOVED)'; then
  kms_fail "unexpected failure code: $(grep ' FAIL ' "$KMS_DIR/loop.out" | head -3)"
fi
# The first failure is the call that was in flight: it hung while the server
# was frozen (>= 300 ms) and then failed, it did not time out (5 s).
first=$(grep -m1 ' FAIL ' "$KMS_DIR/loop.out")
ms=$(awk '{print int($5)}' <<<"$first")
{ [ "$ms" -ge 300 ] && [ "$ms" -lt 5000 ]; } || kms_fail "first failure was not the in-flight call: $first"
grep -q 'summary .* wrong=0 last=ok' "$KMS_DIR/loop.out" || kms_fail "did not recover: $(tail -1 "$KMS_DIR/loop.out")"
# The pooled connection was found dead and replaced after the restart.
grep -q 'connected' "$KMS_DIR/debug.log" || kms_fail "no reconnect in the debug log"
echo "PASS kms_restart ($(grep -c ' FAIL ' "$KMS_DIR/loop.out") failed calls during the outage)"
