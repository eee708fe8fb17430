# shellcheck shell=bash
# harness.sh - sourced by the aws_*.sh integration tests: the loopback AWS
# KMS test server (aws_test_server.py, on Debian's /usr/bin/python3 with
# python3-cryptography and python3-botocore) with its own CA, in one temp
# folder that the EXIT trap removes.
#
#   aws_setup                 creates $AWS_DIR and its config.json: principals
#                             AKIDADMIN (everything), AKIDREADER (DescribeKey,
#                             ListAliases and GetPublicKey only), a role for web
#                             identity, the container and IMDS
#   aws_server_start [PREFIX] starts the server (certificate PREFIXcert.pem,
#                             made on first start; on ::1 with AWS_TLS_HOST=::1)
#                             and sets AWS_TLS_PORT, AWS_HTTP_PORT, AWS_ENDPOINT,
#                             AWS_CTL
#   aws_server_stop           SIGKILLs it, waits until its port is closed
#   aws_ctl PATH [JSON]       POSTs a test control (/_test/throttle ...)
#   aws_stat NAME             prints a counter of /_test/stats (0 if none)
#   aws_module_conf FILE [extra lines]
#                             writes the bridge's config: one aws-kms slot
#                             "aws" on the server
#
# The server keeps its keys in $AWS_DIR/state.json across restarts.

AWS_PY=/usr/bin/python3 # Debian's interpreter owns python3-botocore
AWS_SERVER=$(dirname "${BASH_SOURCE[0]}")/aws_test_server.py
AWS_PID=""

aws_fail() {
  echo "FAIL: $*" >&2
  exit 1
}

aws_cleanup() {
  if [ -n "$AWS_PID" ]; then
    kill -KILL "$AWS_PID" 2>/dev/null || true
    { wait "$AWS_PID"; } 2>/dev/null || true
  fi
  if [ -n "${AWS_DIR:-}" ] && [ -z "${AWS_KEEP:-}" ]; then rm -rf "$AWS_DIR"; fi
}

aws_setup() {
  AWS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/aws-it.XXXXXX")
  trap aws_cleanup EXIT
  trap 'exit 130' INT TERM
  AWS_WEB_TOKEN="eyJhbGciOiJSUzI1NiJ9.$(head -c 24 /dev/urandom | base64 | tr -d '/+=').sig"
  AWS_CONTAINER_TOKEN="ct-$(head -c 16 /dev/urandom | xxd -p)"
  cat >"$AWS_DIR/config.json" <<JSON
{"account": "111122223333", "region": "eu-west-1",
 "principals": {
   "AKIDADMIN": {"secret": "adminSecretKey/+0123456789abcdefghijklmno", "name": "admin",
                 "allow": [{"resource": "*", "actions": ["kms:*"]}]},
   "AKIDREADER": {"secret": "readerSecretKey/+0123456789abcdefghijklm", "name": "reader",
                  "allow": [{"resource": "*", "actions": ["kms:DescribeKey", "kms:ListAliases",
                                                         "kms:GetPublicKey"]}]}},
 "roles": {"arn:aws:iam::111122223333:role/envelope-kek":
             {"allow": [{"resource": "*", "actions": ["kms:*"]}]}},
 "web_identity_token": "$AWS_WEB_TOKEN",
 "container_token": "$AWS_CONTAINER_TOKEN",
 "role_for_container": "arn:aws:iam::111122223333:role/envelope-kek",
 "role_for_imds": "arn:aws:iam::111122223333:role/envelope-kek",
 "session_seconds": ${AWS_SESSION_SECONDS:-900}}
JSON
}

aws_port_open() { # PORT -> 0 if something accepts on it
  "$AWS_PY" -c 'import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(0 if s.connect_ex(("127.0.0.1",int(sys.argv[1])))==0 else 1)' "$1"
}

