#!/usr/bin/env bash
# The PKCS#11 contract the provider relies on (kms_p11 semantics), plus the
# shell-level wrap/unwrap, wrong AAD and unknown key name, against a real
# PyKMIP server. The config path goes once through C_Initialize pReserved.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf

"$KMS_P11" "$KMS_MODULE" keygen kek-a >"$KMS_DIR/id" || kms_fail "keygen"
"$KMS_P11" "$KMS_MODULE" semantics kek-a | tee "$KMS_DIR/sem.out"
grep -q '^FAIL' "$KMS_DIR/sem.out" && kms_fail "semantics"
grep -q 'semantics: 0 failure' "$KMS_DIR/sem.out" || kms_fail "semantics did not finish"

"$KMS_P11" "$KMS_MODULE" fork kek-a | tee "$KMS_DIR/fork.out"
[ "$(grep -c '^ok:' "$KMS_DIR/fork.out")" -eq 2 ] || kms_fail "fork"
# Children forked while another thread holds the module's lock still
# initialise (pthread_atfork child handler).
"$KMS_P11" "$KMS_MODULE" forklock 200 | tee "$KMS_DIR/forklock.out"
grep -q '^ok: 200 children' "$KMS_DIR/forklock.out" || kms_fail "fork under lock contention"

# Config path through C_Initialize's pReserved instead of the environment.
ENVELOPE_KMS_CONF='' KMS_P11_INIT_PATH=$KMS_DIR/kms.conf "$KMS_P11" "$KMS_MODULE" find kek-a >/dev/null \
  || kms_fail "config via pReserved"

printf 'a 32-byte data encryption key..!' >"$KMS_DIR/dek"
"$KMS_P11" "$KMS_MODULE" wrap kek-a "ctx=1" <"$KMS_DIR/dek" >"$KMS_DIR/blob" || kms_fail "wrap"
[ "$(tr -d '\n' <"$KMS_DIR/blob" | wc -c)" -eq $(( (12 + 32 + 16) * 2 )) ] || kms_fail "blob size"
"$KMS_P11" "$KMS_MODULE" unwrap kek-a "ctx=1" <"$KMS_DIR/blob" >"$KMS_DIR/back" || kms_fail "unwrap"
cmp -s "$KMS_DIR/dek" "$KMS_DIR/back" || kms_fail "unwrap gave other bytes"

# Wrong AAD: authentication failed, distinct code, no plaintext.
if "$KMS_P11" "$KMS_MODULE" unwrap kek-a "ctx=2" <"$KMS_DIR/blob" >"$KMS_DIR/back2" 2>"$KMS_DIR/err"; then
  kms_fail "unwrap with the wrong AAD succeeded"
fi
grep -q 'rv=CKR_ENCRYPTED_DATA_INVALID' "$KMS_DIR/err" || kms_fail "wrong AAD: $(cat "$KMS_DIR/err")"
[ ! -s "$KMS_DIR/back2" ] || kms_fail "wrong AAD produced output"

# Unknown key name: object not found (empty FindObjects), exit 3.
set +e
"$KMS_P11" "$KMS_MODULE" wrap kek-missing "ctx=1" <"$KMS_DIR/dek" >/dev/null 2>"$KMS_DIR/err"
rc=$?
set -e
{ [ "$rc" -eq 3 ] && grep -q 'object not found' "$KMS_DIR/err"; } || kms_fail "unknown key: rc=$rc $(cat "$KMS_DIR/err")"

# Debug log: operations are logged, the DEK and AAD never are.
ENVELOPE_KMS_DEBUG=file:$KMS_DIR/debug.log "$KMS_P11" "$KMS_MODULE" unwrap kek-a "ctx=1" \
  <"$KMS_DIR/blob" >/dev/null || kms_fail "unwrap with debug log"
grep -q 'Decrypt: ok' "$KMS_DIR/debug.log" || kms_fail "debug log lacks the Decrypt"
grep -q 'data encryption key' "$KMS_DIR/debug.log" && kms_fail "debug log holds the DEK"
grep -q 'ctx=1' "$KMS_DIR/debug.log" && kms_fail "debug log holds the AAD"
xxd -p "$KMS_DIR/dek" | tr -d '\n' >"$KMS_DIR/dekhex"
grep -qi "$(cut -c1-16 "$KMS_DIR/dekhex")" "$KMS_DIR/debug.log" && kms_fail "debug log holds DEK hex"
echo "PASS kms_semantics"
