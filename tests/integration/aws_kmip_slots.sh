#!/usr/bin/env bash
# kms.mixed.kmip-and-aws: one envelope-kms-pkcs11.so with a KMIP slot
# (PyKMIP over mutual TLS) and an aws-kms slot (the AWS test server) side
# by side: pkcs11-tool lists both tokens; one message wrapped by a KMIP key
# and an AWS key decrypts with either (the other server stopped).
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
# shellcheck source=aws/harness.sh
source "$AWS_HARNESS"
# shellcheck source=softhsm.sh
source "$(dirname "$AWS_HARNESS")/../softhsm.sh"
kms_setup
aws_setup
trap 'aws_cleanup; kms_cleanup' EXIT
port=$(kms_free_port)
kms_server_start main "$port"
aws_server_start
aws_keys alias/payments SYMMETRIC_DEFAULT >/dev/null
aws_clean_env
aws_admin_env
# The bridge's config: the KMIP slot "kms" and the AWS slot "aws".
kms_module_conf "$AWS_DIR/both.conf" client-a "127.0.0.1:$port"
sed -i 's/^slots = kms$/slots = kms, aws/' "$AWS_DIR/both.conf"
aws_module_conf "$AWS_DIR/aws-part.conf"
sed -n '/^\[aws\]/,$p' "$AWS_DIR/aws-part.conf" >>"$AWS_DIR/both.conf"
export ENVELOPE_KMS_CONF=$AWS_DIR/both.conf
cd "$AWS_DIR"
"$KMS_P11" "$KMS_MODULE" keygen kek-a >/dev/null || bad "KMIP keygen"
run 0 "pkcs11-tool -L" env OPENSSL_CONF=/dev/null pkcs11-tool --module "$KMS_MODULE" -L
grep -q "token model *: KMIP 1.4" last.out || bad "no KMIP token: $(cat last.out)"
grep -q "token model *: AWS KMS" last.out || bad "no AWS token: $(cat last.out)"
echo unused >pin
aws_openssl_cnf "$AWS_DIR/openssl.cnf" "$KMS_MODULE" "kms, aws"
export OPENSSL_CONF=$AWS_DIR/openssl.cnf
head -c 50000 /dev/urandom >pt
KMIP='pkcs11:token=kms;object=kek-a'
AWS='pkcs11:token=aws;object=alias%2Fpayments'
run 0 "encrypt with a KMIP and an AWS KEK" envelope_run_own "$ENVELOPE_CLI" encrypt --kek "$KMIP" --kek "$AWS" -o ct pt
kms_server_stop main
run 0 "decrypt with the AWS key (PyKMIP stopped)" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$AWS" -o back.aws ct
cmp -s pt back.aws || bad "AWS plaintext differs"
kms_server_start main "$port"
aws_server_stop
run 0 "decrypt with the KMIP key (AWS server stopped)" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KMIP" -o back.kmip ct
cmp -s pt back.kmip || bad "KMIP plaintext differs"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "kms.mixed.kmip-and-aws: all passed"
