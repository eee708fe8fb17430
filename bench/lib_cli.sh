#!/usr/bin/env bash
# lib_cli.sh ENVELOPE_BIN [LIB_BENCH_BIN]
# Benchmark (c) of bench/README.md, whole files through the envelope CLI, in
# one run on one machine (environment: SIZES="256 1024" MiB, RUNS=5):
#   1. to a pipe (stdout | cat >/dev/null), input in the page cache, against
#      the I/O floor `cat FILE | cat >/dev/null`, age (X25519 recipient) and
#      `openssl enc -aes-256-ctr`, encrypt and decrypt;
#   2. with -o (an unnamed file, fsync'd, then linked), against the durable
#      floor `dd bs=1M conv=fsync`; age -o and openssl -out shown too (they
#      do not fsync);
#   3. peak RSS (GNU time's %M) of encrypt and decrypt at the largest size;
#   4. --threads 1 vs 2, 1 GiB from /dev/shm to /dev/null (CPU-bound);
#   5. with LIB_BENCH_BIN, the library bench (bench/lib_bench.c).
# Wall-clock medians of RUNS, the commands of a round interleaved so that a
# burst of load from elsewhere falls on all of them; ratios are to the floor
# of the same round set. The envelope KEK is an RSA-3072 file: key (one
# public-key wrap per message; a decrypt's one private-key unwrap is in its
# figure). Needs: openssl, age, age-keygen, GNU time (/usr/bin/time).
set -euo pipefail
ENV=${1:?usage: lib_cli.sh ENVELOPE_BIN [LIB_BENCH_BIN]}
ENV=$(realpath -e "$ENV") || { echo "lib_cli.sh: $1: no such file" >&2; exit 1; }
LIBB=${2:-}
[ -z "$LIBB" ] || LIBB=$(realpath -e "$LIBB")
SIZES=${SIZES:-256 1024}
RUNS=${RUNS:-5}
for t in openssl age age-keygen /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "lib_cli.sh: $t is missing (apt-get install age time openssl)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/envbench.XXXXXX")
shm=$(mktemp -d /dev/shm/envbench.XXXXXX)
trap 'rm -rf "$work" "$shm"' EXIT
cd "$work"
: >empty.cnf
export OPENSSL_CONF=$work/empty.cnf
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out k.pem 2>/dev/null
K=file:$work/k.pem
age-keygen -o age.key 2>/dev/null
agepub=$(age-keygen -y age.key)
okey=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
oiv=000102030405060708090a0b0c0d0e0f

