#!/usr/bin/env bash
# cli_threads.sh ENVELOPE_BIN
# `envelope encrypt/decrypt --threads N` (frames on worker threads):
#   - round trips at sizes around frame and slot boundaries (0 bytes
#     included), files and pipes, every pair of --threads 1/2/8 for the
#     writer and the reader, and the same message length whatever N (the
#     same frames);
#   - a tampered frame k: exit 2; with -o no file appears; on stdout exactly
#     frames 1..k-1 come out (verified plaintext, nothing of frame k on),
#     whatever N; a message cut before its final frame the same;
#   - the default is one worker per online CPU (counted in /proc/PID/task
#     while a run waits on a FIFO), --threads 1 starts none;
#   - --threads outside 1..64 is a usage error.
set -euo pipefail
ENV=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/envthreads.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
: >empty.cnf
export OPENSSL_CONF=$work/empty.cnf
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out k.pem 2>/dev/null
K=file:$work/k.pem
F=65536
M=$((1 << 20))

# ---- round trips ----
sizes="0 1 $((F - 1)) $F $((F + 1)) $((M - 1)) $M $((M + 1)) $((3 * M + 12345)) $((6 * M))"
for n in $sizes; do
  head -c "$n" /dev/urandom >pt
  lens=""
  for t in 1 2 8; do
    "$ENV" encrypt --quiet --force --threads "$t" --kek "$K" -o "ct.$t" pt
    lens="$lens $(stat -c %s "ct.$t")"
    # from a pipe too (short reads), to stdout
    head -c "$n" pt | "$ENV" encrypt --quiet --threads "$t" --kek "$K" >"ctp.$t"
  done
  # shellcheck disable=SC2086
  set -- $lens
  if [ "$1" != "$2" ] || [ "$2" != "$3" ]; then
    fail "size $n: message lengths differ by --threads:$lens"
  fi
  for w in 1 2 8; do
    for r in 1 2 8; do
      "$ENV" decrypt --quiet --threads "$r" --kek "$K" -o "out.$w.$r" "ct.$w" ||
        fail "size $n: written with $w threads, read with $r: exit $?"
      cmp -s pt "out.$w.$r" || fail "size $n: $w -> $r threads: plaintext differs"
      "$ENV" decrypt --quiet --threads "$r" --kek "$K" <"ctp.$w" | cmp -s pt - ||
        fail "size $n: pipe $w -> $r threads: plaintext differs"
      rm -f "out.$w.$r"
    done
  done
done
# small frames, more threads than slots can keep busy
head -c $((2 * M + 777)) /dev/urandom >pt
"$ENV" encrypt --quiet --threads 8 --frame-size 4K --kek "$K" -o ct4k pt
"$ENV" decrypt --quiet --threads 3 --kek "$K" ct4k | cmp -s pt - || fail "4K frames: differs"

# ---- tampering and truncation ----
n=$((5 * M + 1000))
head -c "$n" /dev/urandom >pt
"$ENV" encrypt --quiet --kek "$K" -o ct pt
hlen=$(($(stat -c %s ct) - (n / F) * (1 + F + 16) - (5 + n % F + 16)))
flip() { # flip FILE OFFSET: one bit of the byte at OFFSET
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf '%b' "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
for k in 1 17 40 81; do # 81: the final frame
  cp ct bad
  flip bad $((hlen + (k - 1) * (1 + F + 16) + 505)) # in the ciphertext
  for t in 1 2 8; do
    rc=0
    "$ENV" decrypt --quiet --threads "$t" --kek "$K" -o got bad 2>err || rc=$?
    [ "$rc" = 2 ] || fail "frame $k tampered, $t threads, -o: exit $rc, want 2"
    [ ! -e got ] || fail "frame $k tampered, $t threads: -o file exists"
    grep -q "failed authentication" err || fail "frame $k tampered: message: $(cat err)"
    rc=0
    "$ENV" decrypt --quiet --threads "$t" --kek "$K" bad >got 2>err || rc=$?
    [ "$rc" = 2 ] || fail "frame $k tampered, $t threads, stdout: exit $rc, want 2"
    want=$(((k - 1) * F))
    [ "$(stat -c %s got)" = "$want" ] ||
      fail "frame $k tampered, $t threads: $(stat -c %s got) bytes on stdout, want $want"
    head -c "$want" pt | cmp -s - got || fail "frame $k tampered, $t threads: output not the prefix"
    rm -f got
  done
done
# cut before the final frame, and inside frame 30
for cut in $((hlen + (n / F) * (1 + F + 16))) $((hlen + 29 * (1 + F + 16) + 100)); do
  head -c "$cut" ct >short
  for t in 1 2 8; do
    rc=0
    "$ENV" decrypt --quiet --threads "$t" --kek "$K" -o got short 2>err || rc=$?
    [ "$rc" = 2 ] || fail "truncated at $cut, $t threads: exit $rc, want 2"
    [ ! -e got ] || fail "truncated at $cut, $t threads: -o file exists"
    grep -q "truncated" err || fail "truncated: message: $(cat err)"
    rc=0
    "$ENV" decrypt --quiet --threads "$t" --kek "$K" short >got 2>/dev/null || rc=$?
    [ "$rc" = 2 ] || fail "truncated at $cut, $t threads, stdout: exit $rc"
    frames=$(((cut - hlen) / (1 + F + 16)))
    [ "$(stat -c %s got)" = $((frames * F)) ] || fail "truncated at $cut: $(stat -c %s got) bytes out"
    rm -f got
  done
done

# ---- how many threads run ----
tasks() { find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
wait_tasks() { # wait_tasks PID N: up to 60 s for PID to have N threads
  for _ in $(seq 600); do
    [ "$(tasks "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
cpus=$(getconf _NPROCESSORS_ONLN)
want=$((cpus > 1 ? cpus + 1 : 1))
for args in "" "--threads 1" "--threads 5"; do
  case "$args" in "") w=$want ;; "--threads 1") w=1 ;; *) w=6 ;; esac
  rm -f fifo && mkfifo fifo
  # shellcheck disable=SC2086
  "$ENV" encrypt --quiet $args --kek "$K" -o ctf fifo &
  pid=$!
  pids+=("$pid")
  exec 7>fifo
  head -c 100000 /dev/urandom >&7
  wait_tasks "$pid" "$w" || fail "encrypt ${args:-(default)}: $(tasks "$pid") threads, want $w"
  exec 7>&-
  wait "$pid" || fail "encrypt through the FIFO failed"
  rm -f ctf
done

# ---- bad values ----
for v in 0 65 abc -1 ""; do
  rc=0
  "$ENV" encrypt --threads "$v" --kek "$K" -o x pt 2>err || rc=$?
  [ "$rc" = 1 ] || fail "--threads '$v': exit $rc, want 1"
  grep -q -- "--threads must be 1..64" err || fail "--threads '$v': message: $(cat err)"
done

[ "$fails" = 0 ] || { echo "cli_threads: $fails failure(s)"; exit 1; }
echo "cli_threads: ok"
