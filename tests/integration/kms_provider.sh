#!/usr/bin/env bash
# The envelope CLI through the provider (envelope.so) and its hsm/ PKCS#11
# client, with two modules configured (pkcs11-module = SoftHSM2, kms-bridge):
#  - encrypt/decrypt with pkcs11:token=kms;object=kek-a (a PyKMIP key);
#  - one message with a SoftHSM2 KEK and a KMS KEK decrypts with either
#    backend alone (KMS stopped; SoftHSM2 not configured);
#  - wrong context fails as "authentication" (exit 2); KMS down fails as
#    "backend unavailable" (exit 3) and leaves no output file; after the
#    server restarts the next run succeeds; another identity is refused.
set -euo pipefail
# shellcheck source=kms/harness.sh
source "$KMS_HARNESS"
# shellcheck source=softhsm.sh
source "$(dirname "$KMS_HARNESS")/../softhsm.sh"
kms_setup
port=$(kms_free_port)
kms_server_start main "$port"
kms_module_conf "$KMS_DIR/kms.conf" client-a "127.0.0.1:$port" "retries = 1"
kms_module_conf "$KMS_DIR/kms-b.conf" client-b "127.0.0.1:$port"
export ENVELOPE_KMS_CONF=$KMS_DIR/kms.conf

softhsm_setup "$KMS_DIR/hsm" "$ENV_PROVIDER_DIR" envtest
# pkcs11-tool must not load the provider softhsm_setup configured (an ASan
# build of envelope.so cannot load into an uninstrumented program).
OPENSSL_CONF=/dev/null softhsm_keygen_aes hsm-kek 01
"$KMS_P11" "$KMS_MODULE" keygen kek-a >/dev/null || kms_fail "KMS keygen"

cnf() { # FILE MODULES
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
pkcs11-pin-source = file:$ENV_PIN_FILE
pkcs11-tokens = envtest, kms
activate = 1
CONF
}
cnf "$KMS_DIR/both.cnf" "$ENV_P11_MODULE, $KMS_MODULE"
cnf "$KMS_DIR/kmsonly.cnf" "$KMS_MODULE"
cnf "$KMS_DIR/hsmonly.cnf" "$ENV_P11_MODULE"
export OPENSSL_CONF=$KMS_DIR/both.cnf
KMS='pkcs11:token=kms;object=kek-a'
HSM='pkcs11:token=envtest;object=hsm-kek'
cd "$KMS_DIR"
head -c 100000 /dev/urandom >pt
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { # WANT_RC DESC cmd...
  local want=$1 desc=$2 rc=0; shift 2
  "$@" >last.out 2>last.err || rc=$?
  if [ "$rc" -ne "$want" ]; then bad "$desc: exit $rc, wanted $want: $(head -c 600 last.err)"; return 1; fi
  echo "ok: $desc (exit $rc)"
}

run 0 "encrypt with the KMS KEK" "$ENVELOPE_CLI" encrypt --kek "$KMS" --context tenant=a -o ct.kms pt
run 0 "decrypt with the KMS KEK" "$ENVELOPE_CLI" decrypt --kek "$KMS" --context tenant=a -o back.kms ct.kms
cmp -s pt back.kms || bad "KMS round trip differs"
run 2 "wrong context" "$ENVELOPE_CLI" decrypt --kek "$KMS" --context tenant=b -o back.bad ct.kms
[ ! -e back.bad ] || bad "wrong context left an output file"

run 0 "encrypt with SoftHSM2 + KMS KEKs" "$ENVELOPE_CLI" encrypt --kek "$HSM" --kek "$KMS" -o ct.both pt
OPENSSL_CONF=$KMS_DIR/kmsonly.cnf run 0 "decrypt with the KMS alone" \
  "$ENVELOPE_CLI" decrypt --kek "$KMS" -o back.k ct.both && { cmp -s pt back.k || bad "KMS-alone plaintext"; }

