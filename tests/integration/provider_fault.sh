#!/usr/bin/env bash
# provider_fault.sh CASE - the provider in front of the PKCS#11 FAULT
# INJECTOR (tests/fault/p11_fault.c), which forwards to a real SoftHSM2
# token and injects one kind of fault per case.
set -euo pipefail
case_name=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=softhsm.sh
source "$here/softhsm.sh"
work=$(mktemp -d /tmp/envelope-fault.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }

softhsm_setup "$work" "$ENV_PROVIDER_DIR"
softhsm_keygen_aes kek-aes 01
export ENV_AES_URI="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
# From here on the provider talks to the injector, which talks to SoftHSM2.
export ENVELOPE_FAULT_MODULE=$ENV_P11_MODULE
ENV_P11_MODULE=$ENV_FAULT_MODULE softhsm_write_conf

run() { envelope_run_own "$ENV_EVP_BIN" "$@" 2>err.log || { cat err.log; fail "$*"; }; cat err.log; }
injected() { grep -q "p11_fault: injecting" err.log || fail "the fault was never injected"; }

case "$case_name" in
iv-token)    ENVELOPE_FAULT_GCM_IV=token run roundtrips 20 ;;
iv-appended) ENVELOPE_FAULT_GCM_IV=appended run roundtrips 20 ;;
session-lost)
  # the 2nd C_Decrypt finds its session gone: the op moves to a new session
  ENVELOPE_FAULT_CALL=C_Decrypt:2:0xB3 run roundtrips 3; injected ;;
login-lost)
  # the token forgot our login: log in again with the PIN we hold, retry
  ENVELOPE_FAULT_CALL=C_Decrypt:2:0x101 run roundtrips 3; injected ;;
module-lost)
  # the module says it is not initialised (someone finalised it): re-initialise
  ENVELOPE_FAULT_CALL=C_Decrypt:2:0x190 run roundtrips 3; injected ;;
device-error)
  ENVELOPE_FAULT_CALL=C_Decrypt:1:0x30 run unwrap-recovers; injected ;;
device-error-persistent)
  ENVELOPE_FAULT_CALL=C_Decrypt:1:0x30:every run unwrap-fails; injected ;;
token-removed)
  ENVELOPE_FAULT_CALL=C_OpenSession:1:0xE0:every run token-removed; injected ;;
token-swapped)
  # the token forgot our login because another token is now in the slot:
  # its PIN, held for the token that was there, is not offered to this one
  if ENVELOPE_FAULT_SWAP=swapped-in ENVELOPE_FAULT_CALL=C_Decrypt:2:0x101 \
       envelope_run_own "$ENV_EVP_BIN" roundtrips 3 2>err.log; then
    cat err.log; fail "round trips went on with another token in the slot"
  fi
  injected
  grep -q "another token" err.log || { cat err.log; fail "the swap never happened"; }
  if grep -q "C_Login (after the swap)" err.log; then
    cat err.log; fail "the PIN was offered to the token swapped in"
  fi
  ;;
*) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
