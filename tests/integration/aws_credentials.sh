#!/usr/bin/env bash
# kms.aws.credentials: each source of the credential chain proven by a call
# through the bridge (pkcs11-tool --list-objects: ListAliases, DescribeKey),
# each against its loopback endpoint of the AWS test server, which counts
# what it issued:
#  - environment (long-term keys; a session token the server does not know
#    is refused);
#  - shared credentials file with a profile (AWS_PROFILE, and the slot's
#    `profile`), and the config file's [profile NAME];
#  - web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN -> STS
#    AssumeRoleWithWebIdentity (AWS_ENDPOINT_URL_STS on the test server);
#  - container: AWS_CONTAINER_CREDENTIALS_FULL_URI + authorization token
#    (and from a file); a wrong token is refused;
#  - IMDSv2: token PUT, then GET (AWS_EC2_METADATA_SERVICE_ENDPOINT); the
#    server refuses IMDSv1;
#  - an expired session token (ExpiredTokenException) is refreshed: the
#    credentials are fetched again and the call succeeds.
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
export ENVELOPE_KMS_CONF=$AWS_DIR/kms.conf
export ENVELOPE_KMS_DEBUG=file:$AWS_DIR/debug.log
cd "$AWS_DIR"
p11() { OPENSSL_CONF=/dev/null pkcs11-tool --module "$KMS_MODULE" "$@"; }
listed() { grep -q "label: *alias/payments" last.out || bad "$1: alias/payments not listed: $(cat last.out last.err)"; }
source_was() { tail -n 30 debug.log | grep "credentials from" | tail -1 | grep -q "$1" || bad "credentials not from $1: $(grep 'credentials' debug.log | tail -2)"; }

# no source at all
run 1 "no credentials" p11 --list-objects || true
grep -q "no AWS credentials" debug.log || bad "no-credentials reason not logged"

# environment
AWS_ACCESS_KEY_ID=AKIDADMIN AWS_SECRET_ACCESS_KEY=adminSecretKey/+0123456789abcdefghijklmno \
  run 0 "environment" p11 --list-objects && listed environment
source_was environment
AWS_ACCESS_KEY_ID=AKIDADMIN AWS_SECRET_ACCESS_KEY=adminSecretKey/+0123456789abcdefghijklmno \
  AWS_SESSION_TOKEN=not-a-session run 0 "environment with a token the server ignores for long-term keys" p11 --list-objects || true

# shared files and profiles
cat >credentials <<'INI'
[default]
aws_access_key_id = AKIDNOSUCH
aws_secret_access_key = nope
[payments]
aws_access_key_id = AKIDADMIN
aws_secret_access_key = adminSecretKey/+0123456789abcdefghijklmno
INI
cat >config <<'INI'
[profile cfgonly]
region = eu-west-1
aws_access_key_id = AKIDADMIN
aws_secret_access_key = adminSecretKey/+0123456789abcdefghijklmno
INI
chmod 600 credentials config
AWS_SHARED_CREDENTIALS_FILE=$AWS_DIR/credentials AWS_CONFIG_FILE=$AWS_DIR/config AWS_PROFILE=payments \
  run 0 "shared credentials file, AWS_PROFILE=payments" p11 --list-objects && listed "credentials file"
source_was "shared credentials"
AWS_SHARED_CREDENTIALS_FILE=$AWS_DIR/credentials AWS_CONFIG_FILE=$AWS_DIR/config \
  run 1 "shared credentials file, [default] is unknown to the server" p11 --list-objects || true
grep -q "UnrecognizedClientException" debug.log || bad "the [default] keys were not refused by the server"
aws_module_conf "$AWS_DIR/kms-profile.conf" "profile = cfgonly"
AWS_SHARED_CREDENTIALS_FILE=$AWS_DIR/credentials AWS_CONFIG_FILE=$AWS_DIR/config ENVELOPE_KMS_CONF=$AWS_DIR/kms-profile.conf \
  run 0 "config file [profile cfgonly], named by the slot" p11 --list-objects && listed "config profile"

# web identity via the test server's STS
printf '%s' "$AWS_WEB_TOKEN" >web-token
aws_ctl /_test/reset-stats
AWS_WEB_IDENTITY_TOKEN_FILE=$AWS_DIR/web-token AWS_ROLE_ARN=arn:aws:iam::111122223333:role/envelope-kek \
  AWS_ENDPOINT_URL_STS=$AWS_ENDPOINT AWS_CA_BUNDLE=$AWS_DIR/ca.pem \
  run 0 "web identity (STS AssumeRoleWithWebIdentity)" p11 --list-objects && listed "web identity"
