#!/usr/bin/env bash
# kms.aws.boto3-fidelity: the AWS test server as AWS's own SDK (boto3) sees it.
set -euo pipefail
# shellcheck source=aws/harness.sh
source "$(dirname "$0")/aws/harness.sh"
aws_setup
aws_server_start
env -u OPENSSL_CONF -u OPENSSL_MODULES -u LD_PRELOAD -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
  -u AWS_SESSION_TOKEN -u AWS_PROFILE AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  "$AWS_PY" "$(dirname "$0")/aws/boto3_fidelity.py" "$AWS_ENDPOINT" "$AWS_DIR/ca.pem" \
  "$AWS_WEB_TOKEN" "$AWS_CTL"