# Unknown key name: object not found.
run_nf() { "$ENVELOPE_CLI" encrypt --kek 'pkcs11:token=kms;object=kek-nope' -o ct.nf pt >last.out 2>last.err; }
if run_nf; then bad "unknown KMS key accepted"; else
  if grep -qi 'not found' last.err; then echo "ok: unknown key -> not found"; else bad "unknown key: $(cat last.err)"; fi
fi

# Another client identity may not use client-a's key: by name it is not
# found (PyKMIP's Locate hides other owners' objects); by id (CKA_ID = KMIP
# Unique Identifier) the bridge returns CKR_KEY_FUNCTION_NOT_PERMITTED, which
# must not come out as "backend unavailable" (3) or success.
ENVELOPE_KMS_CONF=$KMS_DIR/kms-b.conf run 1 "client-b by name: KEK not found" \
  "$ENVELOPE_CLI" decrypt --kek "$KMS" --context tenant=a -o back.b ct.kms \
  && { grep -q 'object not found' last.err || bad "client-b by name: $(cat last.err)"; }
[ ! -e back.b ] || bad "client-b decrypt left an output file"
id=$("$KMS_P11" "$KMS_MODULE" find kek-a)
idpct=$(printf %s "$id" | xxd -p | sed 's/../%&/g')
rc=0
ENVELOPE_KMS_CONF=$KMS_DIR/kms-b.conf "$ENVELOPE_CLI" decrypt --kek "pkcs11:token=kms;id=$idpct" \
  --context tenant=a -o back.b ct.kms >last.out 2>last.err || rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || [ -e back.b ]; then
  bad "client-b by id: exit $rc: $(cat last.err)"
else
  echo "ok: client-b by id refused (exit $rc): $(head -c 200 last.err)"
fi

# KMS down: SoftHSM2 alone still decrypts the two-KEK message; KMS-only
# operations fail as "backend unavailable" (3) with no output file.
kms_server_stop main
OPENSSL_CONF=$KMS_DIR/hsmonly.cnf run 0 "decrypt with SoftHSM2 alone (KMS down)" \
  "$ENVELOPE_CLI" decrypt --kek "$HSM" -o back.h ct.both && { cmp -s pt back.h || bad "SoftHSM2-alone plaintext"; }
run 3 "encrypt with the KMS down" "$ENVELOPE_CLI" encrypt --kek "$KMS" -o ct.down pt
[ ! -e ct.down ] || bad "failed encrypt left an output file"
run 3 "decrypt with the KMS down" "$ENVELOPE_CLI" decrypt --kek "$KMS" --context tenant=a -o back.down ct.kms
[ ! -e back.down ] || bad "failed decrypt left an output file"

# Killed with the CLI's call in flight: the server is frozen, the CLI starts
# and hangs on the KMS, the server is killed; the CLI fails as "backend
# unavailable" and leaves neither the output nor a temporary file.
kms_server_start main "$port"
"$KMS_P11" "$KMS_MODULE" find kek-a >/dev/null || kms_fail "KMS back"
mkdir inflight
kms_server_freeze main
rc=0
( "$ENVELOPE_CLI" encrypt --kek "$KMS" -o inflight/ct pt >inflight.out 2>inflight.err ) &
cli_pid=$!
sleep 1.5
kill -0 "$cli_pid" 2>/dev/null || bad "the CLI did not wait on the frozen KMS"
kms_server_stop main
wait "$cli_pid" || rc=$?
if [ "$rc" -eq 3 ]; then echo "ok: CLI with the KMS killed mid-call (exit 3)"; else bad "in-flight kill: exit $rc: $(cat inflight.err)"; fi
[ -z "$(ls -A inflight)" ] || bad "in-flight kill left files: $(ls -A inflight)"

kms_server_start main "$port"
run 0 "encrypt after the KMS restarted" "$ENVELOPE_CLI" encrypt --kek "$KMS" -o ct.again pt
run 0 "decrypt after the KMS restarted" "$ENVELOPE_CLI" decrypt --kek "$KMS" -o back.again ct.again
cmp -s pt back.again || bad "round trip after restart differs"
[ "$fails" -eq 0 ] || kms_fail "$fails provider check(s)"
echo "PASS kms_provider"
