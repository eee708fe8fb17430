#!/usr/bin/env bash
# kek-preference (docs/PROVIDER.md): a message with a KMS EDK first and a
# SoftHSM2 EDK second, decrypted from its own references. Without a
# preference the KMS is asked first; with kek-preference naming the token
# first the KMS is not asked at all (its bridge logs no Decrypt); a
# preference naming the KMS first asks it again. Real PyKMIP and SoftHSM2.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
# shellcheck source=softhsm.sh
source "$(dirname "$KMS_HARNESS")/../softhsm.sh"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port" "retries = 1"
kms_module_conf "$KMS_DIR/kms-b.conf" client-b "127.0.0.1:$port"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf

softhsm_setup "$KMS_DIR/hsm" "$ENV_PROVIDER_DIR" envtest
# pkcs11-tool must not load the provider softhsm_setup configured (an ASan
# build of envelope.so cannot load into an uninstrumented program).
OPENSSL_CONF=/dev/null softhsm_keygen_aes hsm-kek 01
"$KMS_P11" "$KMS_MODULE" keygen kek-a >/dev/null || kms_fail "KMS keygen"

cnf() { # FILE MODULES [EXTRA_LINE]
  cat >"$1" <<CONF
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
pkcs11-module = $2
pkcs11-pin-source = file:$ENV_PIN_FILE
pkcs11-tokens = envtest, kms
${3:-}
activate = 1
CONF
}
cnf "$KMS_DIR/both.cnf" "$ENV_P11_MODULE, $KMS_MODULE"
export OPENSSL_CONF=$KMS_DIR/both.cnf
KMS='pkcs11:token=kms;object=kek-a'
HSM='pkcs11:token=envtest;object=hsm-kek'
cd "$KMS_DIR"
printf 'preferred\n' >pt
"$ENVELOPE_CLI" encrypt --kek "$KMS" --kek "$HSM" -o ct pt || kms_fail "encrypt with both KEKs"
decrypts() { # CONF -> number of KMS Decrypt calls a keyless decrypt made
  rm -f "$KMS_DIR/bridge.log" back
  OPENSSL_CONF=$1 ENVELOPE_KMS_DEBUG=file:$KMS_DIR/bridge.log "$ENVELOPE_CLI" decrypt -o back ct ||
    kms_fail "decrypt with $1"
  cmp -s pt back || kms_fail "round trip with $1"
  grep -c 'Decrypt' "$KMS_DIR/bridge.log" || true
}
cnf "$KMS_DIR/none.cnf" "$ENV_P11_MODULE, $KMS_MODULE" ""
cnf "$KMS_DIR/token-first.cnf" "$ENV_P11_MODULE, $KMS_MODULE" "kek-preference = pkcs11:token=envtest"
cnf "$KMS_DIR/kms-first.cnf" "$ENV_P11_MODULE, $KMS_MODULE" \
  "kek-preference = pkcs11:token=kms, pkcs11:token=envtest"
n=$(decrypts "$KMS_DIR/none.cnf")
[ "$n" -ge 1 ] || kms_fail "without a preference the first EDK (the KMS's) was not tried ($n)"
n=$(decrypts "$KMS_DIR/token-first.cnf")
[ "$n" -eq 0 ] || kms_fail "kek-preference = token first still asked the KMS ($n Decrypt calls)"
n=$(decrypts "$KMS_DIR/kms-first.cnf")
[ "$n" -ge 1 ] || kms_fail "kek-preference = KMS first did not ask the KMS ($n)"
echo "PASS kms_preference"
