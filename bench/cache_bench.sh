#!/usr/bin/env bash
# Benchmark: the provider's unwrap cache on a SoftHSM2 AES-256 KEK, one run:
# unwraps/s of one blob with the cache off (every unwrap reaches the token)
# and on (hits), on 1 and 2 threads, and the ratios (hit path on 2 threads
# vs 1: the cache must not serialise callers).
#   bash bench/cache_bench.sh [BUILD_DIR] [SECONDS]     (default build/bench, 3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$root/build/bench}")
secs=${2:-3}
if [ ! -x "$build/bench/bench_cache" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DENVELOPE_WITH_BENCH=ON -DENVELOPE_WITH_TESTS=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
fi
bin=$build/bench/bench_cache
# shellcheck source=../tests/integration/softhsm.sh
source "$root/tests/integration/softhsm.sh"
work=$(mktemp -d /tmp/envelope-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
softhsm_setup "$work" "$build/provider" bench >/dev/null
softhsm_keygen_aes bench-aes 0a 2>/dev/null
uri="pkcs11:token=bench;object=bench-aes;type=secret-key"
rate() { # SETTING THREADS -> "ops/s cpu-ns/op voluntary-switches"
  ENV_EXTRA_PROVIDER_CONF=$1 softhsm_write_conf
  "$bin" "$uri" "$2" "$secs" | sed -n 's/.*ops\/s=\([0-9]*\) cpu-ns\/op=\([0-9]*\) vcsw=\([0-9]*\)/\1 \2 \3/p'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
read -r off1 offc1 offv1 <<<"$(rate "cache-ttl = 0" 1)"
read -r off2 offc2 offv2 <<<"$(rate "cache-ttl = 0" 2)"
read -r on1 onc1 onv1 <<<"$(rate "cache-ttl = 1h" 1)"
read -r on2 onc2 onv2 <<<"$(rate "cache-ttl = 1h" 2)"
echo "# unwrap cache benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(openssl version | cut -d' ' -f1-2), SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2)), ${secs}s per row, load average $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| cache | threads | unwraps/s | vs cache off, same threads | vs 1 thread | CPU ns per unwrap | voluntary switches |"
echo "|---|---|---|---|---|---|---|"
echo "| off (cache-ttl = 0) | 1 | $off1 | 1 | 1 | $offc1 | $offv1 |"
echo "| off (cache-ttl = 0) | 2 | $off2 | 1 | $(ratio "$off2" "$off1")x | $offc2 | $offv2 |"
echo "| on (hits) | 1 | $on1 | $(ratio "$on1" "$off1")x | 1 | $onc1 | $onv1 |"
echo "| on (hits) | 2 | $on2 | $(ratio "$on2" "$off2")x | $(ratio "$on2" "$on1")x | $onc2 | $onv2 |"
echo
echo "CPU per hit on 2 threads vs 1: $(ratio "$onc2" "$onc1")x (1.00x: nothing serialises the callers;"
echo "the 2-thread throughput is then 2x of 1 thread whenever two cores are free)"
