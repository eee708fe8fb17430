#!/usr/bin/env bash
# --kek-policy (docs/FORMAT.md §3.2, envelope(1)): a KMS key (real PyKMIP
# behind the kms-bridge) and a SoftHSM2 key. With the KMS killed, the
# default policy (all) fails closed: exit 3 and no output. --kek-policy any
# leaves the KMS out with a warning, records the policy in the
# authenticated header and writes a message the token's KEK decrypts; it
# still fails closed when no KEK is reachable, and it does not drop a KEK
# for any reason but an unreachable home. With the KMS back, rewrap adds
# the missing EDK and the KMS alone decrypts.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
# shellcheck source=softhsm.sh
source "$(dirname "$KMS_HARNESS")/../softhsm.sh"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
KMS_TIMEOUT_MS=2000 kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port" "retries = 0"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf

softhsm_setup "$KMS_DIR/hsm" "$ENV_PROVIDER_DIR" envtest
OPENSSL_CONF=/dev/null softhsm_keygen_aes hsm-kek 01
"$KMS_P11" "$KMS_MODULE" keygen kek-a >/dev/null || kms_fail "KMS keygen"
cat >"$KMS_DIR/both.cnf" <<CONF
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
pkcs11-module = $ENV_P11_MODULE, $KMS_MODULE
pkcs11-pin-source = file:$ENV_PIN_FILE
pkcs11-tokens = envtest, kms
cache-ttl = 0
activate = 1
CONF
export OPENSSL_CONF=$KMS_DIR/both.cnf
KMS='pkcs11:token=kms;object=kek-a'
HSM='pkcs11:token=envtest;object=hsm-kek'
cd "$KMS_DIR"
head -c 100000 /dev/urandom >pt
json() { "$ENVELOPE_CLI" inspect --json "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }
# the EDKs' tokens, in order (references are recorded in canonical form)
edks() { json "$1" "' '.join(e['kek'].split(';')[0] for e in d['edks'])"; }

"$ENVELOPE_CLI" encrypt --kek "$KMS" --kek "$HSM" -o both.env pt || kms_fail "encrypt with both up"
[ "$(json both.env "d['kek_policy']")" = all ] || kms_fail "default policy not recorded as all"
[ "$(od -An -tx1 -j7 -N1 both.env | tr -d ' ')" = 00 ] || kms_fail "flags byte not 0 by default"
"$ENVELOPE_CLI" encrypt --kek-policy any --kek "$KMS" --kek "$HSM" -o any-up.env pt ||
  kms_fail "policy any with both up"
[ "$(json any-up.env "len(d['edks'])")" = 2 ] || kms_fail "policy any left a reachable KEK out"
[ "$(json any-up.env "d['kek_policy']")" = any ] || kms_fail "policy any not recorded when all wrapped"

set +e
"$ENVELOPE_CLI" encrypt --kek-policy some --kek "$HSM" -o x.env pt 2>err; rc=$?
set -e
{ [ "$rc" = 1 ] && grep -q 'kek-policy must be all or any' err; } || kms_fail "bad --kek-policy: exit $rc"

# A batch opens its KEKs once; the KMS dies after that, before the second
# file's DEK is wrapped (the second input is a FIFO fed once the KMS is
# gone): the wrap itself fails, and only that message leaves it out.
mkdir batch
mkfifo second
"$ENVELOPE_CLI" encrypt --kek-policy any --kek "$KMS" --kek "$HSM" -o batch pt second \
  >batch.out 2>batch.err &
bpid=$!
for _ in $(seq 1 300); do [ -e batch/pt.env ] && break; sleep 0.1; done
[ -e batch/pt.env ] || kms_fail "the batch did not write its first file"
kms_server_stop main
cat pt >second
wait "$bpid" || { cat batch.err; kms_fail "batch under policy any with the KMS killed midway"; }
[ "$(edks batch/pt.env)" = "pkcs11:token=kms pkcs11:token=envtest" ] ||
  kms_fail "first batch file: $(edks batch/pt.env)"
[ "$(edks batch/second.env)" = "pkcs11:token=envtest" ] ||
  { cat batch.err; kms_fail "second batch file: $(edks batch/second.env)"; }
grep -q "left out (--kek-policy any): its home failed while wrapping" batch.err ||
  { cat batch.err; kms_fail "no warning for the KEK left out at wrap time"; }
{ "$ENVELOPE_CLI" decrypt --kek "$HSM" -o back batch/second.env && cmp -s pt back; } ||
  kms_fail "decrypt of the batch's second file"
rm -f back

set +e
"$ENVELOPE_CLI" encrypt --kek "$KMS" --kek "$HSM" -o down.env pt 2>err; rc=$?
set -e
[ "$rc" = 3 ] || { cat err; kms_fail "policy all with the KMS down: exit $rc, want 3"; }
[ ! -e down.env ] || kms_fail "policy all wrote output with a KEK missing"

"$ENVELOPE_CLI" encrypt --kek-policy any --kek "$KMS" --kek "$HSM" -o any.env pt 2>err ||
  { cat err; kms_fail "policy any with the KMS down"; }
grep -q "warning: KEK pkcs11:token=kms;object=kek-a left out (--kek-policy any)" err ||
  { cat err; kms_fail "no warning naming the KEK left out"; }
[ "$(edks any.env)" = "pkcs11:token=envtest" ] || kms_fail "EDKs of the policy-any message: $(edks any.env)"
[ "$(json any.env "d['kek_policy']")" = any ] || kms_fail "policy any not recorded"
[ "$(od -An -tx1 -j7 -N1 any.env | tr -d ' ')" = 01 ] || kms_fail "flags byte is not 0x01"
"$ENVELOPE_CLI" inspect any.env | grep -q '^kek policy: *any' || kms_fail "inspect text lacks the policy"
{ "$ENVELOPE_CLI" decrypt --kek "$HSM" -o back any.env && cmp -s pt back; } || kms_fail "HSM decrypt"
rm -f back
# The flag is authenticated: clearing it makes the header tag fail.
cp any.env cleared.env
printf '\x00' | dd of=cleared.env bs=1 seek=7 conv=notrunc status=none
set +e
"$ENVELOPE_CLI" decrypt --kek "$HSM" -o back cleared.env 2>err; rc=$?
set -e
{ [ "$rc" = 2 ] && [ ! -e back ]; } || kms_fail "flag cleared: exit $rc, want 2 and no output"

# Fail closed even under any: nothing reachable, or a KEK that is wrong
# rather than down.
for k in "--kek $KMS" "--kek $KMS --kek pkcs11:token=envtest;object=no-such-key"; do
  set +e
  # shellcheck disable=SC2086 # word splitting intended: the --kek options
  "$ENVELOPE_CLI" encrypt --kek-policy any $k -o none.env pt 2>err; rc=$?
  set -e
  { [ "$rc" != 0 ] && [ ! -e none.env ]; } || kms_fail "policy any with [$k]: exit $rc, output written"
done
[ "$rc" != 3 ] || kms_fail "a missing key under policy any reported as an outage"

# The KMS is back: rewrap adds its EDK; the KMS alone decrypts; the
# policy stays recorded (it says how the message was written).
kms_server_start main "$port"
"$ENVELOPE_CLI" rewrap --from "$HSM" --to "$KMS" any.env || kms_fail "rewrap --to the KMS"
[ "$(edks any.env)" = "pkcs11:token=envtest pkcs11:token=kms" ] || kms_fail "EDKs after rewrap: $(edks any.env)"
[ "$(json any.env "d['kek_policy']")" = any ] || kms_fail "rewrap changed the recorded policy"
{ "$ENVELOPE_CLI" decrypt --kek "$KMS" -o back any.env && cmp -s pt back; } || kms_fail "KMS decrypt after rewrap"
echo "PASS cli_kek_policy"
