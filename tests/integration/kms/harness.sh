# shellcheck shell=bash
# harness.sh - sourced by the kms_*.sh integration tests: a real PyKMIP
# server (Debian python3-pykmip, /usr/bin/pykmip-server) over mutual TLS,
# with a throw-away CA, server and two client identities, all in one temp
# folder that the EXIT trap removes.
#
#   kms_setup                    creates $KMS_DIR with ca.pem, server.{pem,key},
#                                client-a.{pem,key}, client-b.{pem,key} (EC P-256)
#   kms_free_port                prints a free loopback TCP port
#   kms_cert_rsa NAME CN EKU SAN creates $KMS_DIR/NAME.{pem,key} with an RSA-2048 key
#                                (kms_server_start uses $KMS_SERVER_CERT, default
#                                "server": set it to an RSA one to start a PyKMIP whose
#                                TLS 1.2 suites share nothing with ours)
#   kms_server_start NAME PORT [DB]
#                                starts pykmip-server NAME on 127.0.0.1:PORT with
#                                its own config, policy folder and sqlite db
#                                ($KMS_DIR/${DB:-NAME}.db, kept across restarts;
#                                two servers given one DB act as a cluster)
#   kms_server_stop NAME         SIGKILLs its process group (pykmip-server ignores
#                                SIGTERM), waits until the port is closed
#   kms_server_freeze NAME       SIGSTOPs it (calls in flight then hang)
#   kms_module_conf FILE CLIENT ENDPOINTS [extra lines]
#                                writes the bridge's config for identity CLIENT
#
# Every server started is stopped by PID on every exit path (trap).

KMS_PY=/usr/bin/python3  # Debian's interpreter owns python3-pykmip
declare -A KMS_PIDS=()
declare -A KMS_PORTS=()

kms_fail() { echo "FAIL: $*" >&2; exit 1; }

kms_cleanup() {
  local name
  for name in "${!KMS_PIDS[@]}"; do
    kill -KILL -- "-${KMS_PIDS[$name]}" 2>/dev/null || true
    kill -KILL "${KMS_PIDS[$name]}" 2>/dev/null || true
  done
  if [ -n "${KMS_DIR:-}" ] && [ -z "${KMS_KEEP:-}" ]; then rm -rf "$KMS_DIR"; fi
}

kms_free_port() {
  "$KMS_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

kms_port_open() { # PORT -> 0 if something accepts on it
  "$KMS_PY" -c 'import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(0 if s.connect_ex(("127.0.0.1",int(sys.argv[1])))==0 else 1)' "$1"
}

kms_cert_rsa() { # NAME CN EKU SAN
  KMS_CERT_ALG=RSA kms_cert "$@"
}

kms_cert() { # NAME CN EKU SAN  (EC P-256, or RSA-2048 with KMS_CERT_ALG=RSA)
  local n=$1 cn=$2 eku=$3 san=$4
  if [ "${KMS_CERT_ALG:-EC}" = RSA ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KMS_DIR/$n.key" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$KMS_DIR/$n.key" 2>/dev/null
  fi
  chmod 600 "$KMS_DIR/$n.key"
  openssl req -new -key "$KMS_DIR/$n.key" -subj "/CN=$cn" -out "$KMS_DIR/$n.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    if [ "${KMS_CERT_ALG:-EC}" = RSA ]; then
      echo "keyUsage=critical,digitalSignature,keyEncipherment"
    else
      echo "keyUsage=critical,digitalSignature,keyAgreement"
    fi
    echo "extendedKeyUsage=$eku"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } >"$KMS_DIR/$n.ext"
  openssl x509 -req -in "$KMS_DIR/$n.csr" -CA "$KMS_DIR/ca.pem" -CAkey "$KMS_DIR/ca.key" \
    -CAcreateserial -days 2 -sha256 -extfile "$KMS_DIR/$n.ext" -out "$KMS_DIR/$n.pem" 2>/dev/null \
    || kms_fail "cannot issue certificate $n"
}

kms_setup() {
  KMS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kms-it.XXXXXX")
  trap kms_cleanup EXIT
  trap 'exit 130' INT TERM
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=envelope test KMS CA" -keyout "$KMS_DIR/ca.key" -out "$KMS_DIR/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null || kms_fail "cannot create the test CA"
  kms_cert server "kms.test" serverAuth "IP:127.0.0.1,DNS:localhost"
  kms_cert client-a "client-a" clientAuth ""
  kms_cert client-b "client-b" clientAuth ""
  mkdir -p "$KMS_DIR/policies"
}

kms_server_start() { # NAME PORT [DB]
  local name=$1 port=$2 db=${3:-$1}
  cat >"$KMS_DIR/$name.conf" <<CONF
[server]
hostname=127.0.0.1
port=$port
certificate_path=$KMS_DIR/${KMS_SERVER_CERT:-server}.pem
key_path=$KMS_DIR/${KMS_SERVER_CERT:-server}.key
ca_path=$KMS_DIR/ca.pem
auth_suite=TLS1.2
policy_path=$KMS_DIR/policies
enable_tls_client_auth=True
logging_level=DEBUG
database_path=$KMS_DIR/$db.db
CONF
  # Own process group (setsid), so the kill reaches its worker processes.
  # Not our OPENSSL_CONF: the server's python-cryptography must not load
  # the envelope provider a test has configured for itself.
  env -u OPENSSL_CONF -u OPENSSL_MODULES setsid pykmip-server -f "$KMS_DIR/$name.conf" -l "$KMS_DIR/$name.log" \
    >>"$KMS_DIR/$name.out" 2>&1 </dev/null &
  KMS_PIDS[$name]=$!
  KMS_PORTS[$name]=$port
  for _ in $(seq 1 150); do
    kms_port_open "$port" && return 0
    kill -0 "${KMS_PIDS[$name]}" 2>/dev/null || { tail -20 "$KMS_DIR/$name.out" >&2; kms_fail "pykmip-server $name died at start"; }
    sleep 0.1
  done
  kms_fail "pykmip-server $name did not listen on $port within 15 s"
}

kms_server_stop() { # NAME
  local name=$1 pid=${KMS_PIDS[$1]:-} port=${KMS_PORTS[$1]:-}
  [ -n "$pid" ] || return 0
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  { wait "$pid"; } 2>/dev/null || true
  unset "KMS_PIDS[$name]"
  for _ in $(seq 1 100); do
    kms_port_open "$port" || return 0
    sleep 0.1
  done
  kms_fail "port $port still open after killing pykmip-server $name"
}

kms_server_freeze() { kill -STOP -- "-${KMS_PIDS[$1]}"; }

kms_module_conf() { # FILE CLIENT ENDPOINTS [extra]
  local file=$1 client=$2 eps=$3 extra=${4:-}
  cat >"$file" <<CONF
# written by tests/integration/kms/harness.sh
slots = kms

[kms]
label = kms
endpoints = $eps
ca-file = $KMS_DIR/ca.pem
cert-file = $KMS_DIR/$client.pem
key-file = $KMS_DIR/$client.key
timeout-ms = ${KMS_TIMEOUT_MS:-5000}
$extra
CONF
}
