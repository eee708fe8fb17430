#!/usr/bin/env bash
# Several endpoints per slot: two PyKMIP servers sharing one database act as
# a cluster. With one down, calls go to the other; killing the one in use
# mid-run costs no failed call (idempotent requests are resent on a fresh
# connection to the next endpoint); with all down the call fails with
# "backend unavailable" within the timeout.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
pa=$(kms_free_port); pb=$(kms_free_port); dead=$(kms_free_port)
kms_server_start a "$pa" cluster
kms_server_start b "$pb" cluster
kms_module_conf "$KMS_DIR/ab.conf" client-a "127.0.0.1:$pa, 127.0.0.1:$pb"
export ENVELOPE_KMS_CONF=$KMS_DIR/ab.conf
"$KMS_P11" "$KMS_MODULE" keygen kek-a >/dev/null || kms_fail keygen
printf '0123456789abcdef0123456789abcdef' >"$KMS_DIR/dek"
"$KMS_P11" "$KMS_MODULE" wrap kek-a ctx <"$KMS_DIR/dek" >"$KMS_DIR/blob" || kms_fail wrap

# 1. First endpoint down: the call goes to the second.
kms_server_stop a
ENVELOPE_KMS_DEBUG=file:$KMS_DIR/one.log "$KMS_P11" "$KMS_MODULE" unwrap kek-a ctx <"$KMS_DIR/blob" \
  | cmp -s - "$KMS_DIR/dek" || kms_fail "unwrap with the first endpoint down"
grep -q "endpoint 127.0.0.1:$pa: connect failed" "$KMS_DIR/one.log" || kms_fail "first endpoint not tried"
grep -q "endpoint 127.0.0.1:$pb: connected" "$KMS_DIR/one.log" || kms_fail "second endpoint not used"

# 2. A dead endpoint listed first is tried once, then skipped (back-off)
#    while the pool keeps the connection to the live one.
kms_module_conf "$KMS_DIR/db.conf" client-a "127.0.0.1:$dead, 127.0.0.1:$pb" "pool-size = 2"
ENVELOPE_KMS_CONF=$KMS_DIR/db.conf ENVELOPE_KMS_DEBUG=file:$KMS_DIR/two.log \
  "$KMS_P11" "$KMS_MODULE" loop kek-a 10 0 >"$KMS_DIR/two.out" || kms_fail "loop over dead+live"
grep -q 'summary ok=10 failed=0' "$KMS_DIR/two.out" || kms_fail "dead+live: $(tail -1 "$KMS_DIR/two.out")"
[ "$(grep -c "127.0.0.1:$dead: connect failed" "$KMS_DIR/two.log")" -le 1 ] || kms_fail "dead endpoint retried without back-off"

# 3. Kill the endpoint in use, mid-run, in one process; then bring it back
#    and kill the other one.
kms_server_start a "$pa" cluster
export KMS_LOOP_STOP=$KMS_DIR/stop
ENVELOPE_KMS_DEBUG=file:$KMS_DIR/three.log "$KMS_P11" "$KMS_MODULE" loop kek-a 100000 50 \
  >"$KMS_DIR/three.out" 2>&1 &
loop_pid=$!
trap 'kill -KILL $loop_pid 2>/dev/null || true; kms_cleanup' EXIT
oks() { grep -c ' OK ' "$KMS_DIR/three.out" || true; }
wait_oks() { for _ in $(seq 1 300); do [ "$(oks)" -ge "$1" ] && return 0; sleep 0.1; done; kms_fail "stalled at $(oks) OKs"; }
wait_oks 3
kms_server_stop a
n=$(oks); wait_oks $(( n + 5 ))
kms_server_start a "$pa" cluster
sleep 1
kms_server_stop b
n=$(oks); wait_oks $(( n + 5 ))
touch "$KMS_LOOP_STOP"
wait $loop_pid || kms_fail "loop exit status (wrong data?)"
grep -q 'summary .* failed=0 wrong=0 last=ok' "$KMS_DIR/three.out" \
  || kms_fail "failover cost calls: $(grep -v ' OK ' "$KMS_DIR/three.out" | head -5)"

# 4. All endpoints down: backend unavailable, within timeout-ms.
kms_server_stop a
KMS_TIMEOUT_MS=2000 kms_module_conf "$KMS_DIR/none.conf" client-a "127.0.0.1:$pa, 127.0.0.1:$pb"
start=$(date +%s%N)
set +e
ENVELOPE_KMS_CONF=$KMS_DIR/none.conf "$KMS_P11" "$KMS_MODULE" unwrap kek-a ctx <"$KMS_DIR/blob" >/dev/null 2>"$KMS_DIR/err"
rc=$?
set -e
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
{ [ "$rc" -eq 2 ] && grep -q 'rv=CKR_DEVICE_REMOVED' "$KMS_DIR/err"; } || kms_fail "all down: rc=$rc $(cat "$KMS_DIR/err")"
[ "$elapsed" -lt 3000 ] || kms_fail "all down took ${elapsed} ms"
echo "PASS kms_failover"
