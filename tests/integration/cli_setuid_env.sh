#!/usr/bin/env bash
# cli_setuid_env.sh ENVELOPE_BIN PROVIDER_DIR   (ENVELOPE_BIN: a self-contained
# build of the CLI, envelope_cli_static)
# In a setuid program the environment belongs to whoever ran it: the
# provider must not open a debug log or read a PIN that the environment
# names (secure_getenv). A setuid-root copy of the CLI, run by "nobody",
# loads the provider from --config and is given ENVELOPE_DEBUG=file:... and
# an env: PIN source; the log must not appear and the PIN must not be used.
# The same copy without the setuid bit does both, so the test can fail.
# Needs root (to make the setuid copy) and an uninstrumented build (the
# sanitizer runtime is not preloaded into setuid programs).
set -euo pipefail
ENV=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "cli_setuid_env: SKIPPED: needs root to make a setuid copy"; exit 77; fi
if [ "${ENVELOPE_SANITIZED:-0}" = 1 ]; then
  echo "cli_setuid_env: SKIPPED: the sanitizer runtime cannot be preloaded into a setuid program"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/envsuid.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
# The provider too is copied where "nobody" can read it (the build tree may
# be under a private home); the CLI copy is linked statically with
# libenvelope, so it runs from anywhere.
mkdir -m 0755 "$work/prov"
cp "$PROVDIR/envelope.so" "$work/prov/"
softhsm_setup "$work" "$work/prov"
softhsm_keygen_aes kek-aes 01
# the PIN comes only from the environment here, so the key is usable only
# if env: is honoured
sed -i "s|^pkcs11-pin-source = .*|pkcs11-pin-source = env:ENVTEST_PIN|" "$OPENSSL_CONF"
chmod -R a+rX "$work"
chmod a+rw "$work/tokens" "$work/tokens"/* "$work/tokens"/*/* 2>/dev/null || true
mkdir -m 1777 "$work/logs"
cp "$ENV" "$work/envelope-suid"
chmod 4755 "$work/envelope-suid"
cp "$ENV" "$work/envelope-plain"
chmod 0755 "$work/envelope-plain"
URI="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
run_as_nobody() { # BINARY LOG
  setpriv --reuid=65534 --regid=65534 --clear-groups \
    env ENVELOPE_DEBUG="file:$2" ENVTEST_PIN="$ENV_PIN" SOFTHSM2_CONF="$SOFTHSM2_CONF" \
    "$1" kek list --config "$OPENSSL_CONF" "$URI" >"$work/out" 2>&1
}
fails=0
rc=0; run_as_nobody "$work/envelope-plain" "$work/logs/plain.log" || rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL: the plain copy could not use the env: PIN (exit $rc)"; cat "$work/out"; fails=1; }
[ -s "$work/logs/plain.log" ] || { echo "FAIL: the plain copy wrote no debug log"; fails=1; }
rc=0; run_as_nobody "$work/envelope-suid" "$work/logs/suid.log" || rc=$?
[ ! -e "$work/logs/suid.log" ] || { echo "FAIL: a setuid program opened the debug log its environment named"; fails=1; }
[ "$rc" -ne 0 ] || { echo "FAIL: a setuid program took the PIN from its environment"; cat "$work/out"; fails=1; }
grep -q "PIN environment variable ENVTEST_PIN is not set" "$work/out" \
  || { echo "FAIL: the setuid run does not say the PIN variable is unavailable"; cat "$work/out"; fails=1; }

# The same for tpm2-tss's own log (TSS2_LOG, TSS2_LOGFILE): at trace level
# it prints session keys and auth values. swtpm on loopback; the TCTI comes
# from openssl.cnf (ENVELOPE_TPM2_TCTI is not read in a setuid program).
# shellcheck source=swtpm.sh
. "$here/swtpm.sh"
ENV_CLEANUP="rm -rf '$work'"
swtpm_start "$work/tpm"
sed -i "s|^activate = 1$|tpm2-tcti = $ENVELOPE_TPM2_TCTI\nactivate = 1|" "$OPENSSL_CONF"
"$ENV" --config "$OPENSSL_CONF" kek create --type ec-p256 tpm2:handle=0x81000101 >/dev/null \
  || { echo "FAIL: creating the TPM key"; exit 1; }
tss_as_nobody() { # BINARY LOGFILE
  setpriv --reuid=65534 --regid=65534 --clear-groups \
    env TSS2_LOG=all+trace TSS2_LOGFILE="$2" \
    "$1" kek list --config "$OPENSSL_CONF" tpm2:handle=0x81000101 >"$work/out" 2>&1
}
rc=0; tss_as_nobody "$work/envelope-plain" "$work/logs/tss-plain.log" || rc=$?
[ -s "$work/logs/tss-plain.log" ] || { echo "FAIL: the plain copy wrote no tss2 log (exit $rc)"; cat "$work/out"; fails=1; }
rc=0; tss_as_nobody "$work/envelope-suid" "$work/logs/tss-suid.log" || rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL: the setuid copy cannot list the TPM key (exit $rc)"; cat "$work/out"; fails=1; }
[ ! -e "$work/logs/tss-suid.log" ] || { echo "FAIL: a setuid program let TSS2_LOGFILE name its log"; fails=1; }
if grep -q "esys\|ESYS" "$work/out"; then echo "FAIL: tss2's log reached a setuid program's stderr"; fails=1; fi

[ "$fails" -eq 0 ] || exit 1
echo "cli_setuid_env: all checks passed"
