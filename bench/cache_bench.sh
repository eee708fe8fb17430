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
rate() { # SETTING THREADS
  ENV_EXTRA_PROVIDER_CONF=$1 softhsm_write_conf
  "$bin" "$uri" "$2" "$secs" | sed -n 's/.*ops\/s=//p'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
off1=$(rate "cache-ttl = 0" 1); off2=$(rate "cache-ttl = 0" 2)
on1=$(rate "cache-ttl = 1h" 1); on2=$(rate "cache-ttl = 1h" 2)
echo "# unwrap cache benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(openssl version | cut -d' ' -f1-2), SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2)), ${secs}s per row"
echo
echo "| cache | threads | unwraps/s | vs cache off, same threads | vs 1 thread |"
echo "|---|---|---|---|---|"
echo "| off (cache-ttl = 0) | 1 | $off1 | 1 | 1 |"
echo "| off (cache-ttl = 0) | 2 | $off2 | 1 | $(ratio "$off2" "$off1")x |"
echo "| on (hits) | 1 | $on1 | $(ratio "$on1" "$off1")x | 1 |"
echo "| on (hits) | 2 | $on2 | $(ratio "$on2" "$off2")x | $(ratio "$on2" "$on1")x |"
