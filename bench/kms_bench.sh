#!/usr/bin/env bash
# kms_bench.sh BUILD_DIR [SECONDS] - one run, one PyKMIP server (started and
# stopped here, see tests/integration/kms/harness.sh), one KEK:
#   1. PyKMIP's Python client, one persistent connection (baseline);
#   2. the provider through kms-bridge: 1 thread / pool 1, 4 threads / pool 1
#      (most calls pay a new TLS handshake), 4 threads / pool 4.
# Prints one line per run and the TLS handshakes each run cost; the median latency is the KMS round trip that
# the DEK cache has to hide.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$1" && pwd)
secs=${2:-5}
KMS_MODULE=$build/kms-bridge/envelope-kms-pkcs11.so
# shellcheck source=../tests/integration/kms/harness.sh
source "$root/tests/integration/kms/harness.sh"
kms_setup
port=$(kms_free_port)
kms_server_start bench "$port"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
uid=$("$build/tests/integration/kms_p11" "$KMS_MODULE" keygen kek-bench)
printf 'unused' >"$KMS_DIR/pin"; chmod 600 "$KMS_DIR/pin"
cat >"$KMS_DIR/openssl.cnf" <<CONF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
envelope = envelope_sect
[default_sect]
activate = 1
[envelope_sect]
module = $build/provider/envelope.so
pkcs11-module = $KMS_MODULE
pkcs11-pin-source = file:$KMS_DIR/pin
pkcs11-tokens = kms
# every unwrap reaches the KMS: the unwrap cache is bench/cache_bench.sh's
cache-ttl = 0
activate = 1
CONF
echo "# kms bench: PyKMIP $(dpkg-query -W -f='${Version}' python3-pykmip), ${secs}s per run, $(nproc) CPUs"
"$KMS_PY" "$root/bench/kms_pykmip_bench.py" 127.0.0.1 "$port" "$KMS_DIR/client-a.pem" \
  "$KMS_DIR/client-a.key" "$KMS_DIR/ca.pem" "$uid" "$secs"
for run in "1 1" "4 1" "4 4"; do
  read -r threads pool <<<"$run"
  kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port" "pool-size = $pool"
  : >"$KMS_DIR/debug.log"
  OPENSSL_CONF=$KMS_DIR/openssl.cnf ENVELOPE_KMS_DEBUG=file:$KMS_DIR/debug.log \
    "$build/bench/kms_bench" 'pkcs11:token=kms;object=kek-bench' "$secs" "$threads" | sed "s/^/pool-size=$pool /"
  # TLS handshakes the run paid for (the debug log's cost is the same in every run).
  echo "pool-size=$pool threads=$threads tls_handshakes=$(grep -c ': connected, ' "$KMS_DIR/debug.log")"
done
