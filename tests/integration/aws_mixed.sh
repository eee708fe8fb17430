#!/usr/bin/env bash
# provider.mixed.aws-and-hsm: an aws-kms slot listed next to SoftHSM2 and a
# KMIP-less bridge in pkcs11-module; one message wrapped by an AWS KMS key
# and a SoftHSM2 key decrypts with either alone (the AWS test server
# stopped, or the AWS module not configured).
set -euo pipefail
# shellcheck source=aws/harness.sh
source "$AWS_HARNESS"
# shellcheck source=softhsm.sh
source "$(dirname "$AWS_HARNESS")/../softhsm.sh"
aws_setup
aws_server_start
aws_keys alias/payments SYMMETRIC_DEFAULT >/dev/null
aws_module_conf "$AWS_DIR/kms.conf"
aws_clean_env
aws_admin_env
export ENVELOPE_KMS_CONF=$AWS_DIR/kms.conf
softhsm_setup "$AWS_DIR/hsm" "$ENV_PROVIDER_DIR" envtest
OPENSSL_CONF=/dev/null softhsm_keygen_aes hsm-kek 01
cp "$ENV_PIN_FILE" "$AWS_DIR/pin"
aws_openssl_cnf "$AWS_DIR/both.cnf" "$ENV_P11_MODULE, $KMS_MODULE" "envtest, aws"
aws_openssl_cnf "$AWS_DIR/hsmonly.cnf" "$ENV_P11_MODULE" envtest
aws_openssl_cnf "$AWS_DIR/awsonly.cnf" "$KMS_MODULE" aws
AWS='pkcs11:token=aws;object=alias%2Fpayments'
HSM='pkcs11:token=envtest;object=hsm-kek'
cd "$AWS_DIR"
head -c 100000 /dev/urandom >pt

OPENSSL_CONF=$AWS_DIR/both.cnf run 0 "encrypt with an AWS and a SoftHSM2 KEK" \
  envelope_run_own "$ENVELOPE_CLI" encrypt --kek "$AWS" --kek "$HSM" --context app=mixed -o ct pt
OPENSSL_CONF=$AWS_DIR/awsonly.cnf run 0 "decrypt with the AWS key alone" \
  envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$AWS" -o back.aws ct
cmp -s pt back.aws || bad "AWS-alone plaintext differs"
aws_server_stop
OPENSSL_CONF=$AWS_DIR/hsmonly.cnf run 0 "decrypt with SoftHSM2 alone (AWS server stopped)" \
  envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$HSM" -o back.hsm ct
cmp -s pt back.hsm || bad "SoftHSM2-alone plaintext differs"
OPENSSL_CONF=$AWS_DIR/both.cnf run 0 "decrypt with both configured, AWS down" \
  envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$HSM" -o back.both ct
cmp -s pt back.both || bad "both-configured plaintext differs"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "provider.mixed.aws-and-hsm: all passed"
