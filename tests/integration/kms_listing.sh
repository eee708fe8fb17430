#!/usr/bin/env bash
# More keys than one Locate page (Maximum Items 64; PyKMIP answers exactly
# that many without saying more exist): every listing pages with Offset
# Items and shows them all, through kms_p11, pkcs11-tool -O and (with the
# provider) envelope kek list. Limits are loud, never a silent cut: the
# fault injector's endless and shifting Locate answers fail with a reason.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port" "timeout-ms = 20000"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf
asan_rt=$(ldd "$KMS_MODULE" | awk '/libclang_rt.asan/ {print $3}')
tool() {
  if [ -n "$asan_rt" ]; then
    LD_PRELOAD=$asan_rt ASAN_OPTIONS=detect_leaks=0 pkcs11-tool --module "$KMS_MODULE" "$@"
  else
    pkcs11-tool --module "$KMS_MODULE" "$@"
  fi
}
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
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
module = ${ENV_PROVIDER_DIR:-/nonexistent}/envelope.so
pkcs11-module = $KMS_MODULE
pkcs11-tokens = kms
activate = 1
CONF

counts() { # WANT
  local want=$1 n
  n=$("$KMS_P11" "$KMS_MODULE" count -) || bad "kms_p11 count failed"
  if [ "$n" = "$want" ]; then echo "ok: C_FindObjects (empty template) finds $n"; else bad "C_FindObjects finds $n, want $want"; fi
  n=$(tool -O 2>/dev/null | grep -c 'Secret Key Object' || true)
  if [ "$n" = "$want" ]; then echo "ok: pkcs11-tool -O lists $n"; else bad "pkcs11-tool -O lists $n, want $want"; fi
}

"$KMS_P11" "$KMS_MODULE" keygen-many bulk 100 >/dev/null || kms_fail "creating 100 keys"
counts 100
if [ -n "${ENVELOPE_CLI:-}" ]; then
  n=$(OPENSSL_CONF=$KMS_DIR/openssl.cnf "$ENVELOPE_CLI" kek list 'pkcs11:token=kms' | grep -c 'object=bulk-' || true)
  if [ "$n" = 100 ]; then echo "ok: envelope kek list shows 100"; else bad "envelope kek list shows $n, want 100"; fi
  # One from the second page is found by name, and works.
  if OPENSSL_CONF=$KMS_DIR/openssl.cnf "$ENVELOPE_CLI" kek list 'pkcs11:token=kms;object=bulk-3' | grep -q 'object=bulk-3'; then
    echo "ok: bulk-3 by name"
  else
    bad "bulk-3 not listed by name"
  fi
fi
"$KMS_P11" "$KMS_MODULE" keygen-many more 50 >/dev/null || kms_fail "creating 50 more keys"
counts 150
if [ -n "${ENVELOPE_CLI:-}" ]; then
  # Every key, through the provider's store (which holds up to 4096 per URI
  # and says so beyond): never fewer than there are without a word.
  rc=0
  OPENSSL_CONF=$KMS_DIR/openssl.cnf "$ENVELOPE_CLI" kek list 'pkcs11:token=kms' >"$KMS_DIR/list" 2>"$KMS_DIR/err" || rc=$?
  n=$(grep -c 'object=' "$KMS_DIR/list" || true)
  if [ "$rc" -eq 0 ] && [ "$n" = 150 ]; then
    echo "ok: envelope kek list with 150 keys: $n listed"
  else bad "envelope kek list with 150 keys: exit $rc, $n listed, $(cat "$KMS_DIR/err")"; fi
fi
# A duplicate label is still found among 150 keys.
"$KMS_P11" "$KMS_MODULE" keygen more-49 >/dev/null 2>&1 && bad "duplicate more-49 created"

# Fault injector: a Locate that never ends stops at the module's limit with
# an error; pages that do not line up restart, then fail; never a short list.
iport=$(kms_free_port)
echo locate-endless >"$KMS_DIR/case"
setsid "$KMS_PY" "$KMS_FAULT_INJECTOR" "$iport" "$KMS_DIR" "$KMS_DIR/case" >"$KMS_DIR/inj.log" 2>&1 </dev/null &
KMS_PIDS[injector]=$!
KMS_PORTS[injector]=$iport
for _ in $(seq 1 100); do kms_port_open "$iport" && break; sleep 0.1; done
kms_module_conf "$KMS_DIR/inj.conf" client-a "127.0.0.1:$iport" "retries = 0
timeout-ms = 20000"
for c in locate-endless locate-shifting; do
  echo "$c" >"$KMS_DIR/case"
  set +e
  ENVELOPE_KMS_CONF=$KMS_DIR/inj.conf ENVELOPE_KMS_DEBUG=file:$KMS_DIR/$c.log "$KMS_P11" "$KMS_MODULE" count - \
    >"$KMS_DIR/out" 2>"$KMS_DIR/err"; rc=$?
  set -e
  want='more than 4096 keys'
  [ "$c" = locate-shifting ] && want='key list changed between pages'
  if [ "$rc" -eq 2 ] && grep -q 'rv=CKR_FUNCTION_FAILED' "$KMS_DIR/err" && grep -q "$want" "$KMS_DIR/$c.log"; then
    echo "ok: $c -> CKR_FUNCTION_FAILED ($want)"
  else bad "$c: rc=$rc $(cat "$KMS_DIR/out" "$KMS_DIR/err")"; fi
done
[ "$fails" -eq 0 ] || kms_fail "$fails listing check(s)"
echo "PASS kms_listing"
