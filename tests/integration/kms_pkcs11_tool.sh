#!/usr/bin/env bash
# pkcs11-tool (OpenSC, a real PKCS#11 consumer) against envelope-kms-pkcs11.so
# and a real PyKMIP server: -L, -M, --keygen, --list-objects, --generate-random,
# --delete-object. pkcs11-tool 0.23 cannot pass GCM parameters; kms_semantics.sh
# covers encrypt/decrypt.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
# An ASan build of the module needs the ASan runtime loaded first in the
# (uninstrumented) pkcs11-tool; leak checking stays with kms_p11's tests,
# pkcs11-tool's own allocations are not ours to judge.
asan_rt=$(ldd "$KMS_MODULE" | awk '/libclang_rt.asan/ {print $3}')
tool() {
  if [ -n "$asan_rt" ]; then
    LD_PRELOAD=$asan_rt ASAN_OPTIONS=detect_leaks=0 pkcs11-tool --module "$KMS_MODULE" "$@"
  else
    pkcs11-tool --module "$KMS_MODULE" "$@"
  fi
}

out=$(tool -L)
grep -q 'token label *: kms$' <<<"$out" || kms_fail "-L shows no token 'kms': $out"
grep -q 'token model *: KMIP 1.4' <<<"$out" || kms_fail "-L: model"

out=$(tool -M)
grep -q 'AES-GCM' <<<"$out" || kms_fail "-M lacks AES-GCM: $out"
grep -q 'AES-KEY-GEN' <<<"$out" || kms_fail "-M lacks AES-KEY-GEN: $out"
[ "$(grep -c 'keySize' <<<"$out")" -eq 2 ] || kms_fail "-M lists other mechanisms: $out"

out=$(tool --list-objects 2>&1)
grep -q 'Secret Key Object' <<<"$out" && kms_fail "fresh KMS already lists a key: $out"

tool --keygen --key-type AES:32 --label kek-a >"$KMS_DIR/keygen.out" 2>&1 || { cat "$KMS_DIR/keygen.out"; kms_fail "--keygen"; }
grep -q 'label: *kek-a' "$KMS_DIR/keygen.out" || kms_fail "--keygen output: $(cat "$KMS_DIR/keygen.out")"
# Only AES-256 KEKs are created.
if tool --keygen --key-type AES:16 --label kek-short >/dev/null 2>&1; then kms_fail "AES-128 keygen accepted"; fi
# A second key of the same name would make object=kek-a ambiguous.
if tool --keygen --key-type AES:32 --label kek-a >/dev/null 2>&1; then kms_fail "duplicate label accepted"; fi

out=$(tool --list-objects 2>&1)
[ "$(grep -c 'Secret Key Object; AES length 32' <<<"$out")" -eq 1 ] || kms_fail "--list-objects: $out"
grep -q 'label: *kek-a' <<<"$out" || kms_fail "--list-objects label: $out"
grep -q 'Access: *sensitive' <<<"$out" || kms_fail "key not shown sensitive: $out"
grep -q 'extractable' <<<"$out" && kms_fail "key shown extractable: $out"

# The key really is on the server: the PyKMIP database has it.
[ -s "$KMS_DIR/main.db" ] || kms_fail "no PyKMIP database"

tool --generate-random 32 | od -An -tx1 | tr -d ' \n' | grep -Eq '^[0-9a-f]{64}$' || kms_fail "--generate-random"

tool --delete-object --type secrkey --label kek-a >/dev/null 2>&1 || kms_fail "--delete-object"
out=$(tool --list-objects 2>&1)
grep -q 'kek-a' <<<"$out" && kms_fail "key still listed after delete: $out"
echo "PASS kms_pkcs11_tool"
