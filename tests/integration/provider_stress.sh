#!/usr/bin/env bash
# provider_stress.sh BIN - provider.mixed.stress: BIN (provider_stress.c)
# runs 8 threads x N mixed operations on a SoftHSM2 token (AES and RSA
# KEKs), a swtpm (an EC P-256 KEK) and a PyKMIP server behind the
# kms-bridge (an AES key), all started here on loopback with their state in
# one temporary folder, while another thread forks. The unwrap cache is on
# (its hits and misses are part of the mix).
#   ENVELOPE_STRESS_OPS   operations per thread (default 300; scripts/test.sh
#                         runs 2000 in the ThreadSanitizer build,
#                         scripts/stress.sh 100000)
#   env from ctest: ENV_PROVIDER_DIR ENVELOPE_CLI KMS_MODULE KMS_P11 KMS_HARNESS
set -euo pipefail
bin=$1
ops=${ENVELOPE_STRESS_OPS:-300}
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
here=$(cd "$(dirname "$KMS_HARNESS")/.." && pwd)
# shellcheck source=softhsm.sh
source "$here/softhsm.sh"
# shellcheck source=swtpm.sh
source "$here/swtpm.sh"
kms_setup
ENV_CLEANUP=kms_cleanup # swtpm's EXIT trap runs it after stopping the TPM
port=$(kms_free_port)
kms_server_start main "$port"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
swtpm_start "$KMS_DIR/tpm"

softhsm_setup "$KMS_DIR/hsm" "$ENV_PROVIDER_DIR" envtest
# the key makers are uninstrumented programs: they must not load the
# (maybe sanitized) provider
OPENSSL_CONF=/dev/null softhsm_keygen_aes kek-aes 01
OPENSSL_CONF=/dev/null softhsm_keygen_rsa kek-rsa 02
envelope_run_own "$KMS_P11" "$KMS_MODULE" keygen kek-kms >/dev/null || kms_fail "KMS keygen"
envelope_write_conf "$ENV_PROVIDER_DIR" "pkcs11-module = $ENV_P11_MODULE, $KMS_MODULE" \
  "pkcs11-pin-source = file:$ENV_PIN_FILE" "pkcs11-tokens = envtest, kms" \
  "tpm2-tcti = $ENVELOPE_TPM2_TCTI" "tpm2-handles = 0x81000101"
tpm=$(envelope_run_own "$ENVELOPE_CLI" kek create --type ec-p256 tpm2:handle=0x81000101)

export STRESS_AES_URI="pkcs11:token=envtest;object=kek-aes;type=secret-key"
export STRESS_RSA_URI="pkcs11:token=envtest;object=kek-rsa;type=private"
export STRESS_KMS_URI="pkcs11:token=kms;object=kek-kms"
export STRESS_TPM_URI=$tpm
cd "$KMS_DIR"
echo "stress: 8 threads x $ops operations (SoftHSM2, swtpm, PyKMIP) and forks"
envelope_run_own "$bin" "$ops"
