#!/usr/bin/env bash
# provider_secrets.sh BIN PROVIDER_DIR - provider.softhsm.secrets-core: a
# process holding DEKs in the provider's unwrap cache and a token PIN
# (provider_secrets.c) is dumped with gcore, then killed with SIGABRT under
# `ulimit -c unlimited`; scan_core.py looks for every DEK and the PIN in
# both cores: none may be there (MADV_DONTDUMP and wiping). Exit 77 when no
# core can be had (the hard core limit is 0, or kernel.core_pattern is not a
# plain file name and cannot be set for the test), and in sanitizer builds
# (ASan maps terabytes of shadow and turns core dumps off).
set -euo pipefail
bin=$1 provdir=$2
if [ "${ENVELOPE_SANITIZED:-0}" = 1 ]; then
  echo "SKIP: not in a sanitizer build (its runtime disables core dumps); run in the normal build"
  exit 77
fi
command -v gcore >/dev/null || { echo "FAIL: gcore (package gdb) is not installed" >&2; exit 1; }
ulimit -c unlimited 2>/dev/null || { echo "SKIP: cannot raise the core size limit (ulimit -c)"; exit 77; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=softhsm.sh
source "$here/softhsm.sh"
work=$(mktemp -d /tmp/envelope-secrets.XXXXXX)
pattern_file=/proc/sys/kernel/core_pattern
old_pattern=$(cat "$pattern_file")
pid=
cleanup() {
  [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
  if [ "$(cat "$pattern_file")" != "$old_pattern" ]; then printf '%s\n' "$old_pattern" >"$pattern_file" || true; fi
  [ -n "${ENVELOPE_KEEP_CORES:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
case "$old_pattern" in
  */* | \|*)
    # a path or a pipe to a crash handler: point it at our folder for the
    # test, and put it back on every exit path
    printf '%s\n' "$work/core" >"$pattern_file" 2>/dev/null ||
      { echo "SKIP: kernel.core_pattern is '$old_pattern' and cannot be changed"; exit 77; } ;;
esac
cd "$work"
softhsm_setup "$work" "$provdir"
# a PIN no memory holds by chance (softhsm_setup's 1234 would be found anywhere)
pin=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
(umask 077; printf '%s' "$pin" >secrets.pin)
softhsm2-util --init-token --free --label secrets --so-pin 12345678 --pin "$pin" >/dev/null
OPENSSL_CONF=/dev/null pkcs11-tool --module "$ENV_P11_MODULE" --token-label secrets --login \
  --pin "$pin" --keygen --key-type AES:32 --label kek-aes --id 01 --sensitive >/dev/null
envelope_write_conf "$provdir" "pkcs11-module = $ENV_P11_MODULE" \
  "pkcs11-pin-source = file:$work/secrets.pin" "pkcs11-tokens = secrets"
export ENV_AES_URI="pkcs11:token=secrets;object=kek-aes;type=secret-key"

"$bin" deks.hex >ready.out 2>err.out &
pid=$!
for _ in $(seq 1 600); do
  grep -q '^ready' ready.out 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat err.out; echo "FAIL: the process died before it was ready" >&2; exit 1; }
  sleep 0.1
done
grep -q '^ready' ready.out || { echo "FAIL: the process was not ready in 60 s" >&2; exit 1; }
gcore -o "$work/gcore" "$pid" >gcore.out 2>&1 || { cat gcore.out; echo "FAIL: gcore" >&2; exit 1; }
kill -ABRT "$pid"
wait "$pid" 2>/dev/null || true
pid=
cores=("$work"/gcore.[0-9]* "$work"/core*)
[ -e "${cores[0]}" ] || { echo "FAIL: gcore wrote no core" >&2; exit 1; }
if [ ! -e "${cores[1]:-}" ]; then
  echo "SKIP: SIGABRT left no core (core_pattern '$(cat "$pattern_file")'); the gcore one:"
  /usr/bin/python3 "$here/scan_core.py" deks.hex secrets.pin "${cores[0]}"
  exit 77
fi
/usr/bin/python3 "$here/scan_core.py" deks.hex secrets.pin "${cores[@]}"
