#!/usr/bin/env bash
# Benchmark: 1 KiB records through one shared envelope_recorder vs one
# envelope_sealer and one envelope_opener per context, over 1, 16 and 1,000
# interleaved contexts on a SoftHSM2 AES-256 KEK (one thread; keys made
# before timing), and memory per context (bench/recorder_bench.c). Each side
# runs in its own process, best of 3 alternating runs; with CALLGRIND=1 the
# instructions per record (valgrind's callgrind, RECORDS and RECORDS/6) are
# added, the figure a loaded machine does not move. A second table is the
# same recorder with compact records (suite 2: one key block per context),
# against the suite-1 recorder of the first, with the bytes per record.
#   bash bench/recorder_bench.sh [BUILD_DIR] [RECORDS]   (default build/bench, 100000)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$root/build/bench}")
n=${2:-100000}
if [ ! -x "$build/bench/bench_recorder" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DENVELOPE_WITH_BENCH=ON -DENVELOPE_WITH_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 >/dev/null
fi
bin=$build/bench/bench_recorder
# shellcheck source=../tests/integration/softhsm.sh
source "$root/tests/integration/softhsm.sh"
work=$(mktemp -d /tmp/envelope-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
softhsm_setup "$work" "$build/provider" bench >/dev/null
softhsm_keygen_aes bench-aes 0a 2>/dev/null
ENV_EXTRA_PROVIDER_CONF="cache-ttl = 0" softhsm_write_conf
uri="pkcs11:token=bench;object=bench-aes;type=secret-key"
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$2"; }
echo "# recorder benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(openssl version | cut -d' ' -f1-2)), $n records of 1 KiB, one thread"
echo
echo "| contexts | recorder seal/s | per-context seal/s | ratio | recorder open/s | per-context open/s | ratio | RSS/context recorder, per-context | locked/context recorder, per-context |"
echo "|---|---|---|---|---|---|---|---|---|"
declare -A recs comps
for c in 1 16 1000; do
  # each side in its own process, best of 3 alternating runs (the machine may be shared)
  rec="" per="" comp="" best_rs=0 best_ps=0 best_cs=0
  for _ in 1 2 3; do
    o=$("$bin" "$uri" "$n" "$c" recorder)
    [ "$(field 'seal\/s' "$o")" -le "$best_rs" ] || { best_rs=$(field 'seal\/s' "$o"); rec=$o; }
    o=$("$bin" "$uri" "$n" "$c" per-context)
    [ "$(field 'seal\/s' "$o")" -le "$best_ps" ] || { best_ps=$(field 'seal\/s' "$o"); per=$o; }
    o=$("$bin" "$uri" "$n" "$c" compact)
    [ "$(field 'seal\/s' "$o")" -le "$best_cs" ] || { best_cs=$(field 'seal\/s' "$o"); comp=$o; }
  done
  recs[$c]=$rec
  comps[$c]=$comp
  rs=$(field 'seal\/s' "$rec"); ps=$(field 'seal\/s' "$per")
  ro=$(field 'open\/s' "$rec"); po=$(field 'open\/s' "$per")
  printf '| %s | %s | %s | %s | %s | %s | %s | %s B, %s B | %s B, %s B |\n' "$c" "$rs" "$ps" \
    "$(awk -v a="$rs" -v b="$ps" 'BEGIN { printf "%.2f", a / b }')" "$ro" "$po" \
    "$(awk -v a="$ro" -v b="$po" 'BEGIN { printf "%.2f", a / b }')" \
    "$(field rss_per_context "$rec")" "$(field rss_per_context "$per")" \
    "$(field locked_per_context "$rec")" "$(field locked_per_context "$per")"
done

decimal() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
echo
echo "| contexts | compact seal/s | suite-1 recorder seal/s | ratio | compact open/s | suite-1 recorder open/s | ratio | bytes per record: compact, suite 1 (1 KiB plaintext) | key block bytes |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in 1 16 1000; do
  rec=${recs[$c]} comp=${comps[$c]}
  cs=$(field 'seal\/s' "$comp"); rs=$(field 'seal\/s' "$rec")
  co=$(field 'open\/s' "$comp"); ro=$(field 'open\/s' "$rec")
  printf '| %s | %s | %s | %s | %s | %s | %s | %s, %s | %s |\n' "$c" "$cs" "$rs" \
    "$(awk -v a="$cs" -v b="$rs" 'BEGIN { printf "%.2f", a / b }')" "$co" "$ro" \
    "$(awk -v a="$co" -v b="$ro" 'BEGIN { printf "%.2f", a / b }')" \
    "$(decimal bytes_per_record "$comp")" "$(decimal bytes_per_record "$rec")" \
    "$(decimal keyblock_bytes "$comp")"
done

if [ "${CALLGRIND:-0}" = 1 ]; then
  echo
  echo "| contexts | recorder instructions per seal+open | per-context | ratio (per-context / recorder) |"
  echo "|---|---|---|---|"
  ir() { # SIDE N CONTEXTS
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$uri" "$2" "$3" "$1" 2>&1 >/dev/null |
      sed -n 's/.*refs: *\([0-9,]*\).*/\1/p' | tr -d ,
  }
  small=$((n / 6))
  for c in 1 16 1000; do
    r=$(( ($(ir recorder "$n" "$c") - $(ir recorder "$small" "$c")) / (n - small) ))
    p=$(( ($(ir per-context "$n" "$c") - $(ir per-context "$small" "$c")) / (n - small) ))
    printf '| %s | %s | %s | %s |\n' "$c" "$r" "$p" "$(awk -v a="$p" -v b="$r" 'BEGIN { printf "%.3f", a / b }')"
  done
  echo
  echo "| contexts | compact instructions per seal+open | suite-1 recorder | ratio (suite 1 / compact) |"
  echo "|---|---|---|---|"
  for c in 1 16 1000; do
    k=$(( ($(ir compact "$n" "$c") - $(ir compact "$small" "$c")) / (n - small) ))
    r=$(( ($(ir recorder "$n" "$c") - $(ir recorder "$small" "$c")) / (n - small) ))
    printf '| %s | %s | %s | %s |\n' "$c" "$k" "$r" "$(awk -v a="$r" -v b="$k" 'BEGIN { printf "%.2f", a / b }')"
  done
fi
