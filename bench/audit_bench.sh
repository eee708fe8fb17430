#!/usr/bin/env bash
# Benchmark: what the audit trail costs on the cached unwrap path (SoftHSM2
# AES-256 KEK, every unwrap a cache hit), one run: audit off, audit-log to a
# file with audit-fsync = none, and with audit-fsync = every; and, to show
# the callers' side alone, audit-overflow = drop (a caller never waits for
# the writer); rounds alternate ROUNDS times and the best of each is kept.
#   bash bench/audit_bench.sh [BUILD_DIR] [SECONDS] [ROUNDS]   (default build/bench, 3, 3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$root/build/bench}")
secs=${2:-3}
rounds=${3:-3}
if [ ! -x "$build/bench/bench_audit" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DENVELOPE_WITH_BENCH=ON -DENVELOPE_WITH_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target bench_audit envelope_provider >/dev/null
fi
bin=$build/bench/bench_audit
# shellcheck source=../tests/integration/softhsm.sh
source "$root/tests/integration/softhsm.sh"
work=$(mktemp -d /tmp/envelope-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
softhsm_setup "$work" "$build/provider" bench >/dev/null
softhsm_keygen_aes bench-aes 0a 2>/dev/null
uri="pkcs11:token=bench;object=bench-aes;type=secret-key"
declare -A best_ops best_caller best_proc lines
run() { # NAME SETTING...
  local name=$1 out ops caller proc
  shift
  rm -f "$work/audit.log"
  ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "cache-ttl = 1h" "$@") softhsm_write_conf
  out=$("$bin" "$uri" "$secs")
  read -r ops caller proc <<<"$(sed -n 's/.*ops\/s=\([0-9]*\) caller-ns\/op=\([0-9]*\) process-ns\/op=\([0-9]*\)/\1 \2 \3/p' <<<"$out")"
  if [ "${best_ops[$name]:-0}" -lt "$ops" ]; then
    best_ops[$name]=$ops best_caller[$name]=$caller best_proc[$name]=$proc
    lines[$name]=$( [ -e "$work/audit.log" ] && wc -l <"$work/audit.log" || echo 0)
  fi
}
for ((r = 0; r < rounds; r++)); do
  run off
  run none "audit-log = file:$work/audit.log" "audit-fsync = none"
  run every "audit-log = file:$work/audit.log" "audit-fsync = every"
  run drop "audit-log = file:$work/audit.log" "audit-overflow = drop"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }
echo "# audit benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(openssl version | cut -d' ' -f1-2), SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2)), best of $rounds x ${secs}s, load average $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| audit | cached unwraps/s | vs off | caller CPU ns/unwrap | process CPU ns/unwrap | lines written |"
echo "|---|---|---|---|---|---|"
for n in off none every drop; do
  label=$n
  [ "$n" = off ] && label="off"
  [ "$n" = none ] && label="file, audit-fsync = none"
  [ "$n" = every ] && label="file, audit-fsync = every"
  [ "$n" = drop ] && label="file, fsync none, audit-overflow = drop (events over the ring counted, not written)"
  echo "| $label | ${best_ops[$n]} | $(ratio "${best_ops[$n]}" "${best_ops[off]}")x | ${best_caller[$n]} | ${best_proc[$n]} | ${lines[$n]} |"
done
