#!/usr/bin/env bash
# The module refuses a bad config at C_Initialize and says which key and
# line are wrong, on stderr, for any PKCS#11 consumer (here pkcs11-tool and
# kms_p11): a group-readable client key, a bad number, no config at all.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
asan_rt=$(ldd "$KMS_MODULE" | awk '/libclang_rt.asan/ {print $3}')
tool() { LD_PRELOAD=${asan_rt:-} ASAN_OPTIONS=detect_leaks=0 pkcs11-tool --module "$KMS_MODULE" "$@"; }

# Unreachable KMS: the module still initialises (reachability is per call).
tool -L >"$KMS_DIR/out" 2>&1 || kms_fail "-L with the KMS down: $(cat "$KMS_DIR/out")"

chmod 640 "$KMS_DIR/client-a.key"
if tool -L >"$KMS_DIR/out" 2>&1; then kms_fail "group-readable key accepted"; fi
grep -q "kms.conf line 9: \[kms\] key-file: .*accessible by group/others (mode 0640); run: chmod 600" "$KMS_DIR/out" \
  || kms_fail "key mode message: $(cat "$KMS_DIR/out")"
chmod 600 "$KMS_DIR/client-a.key"

kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port" "timeout-ms = soon"
set +e
"$KMS_P11" "$KMS_MODULE" find kek-a >/dev/null 2>"$KMS_DIR/err"
rc=$?
set -e
{ [ "$rc" -eq 2 ] && grep -q 'line 11: \[kms\] timeout-ms: "soon" is not a number' "$KMS_DIR/err"; } \
  || kms_fail "bad timeout: rc=$rc $(cat "$KMS_DIR/err")"

# A client certificate that does not match the key.
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
sed -i "s|cert-file = .*|cert-file = $KMS_DIR/client-b.pem|" "$KMS_DIR/kms.conf"
if tool -L >"$KMS_DIR/out" 2>&1; then kms_fail "mismatched cert/key accepted"; fi
grep -q 'key-file does not match cert-file' "$KMS_DIR/out" || kms_fail "mismatch message: $(cat "$KMS_DIR/out")"

# An encrypted client key: C_Login's PIN is its passphrase.
openssl pkey -in "$KMS_DIR/client-a.key" -aes256 -passout pass:sekret -out "$KMS_DIR/enc.key"
chmod 600 "$KMS_DIR/enc.key"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
sed -i "s|key-file = .*|key-file = $KMS_DIR/enc.key|" "$KMS_DIR/kms.conf"
tool -L 2>&1 | grep -q 'login required' || kms_fail "encrypted key: token does not say login required"
kms_server_start main "$port"
tool --login --pin wrong --list-objects >"$KMS_DIR/out" 2>&1 && kms_fail "wrong passphrase accepted"
grep -q 'CKR_PIN_INCORRECT' "$KMS_DIR/out" || kms_fail "wrong passphrase: $(cat "$KMS_DIR/out")"
tool --login --pin sekret --keygen --key-type AES:32 --label kek-enc >/dev/null 2>&1 || kms_fail "login with the passphrase"
tool --login --pin sekret --list-objects 2>&1 | grep -q 'label: *kek-enc' || kms_fail "list after login"
# After C_Logout the key is unloaded: a wrong passphrase does not log in again.
"$KMS_P11" "$KMS_MODULE" relogin sekret kek-enc >"$KMS_DIR/out" 2>&1 || kms_fail "relogin: $(cat "$KMS_DIR/out")"

unset ENVELOPE_KMS_CONF
if tool -L >"$KMS_DIR/out" 2>&1; then kms_fail "no config accepted"; fi
grep -q 'set ENVELOPE_KMS_CONF' "$KMS_DIR/out" || kms_fail "no-config message: $(cat "$KMS_DIR/out")"
echo "PASS kms_config"
