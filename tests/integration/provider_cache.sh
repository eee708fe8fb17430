#!/usr/bin/env bash
# provider_cache.sh CACHE_BIN ENVELOPE_BIN PROVIDER_DIR - the provider's
# unwrap cache on a real SoftHSM2 AES KEK: single-flight (8 threads, one
# C_Decrypt in the PKCS#11 debug log), TTL expiry, capacity eviction, the
# per-call bypass, cache-ttl = 0 (every unwrap reaches the token), bad
# settings refused with their values, and `envelope decrypt --stats`.
set -euo pipefail
CACHE_BIN=$1
ENV=$2
PROVDIR=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envcache.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
softhsm_setup "$work" "$PROVDIR"
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
softhsm_keygen_aes kek-aes 01
AES="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
decrypts() { grep -c 'pkcs11: C_Decrypt ->' "$1" || true; }
# run NAME SETTINGS... -- CMD...: CMD with the provider configured by SETTINGS
# and its debug log in debug.NAME
run() {
  local name=$1; shift
  local settings=()
  while [ "$1" != -- ]; do settings+=("$1"); shift; done
  shift
  ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "${settings[@]}") softhsm_write_conf
  ENVELOPE_DEBUG="file:$work/debug.$name" envelope_run_own "$@" >"out.$name" 2>"err.$name" ||
    { fail "$name: exit $?"; sed 's/^/  | /' "err.$name" >&2; }
}

run herd "cache-ttl = 300s" -- "$CACHE_BIN" herd "$AES" 8
[ "$(decrypts debug.herd)" -eq 1 ] || fail "8 concurrent unwraps made $(decrypts debug.herd) C_Decrypt calls, wanted 1"
run expiry "cache-ttl = 1s" -- "$CACHE_BIN" expiry "$AES"
[ "$(decrypts debug.expiry)" -eq 2 ] || fail "expiry: $(decrypts debug.expiry) C_Decrypt calls, wanted 2"
run capacity "cache-capacity = 2" -- "$CACHE_BIN" capacity "$AES"
[ "$(decrypts debug.capacity)" -eq 4 ] || fail "capacity: $(decrypts debug.capacity) C_Decrypt calls, wanted 4"
run bypass "cache-ttl = 5m" -- "$CACHE_BIN" bypass "$AES"
[ "$(decrypts debug.bypass)" -eq 3 ] || fail "bypass: $(decrypts debug.bypass) C_Decrypt calls, wanted 3"
run off "cache-ttl = 0" -- "$CACHE_BIN" counts "$AES" 5
[ "$(decrypts debug.off)" -eq 5 ] || fail "cache off: $(decrypts debug.off) C_Decrypt calls, wanted 5"
grep -q 'hits=0 misses=0 .*backend-calls=0' out.off || fail "cache off still counts: $(cat out.off)"
run on "cache-ttl = 1h" -- "$CACHE_BIN" counts "$AES" 5
[ "$(decrypts debug.on)" -eq 1 ] || fail "cache on: $(decrypts debug.on) C_Decrypt calls, wanted 1"
grep -q 'hits=4 misses=1 .*backend-calls=1' out.on || fail "cache on: $(cat out.on)"

# bad settings name the key, the value and what is allowed
for bad in "cache-ttl = 5 minutes" "cache-ttl = -1" "cache-ttl = 48h" "cache-capacity = lots" \
  "cache-capacity = 1000000"; do
  ENV_EXTRA_PROVIDER_CONF=$bad softhsm_write_conf
  rc=0
  envelope_run_own "$ENV" encrypt --kek "$AES" -o bad.env /dev/null 2>err.bad || rc=$?
  [ "$rc" -eq 1 ] || fail "\"$bad\": exit $rc, wanted 1"
  grep -qF "${bad%% =*} = ${bad#*= }" err.bad || fail "\"$bad\": not named: $(cat err.bad)"
done

# the CLI shows the counters
softhsm_write_conf
printf 'cached\n' >pt
envelope_run_own "$ENV" encrypt --kek "$AES" -o ct pt
envelope_run_own "$ENV" decrypt --stats -o back ct 2>err.stats || fail "decrypt --stats: $(cat err.stats)"
cmp -s pt back || fail "decrypt --stats round trip"
grep -Eq '^envelope: stats: cache-hits=0 cache-misses=1 .*cache-backend-calls=1 ' err.stats ||
  fail "decrypt --stats: $(cat err.stats)"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "provider cache: all checks passed"
