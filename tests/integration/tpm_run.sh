#!/usr/bin/env bash
# tpm_run.sh SCENARIO TPM_IT - runs one scenario of the TPM integration
# program against a fresh swtpm (own loopback ports, own state folder),
# stopped by PID on every exit path.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=swtpm.sh
. "$here/swtpm.sh"

scenario=$1
bin=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/envtpm-$scenario.XXXXXX")
chmod 700 "$dir"
ENV_CLEANUP="rm -rf '$dir'"
swtpm_start "$dir/tpm"
export TPM_IT_DIR=$dir

case $scenario in
basic)
  # the SRK tpm2-tools would make; then flush it again (no resource manager)
  tpm2_createprimary -C o -G ecc -c "$dir/p.ctx" >/dev/null
  TPM_IT_TOOLS_SRK_NAME=$(tpm2_readpublic -c "$dir/p.ctx" | awk '/^name:/ {print $2}')
  export TPM_IT_TOOLS_SRK_NAME
  tpm2_flushcontext -t
  ;;
restart)
  # The SRK (tpm2-tools' template) is DA-protected, and every unorderly
  # shutdown counts as a failed try (TPM 2.0 Part 1 §19.8.6): three kills
  # would lock it out for 1000 s with swtpm's defaults. Real machines are not
  # power-cycled three times in a quarter hour; this test is.
  tpm2_dictionarylockout -s -n 100 -t 1 -l 1
  export TPM_IT_RESTART="bash -c '. \"$here/swtpm.sh\"; swtpm_restart \"$dir/tpm\"'"
  export TPM_IT_KILL="bash -c '. \"$here/swtpm.sh\"; swtpm_kill \"$dir/tpm\"'"
  export TPM_IT_START="bash -c '. \"$here/swtpm.sh\"; swtpm_relaunch \"$dir/tpm\"'"
  ;;
engine)
  # libp11's pkcs11 engine in openssl.cnf (SoftHSM2 as its module), as a
  # machine with libengine-pkcs11-openssl configured has it; the scenario
  # registers it (ENGINE_register_all_complete) like `openssl` does
  enginesdir=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
  [ -f "$enginesdir/pkcs11.so" ] || { echo "no $enginesdir/pkcs11.so (libengine-pkcs11-openssl)" >&2; exit 1; }
  printf '%s\n' "openssl_conf = openssl_init" "[openssl_init]" "engines = engine_section" \
    "[engine_section]" "pkcs11 = pkcs11_section" "[pkcs11_section]" "engine_id = pkcs11" \
    "dynamic_path = $enginesdir/pkcs11.so" "MODULE_PATH = /usr/lib/softhsm/libsofthsm2.so" \
    "init = 0" >"$dir/openssl.cnf"
  export OPENSSL_CONF=$dir/openssl.cnf
  # libp11's engine leaks the methods it duplicates (RSA_meth_dup, its pkey
  # methods) and is unloaded before LeakSanitizer reports, so they cannot be
  # suppressed by module; our code's leaks are checked by every other
  # scenario, all of whose sessions use the same salt code
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
  ;;
tamper)
  # the fault injector (tests/fault/tcti_fault.c) in front of swtpm's TCTI
  [ -f "${TPM_IT_FAULT_TCTI:-}" ] || { echo "TPM_IT_FAULT_TCTI: no fault TCTI given" >&2; exit 1; }
  export ENVELOPE_TPM2_TCTI="$TPM_IT_FAULT_TCTI:$ENVELOPE_TPM2_TCTI"
  ;;
traffic)
  export ENVELOPE_TPM2_TCTI="pcap:$ENVELOPE_TPM2_TCTI"
  export TCTI_PCAP_FILE=$dir/capture.pcap
  ;;
esac

if ! "$bin" "$scenario"; then
  echo "tpm_run.sh: scenario $scenario failed; swtpm log:" >&2
  tail -20 "$dir/tpm/swtpm.log" >&2 2>/dev/null || true
  exit 1
fi
