#!/usr/bin/env bash
# Benchmark: 1 KiB records through libenvelope on a SoftHSM2 AES-256 KEK, over
# 10 contexts (tenants), with DEK reuse and the unwrap cache off and on, in
# one run: records/s and the token's own call counts (C_Encrypt = wraps,
# C_Decrypt = unwraps, from the PKCS#11 debug log). Then, with the DEK at hand,
# 1 KiB records through the fixed-key EVP AES-256-GCM loop, suite 1 (sealer/opener)
# and suite 2 (compact records under a key block), in one run (bench_records_formats).
#   bash bench/records_bench.sh [BUILD_DIR] [RECORDS] [FORMAT_RECORDS]
#   (defaults: build/bench, 100000, 200000)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$root/build/bench}")
n=${2:-100000}
nf=${3:-200000}
if [ ! -x "$build/bench/bench_records" ] || [ ! -x "$build/bench/bench_records_formats" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DENVELOPE_WITH_BENCH=ON -DENVELOPE_WITH_TESTS=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
fi
bin=$build/bench/bench_records
# shellcheck source=../tests/integration/softhsm.sh
source "$root/tests/integration/softhsm.sh"
work=$(mktemp -d /tmp/envelope-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
softhsm_setup "$work" "$build/provider" bench >/dev/null
softhsm_keygen_aes bench-aes 0a 2>/dev/null
uri="pkcs11:token=bench;object=bench-aes;type=secret-key"
row() { # LABEL SETTING...
  local label=$1 out
  shift
  ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "$@") softhsm_write_conf
  out=$(ENVELOPE_DEBUG=file:$work/debug "$bin" "$uri" "$n" 10)
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$(sed 's/.*seal\/s=\([0-9]*\).*/\1/' <<<"$out")" \
    "$(sed 's/.*open\/s=\([0-9]*\).*/\1/' <<<"$out")" \
    "$(grep -c 'pkcs11: C_Encrypt ->' "$work/debug" || true)" "$(grep -c 'pkcs11: C_Decrypt ->' "$work/debug" || true)"
  rm -f "$work/debug"
}
echo "# records benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(openssl version | cut -d' ' -f1-2), SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2)), $n records of 1 KiB over 10 tenants"
echo
echo "| DEK reuse / unwrap cache | seal/s | open/s | token wraps | token unwraps |"
echo "|---|---|---|---|---|"
row "off / off" "cache-ttl = 0"
row "off / on (60 s)" "cache-ttl = 60s"
row "on (dek-reuse-messages = 100000) / off" "dek-reuse-messages = 100000" "cache-ttl = 0"
row "on / on" "dek-reuse-messages = 100000" "cache-ttl = 60s"
echo
echo "# 1 KiB records, DEK at hand, $nf records per round, best of 5 rounds alternated (ratios vs the raw loop of the same run)"
echo
softhsm_write_conf
"$build/bench/bench_records_formats" "$uri" "$nf"