# shellcheck disable=SC2120 # the certificate prefix is optional: most callers give none
aws_server_start() { # [CERT-PREFIX]
  local prefix=${1:-} args=()
  rm -f "$AWS_DIR/ports.json"
  # The same ports again after a restart, so clients can reconnect.
  if [ -n "${AWS_TLS_PORT:-}" ]; then args=(--tls-port "$AWS_TLS_PORT" --http-port "$AWS_HTTP_PORT"); fi
  args+=(--tls-host "${AWS_TLS_HOST:-127.0.0.1}")
  env -u OPENSSL_CONF -u OPENSSL_MODULES -u LD_PRELOAD "$AWS_PY" "$AWS_SERVER" --dir "$AWS_DIR" \
    --config "$AWS_DIR/config.json" --cert-prefix "$prefix" "${args[@]}" \
    >>"$AWS_DIR/server.out" 2>&1 </dev/null &
  AWS_PID=$!
  for _ in $(seq 1 200); do
    if [ -s "$AWS_DIR/ports.json" ]; then
      AWS_TLS_PORT=$("$AWS_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tls"])' "$AWS_DIR/ports.json")
      AWS_HTTP_PORT=$("$AWS_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$AWS_DIR/ports.json")
      AWS_ENDPOINT="https://127.0.0.1:$AWS_TLS_PORT"
      if [ "${AWS_TLS_HOST:-}" = ::1 ]; then AWS_ENDPOINT="https://[::1]:$AWS_TLS_PORT"; fi
      AWS_CTL="http://127.0.0.1:$AWS_HTTP_PORT"
      export AWS_TLS_PORT AWS_HTTP_PORT AWS_ENDPOINT AWS_CTL
      return 0
    fi
    kill -0 "$AWS_PID" 2>/dev/null || {
      tail -20 "$AWS_DIR/server.out" >&2
      aws_fail "the AWS test server died at start"
    }
    sleep 0.1
  done
  aws_fail "the AWS test server did not listen within 20 s"
}

aws_server_stop() {
  [ -n "$AWS_PID" ] || return 0
  kill -KILL "$AWS_PID" 2>/dev/null || true
  { wait "$AWS_PID"; } 2>/dev/null || true
  AWS_PID=""
  for _ in $(seq 1 100); do
    aws_port_open "$AWS_TLS_PORT" || return 0
    sleep 0.1
  done
  aws_fail "port $AWS_TLS_PORT still open after killing the AWS test server"
}

aws_ctl() { # PATH [JSON]
  env -u LD_PRELOAD -u OPENSSL_CONF -u OPENSSL_MODULES curl -sf --noproxy '*' -X POST -d "${2:-{\}}" "$AWS_CTL$1" >/dev/null || aws_fail "control $1 failed"
}

aws_stat() { # NAME
  env -u LD_PRELOAD -u OPENSSL_CONF -u OPENSSL_MODULES curl -sf --noproxy '*' "$AWS_CTL/_test/stats" |
    "$AWS_PY" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1"
}

aws_module_conf() { # FILE [extra]
  cat >"$1" <<CONF
# written by tests/integration/aws/harness.sh
slots = aws

[aws]
protocol = aws-kms
label = aws
region = eu-west-1
endpoint = $AWS_ENDPOINT
ca-file = $AWS_DIR/ca.pem
timeout-ms = ${AWS_TIMEOUT_MS:-5000}
${2:-}
CONF
}

aws_keys() { # ARGS... (aws_keys.py)
  env -u OPENSSL_CONF -u OPENSSL_MODULES -u LD_PRELOAD "$AWS_PY" \
    "$(dirname "${BASH_SOURCE[0]}")/aws_keys.py" "$AWS_ENDPOINT" "$AWS_DIR/ca.pem" "$@"
}

# The provider's openssl.cnf: envelope.so with the given PKCS#11 modules.
aws_openssl_cnf() { # FILE MODULES TOKENS [SETTING_LINE...]
  local extra=""
  [ "$#" -le 3 ] || extra=$(printf '%s\n' "${@:4}")
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
pkcs11-pin-source = file:$AWS_DIR/pin
pkcs11-tokens = $3
$extra
activate = 1
CONF
}

# Only the credentials a test gives: nothing of the machine's own.
aws_clean_env() {
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
    AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ROLE_SESSION_NAME AWS_ENDPOINT_URL_STS \
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
    AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \
    AWS_EC2_METADATA_SERVICE_ENDPOINT HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy
  export AWS_SHARED_CREDENTIALS_FILE=$AWS_DIR/no-credentials AWS_CONFIG_FILE=$AWS_DIR/no-config
  export AWS_EC2_METADATA_DISABLED=true
}

aws_admin_env() {
  export AWS_ACCESS_KEY_ID=AKIDADMIN AWS_SECRET_ACCESS_KEY=adminSecretKey/+0123456789abcdefghijklmno
}

# run WANT_RC DESC CMD...: runs CMD, checks its exit code, counts failures in $fails.
fails=0
bad() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
run() {
  local want=$1 desc=$2 rc=0
  shift 2
  "$@" >last.out 2>last.err || rc=$?
  if [ "$rc" -ne "$want" ]; then
    bad "$desc: exit $rc, wanted $want: $(head -c 600 last.err)"
    return 1
  fi
  echo "ok: $desc (exit $rc)"
}
