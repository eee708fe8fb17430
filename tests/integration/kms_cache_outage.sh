#!/usr/bin/env bash
# The provider's unwrap cache in front of a KMS that stops answering: a
# real PyKMIP server behind the kms-bridge, frozen with SIGSTOP. Cached
# unwraps keep working with no caller waiting, the refresh-ahead fails in
# the background without extending the entry, the entry expires at its TTL
# ("backend unavailable"), and the same process recovers when the server
# continues. Encrypting while the KMS is down fails before any output
# (fail closed). See tests/integration/provider_cache.c, case "outage".
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
KMS_TIMEOUT_MS=2000 kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port" "retries = 0"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
"$KMS_P11" "$KMS_MODULE" keygen kek-a >/dev/null || kms_fail "KMS keygen"
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
module = $ENV_PROVIDER_DIR/envelope.so
pkcs11-module = $KMS_MODULE
pkcs11-tokens = kms
cache-ttl = 10s
activate = 1
CONF
export OPENSSL_CONF=$KMS_DIR/openssl.cnf OPENSSL_MODULES=$ENV_PROVIDER_DIR
KMS='pkcs11:token=kms;object=kek-a'

KMS_SERVER_PGID=${KMS_PIDS[main]} "$ENV_CACHE_BIN" outage "$KMS" 10 >"$KMS_DIR/outage.out" 2>&1 ||
  { cat "$KMS_DIR/outage.out"; kill -CONT -- "-${KMS_PIDS[main]}" 2>/dev/null || true; kms_fail "outage case"; }
cat "$KMS_DIR/outage.out"

# fail closed: the KMS down, encrypt writes nothing and says "retry" (exit 3)
printf 'secret\n' >"$KMS_DIR/pt"
kms_server_freeze main
rc=0
"$ENVELOPE_CLI" encrypt --kek "$KMS" -o "$KMS_DIR/ct" "$KMS_DIR/pt" 2>"$KMS_DIR/enc.err" || rc=$?
kill -CONT -- "-${KMS_PIDS[main]}"
[ "$rc" -eq 3 ] || { cat "$KMS_DIR/enc.err"; kms_fail "encrypt with the KMS down: exit $rc, wanted 3"; }
[ ! -e "$KMS_DIR/ct" ] || kms_fail "encrypt with the KMS down left an output file"
"$ENVELOPE_CLI" encrypt --kek "$KMS" -o "$KMS_DIR/ct" "$KMS_DIR/pt" || kms_fail "encrypt after the KMS is back"
echo "PASS kms_cache_outage"