ms() { # ms CMD: wall-clock milliseconds of one run of the shell command CMD
  local s e
  s=$(date +%s%N)
  eval "$1" >/dev/null 2>&1
  e=$(date +%s%N)
  echo $(((e - s) / 1000000))
}
median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# bench NAME=CMD ...: RUNS rounds, the commands interleaved; sets R[NAME]
declare -A R
bench() {
  local -A acc=()
  local r spec name
  for ((r = 0; r < RUNS; r++)); do
    for spec in "$@"; do
      name=${spec%%=*}
      rm -f out.* # outputs made fresh each run, outside the timing
      acc[$name]="${acc[$name]:-} $(ms "${spec#*=}")"
    done
  done
  for spec in "$@"; do
    name=${spec%%=*}
    R[$name]=$(echo "${acc[$name]}" | median)
  done
}

echo "(c) whole files, wall-clock ms, median of $RUNS ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
for mib in $SIZES; do
  head -c $((mib << 20)) /dev/zero | openssl enc -aes-128-ctr -K 00 -iv 00 -nosalt 2>/dev/null >"in.$mib"
  "$ENV" encrypt --quiet --kek "$K" -o "in.$mib.env" "in.$mib"
  age -r "$agepub" -o "in.$mib.age" "in.$mib"
  openssl enc -aes-256-ctr -K $okey -iv $oiv -in "in.$mib" -out "in.$mib.ossl"
  "$ENV" decrypt --quiet --kek "$K" "in.$mib.env" | cmp -s - "in.$mib" || { echo "envelope round trip differs"; exit 1; }
  age -d -i age.key "in.$mib.age" | cmp -s - "in.$mib" || { echo "age round trip differs"; exit 1; }
  cat "in.$mib" "in.$mib.env" "in.$mib.age" "in.$mib.ossl" >/dev/null # into the page cache
  P='| cat >/dev/null'
  bench \
    "cat_e=cat in.$mib $P" \
    "env_e=$ENV encrypt --quiet --kek $K in.$mib $P" \
    "age_e=age -r $agepub in.$mib $P" \
    "ossl_e=openssl enc -aes-256-ctr -K $okey -iv $oiv -in in.$mib $P" \
    "cat_d=cat in.$mib.env $P" \
    "env_d=$ENV decrypt --quiet --kek $K in.$mib.env $P" \
    "age_d=age -d -i age.key in.$mib.age $P" \
    "ossl_d=openssl enc -d -aes-256-ctr -K $okey -iv $oiv -in in.$mib.ossl $P"
  printf '  %d MiB to a pipe             encrypt  ratio   decrypt  ratio\n' "$mib"
  for t in cat env age ossl; do
    case $t in
      cat) label="cat (floor)" ;; env) label="envelope" ;; age) label="age" ;; ossl) label="openssl enc -aes-256-ctr" ;;
    esac
    printf '    %-26s %7d %6s   %7d %6s\n' "$label" "${R[${t}_e]}" "$(ratio "${R[${t}_e]}" "${R[cat_e]}")" \
      "${R[${t}_d]}" "$(ratio "${R[${t}_d]}" "${R[cat_d]}")"
  done
  bench \
    "dd_e=dd if=in.$mib of=out.dd bs=1M conv=fsync status=none" \
    "env_e=$ENV encrypt --quiet --kek $K -o out.env in.$mib" \
    "age_e=age -r $agepub -o out.age in.$mib" \
    "ossl_e=openssl enc -aes-256-ctr -K $okey -iv $oiv -in in.$mib -out out.ossl" \
    "dd_d=dd if=in.$mib.env of=out.dd bs=1M conv=fsync status=none" \
    "env_d=$ENV decrypt --quiet --kek $K -o out.dec in.$mib.env" \
    "age_d=age -d -i age.key -o out.age in.$mib.age" \
    "ossl_d=openssl enc -d -aes-256-ctr -K $okey -iv $oiv -in in.$mib.ossl -out out.ossl"
  printf '  %d MiB with -o (to %s)   encrypt  ratio   decrypt  ratio\n' "$mib" "$(df --output=fstype . | tail -1)"
  for t in dd env age ossl; do
    case $t in
      dd) label="dd conv=fsync (floor)" ;; env) label="envelope -o (fsync'd)" ;; age) label="age -o (no fsync)" ;;
      ossl) label="openssl -out (no fsync)" ;;
    esac
    printf '    %-26s %7d %6s   %7d %6s\n' "$label" "${R[${t}_e]}" "$(ratio "${R[${t}_e]}" "${R[dd_e]}")" \
      "${R[${t}_d]}" "$(ratio "${R[${t}_d]}" "${R[dd_d]}")"
  done
  last=$mib
  [ "$mib" = "${SIZES##* }" ] || rm -f "in.$mib" "in.$mib.env" "in.$mib.age" "in.$mib.ossl"
done

rss() { /usr/bin/time -f %M -o rss.txt bash -c "$1" >/dev/null 2>&1; tail -1 rss.txt; }
echo "  peak RSS at $last MiB, KiB (GNU time %M)"
printf '    encrypt to a pipe %s, -o %s; decrypt to a pipe %s, -o %s\n' \
  "$(rss "$ENV encrypt --quiet --kek $K in.$last | cat >/dev/null")" \
  "$(rss "$ENV encrypt --quiet --force --kek $K -o out.env in.$last")" \
  "$(rss "$ENV decrypt --quiet --kek $K in.$last.env | cat >/dev/null")" \
  "$(rss "$ENV decrypt --quiet --force --kek $K -o out.dec in.$last.env")"
rm -f out.* "in.$last.age" "in.$last.ossl"

# CPU-bound: 1 GiB from tmpfs to /dev/null, --threads 1 against 2.
head -c $((1 << 30)) /dev/zero | openssl enc -aes-128-ctr -K 00 -iv 00 -nosalt 2>/dev/null >"$shm/in"
"$ENV" encrypt --quiet --kek "$K" -o "$shm/in.env" "$shm/in"
cat "$shm/in" "$shm/in.env" >/dev/null
bench \
  "e1=$ENV encrypt --quiet --threads 1 --kek $K $shm/in" \
  "e2=$ENV encrypt --quiet --threads 2 --kek $K $shm/in" \
  "d1=$ENV decrypt --quiet --threads 1 --kek $K $shm/in.env" \
  "d2=$ENV decrypt --quiet --threads 2 --kek $K $shm/in.env"
echo "  1 GiB /dev/shm -> /dev/null     --threads 1  --threads 2  speed-up"
printf '    encrypt                    %9d  %11d  %6s\n' "${R[e1]}" "${R[e2]}" "$(ratio "${R[e1]}" "${R[e2]}")"
printf '    decrypt                    %9d  %11d  %6s\n' "${R[d1]}" "${R[d2]}" "$(ratio "${R[d1]}" "${R[d2]}")"
rm -f "$shm/in" "$shm/in.env"

if [ -n "$LIBB" ]; then
  "$LIBB" "$work/k.pem"
fi