[ "$(aws_stat sts)" -eq 1 ] || bad "STS issued $(aws_stat sts) sessions, wanted 1"
source_was "web identity"
echo forged >bad-token
AWS_WEB_IDENTITY_TOKEN_FILE=$AWS_DIR/bad-token AWS_ROLE_ARN=arn:aws:iam::111122223333:role/envelope-kek \
  AWS_ENDPOINT_URL_STS=$AWS_ENDPOINT run 1 "web identity with a forged token" p11 --list-objects || true
grep -q "InvalidIdentityToken" debug.log || bad "a forged web identity token was not refused by STS"

# container endpoint
AWS_CONTAINER_CREDENTIALS_FULL_URI=$AWS_CTL/container/creds AWS_CONTAINER_AUTHORIZATION_TOKEN=$AWS_CONTAINER_TOKEN \
  run 0 "container endpoint" p11 --list-objects && listed container
[ "$(aws_stat container)" -eq 1 ] || bad "the container endpoint issued $(aws_stat container) sessions"
source_was "container"
printf '%s\n' "$AWS_CONTAINER_TOKEN" >ct-token
AWS_CONTAINER_CREDENTIALS_FULL_URI=$AWS_CTL/container/creds AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$AWS_DIR/ct-token \
  run 0 "container endpoint, token from a file" p11 --list-objects && listed "container token file"
AWS_CONTAINER_CREDENTIALS_FULL_URI=$AWS_CTL/container/creds AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong \
  run 1 "container endpoint with a wrong token" p11 --list-objects || true
grep -q "container credentials endpoint at .*HTTP 401" debug.log || bad "the wrong container token was not refused"
AWS_CONTAINER_CREDENTIALS_FULL_URI=http://192.0.2.1/creds run 1 "container URI to a non-loopback http host" p11 --list-objects || true
grep -q "must be https://, or http:// to a loopback" debug.log || bad "a plain-http remote container URI was not refused"

# IMDSv2
unset AWS_EC2_METADATA_DISABLED
AWS_EC2_METADATA_SERVICE_ENDPOINT=$AWS_CTL run 0 "instance metadata (IMDSv2)" p11 --list-objects && listed IMDSv2
if [ "$(aws_stat imds-token)" -lt 1 ] || [ "$(aws_stat imds)" -ne 1 ]; then
  bad "IMDSv2: token PUTs $(aws_stat imds-token), credentials $(aws_stat imds)"
fi
source_was "IMDSv2"
code=$(env -u LD_PRELOAD -u OPENSSL_CONF -u OPENSSL_MODULES curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "$AWS_CTL/latest/meta-data/iam/security-credentials/")
[ "$code" = 401 ] || bad "the test server answered IMDSv1 (HTTP $code)"
export AWS_EC2_METADATA_DISABLED=true

# An expired session token (the server expires every session between two
# rounds of one process): ExpiredTokenException, the credentials are
# fetched again, the call is retried and succeeds.
export AWS_CONTAINER_CREDENTIALS_FULL_URI=$AWS_CTL/container/creds AWS_CONTAINER_AUTHORIZATION_TOKEN=$AWS_CONTAINER_TOKEN
aws_ctl /_test/reset-stats
run 0 "expired session token refreshed (one process)" envelope_run_own "$AWS_PROBE" "$KMS_MODULE" \
  alias/payments 2 0 "env -u LD_PRELOAD -u OPENSSL_CONF -u OPENSSL_MODULES curl -sf --noproxy '*' -X POST -d '{}' $AWS_CTL/_test/expire >/dev/null"
[ "$(aws_stat error:ExpiredTokenException)" -eq 1 ] || bad "ExpiredTokenException seen $(aws_stat error:ExpiredTokenException) times, wanted 1"
[ "$(aws_stat container)" -eq 2 ] || bad "credentials fetched $(aws_stat container) times, wanted 2"

# Temporary credentials are refreshed before they expire, by the refresher
# thread: sessions of 24 s are fetched again after 12 s (half their life),
# so a call 14 s later finds fresh ones and never meets an expired token.
aws_server_stop
sed -i 's/"session_seconds": [0-9]*/"session_seconds": 24/' config.json
aws_server_start
aws_ctl /_test/reset-stats
run 0 "refresh before expiry (one process, 14 s apart)" envelope_run_own "$AWS_PROBE" "$KMS_MODULE" alias/payments 2 14
[ "$(aws_stat container)" -eq 2 ] || bad "credentials fetched $(aws_stat container) times in 14 s of 24 s sessions, wanted 2"
[ "$(aws_stat error:ExpiredTokenException)" -eq 0 ] || bad "a call met an expired token"
unset AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "kms.aws.credentials: all passed"
