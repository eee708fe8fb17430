#!/usr/bin/env bash
# cli_output.sh ENVELOPE_BIN NO_TMPFILE_INJECTOR
# The -o OUT output file of encrypt and decrypt (cli/out.c), driven through
# a FIFO so that "mid-stream" is a state the test waits for, not a sleep:
#   - while a run streams, OUT's folder has no entry at all (the data is in
#     an unnamed O_TMPFILE file), and a run killed with SIGKILL leaves none;
#   - a name that appears at OUT while a run streams (file or symlink) is
#     kept and the run fails (no replace without --force);
#   - --force replaces OUT atomically (a new inode; the old one intact);
#   - the output is mode 0600 whatever the umask;
#   - on a filesystem without O_TMPFILE (the fault injector
#     tests/fault/no_tmpfile.c makes open(O_TMPFILE) fail with EOPNOTSUPP)
#     the named temporary file ".OUT.XXXXXX" is used, removed on SIGTERM
#     and on failure, and the output is the same.
set -euo pipefail
ENV=$1
SHIM=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/envout.XXXXXX")
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
head -c $((8 << 20)) /dev/urandom >pt
"$ENV" encrypt --kek "$K" -o ct pt
half=$(($(stat -c %s ct) / 2))

# Under sanitizers the ASan runtime must come first in LD_PRELOAD.
asan_rt=$(ldd "$ENV" | awk '/libclang_rt\.asan/ { print $3; exit }')
inject="${asan_rt:+$asan_rt:}$SHIM"

# The descriptor, in process $1, of a file in folder $2 (prints the size of
# the first one found, or nothing).
out_size() {
  local fd t
  for fd in /proc/"$1"/fd/*; do
    t=$(readlink "$fd" 2>/dev/null) || continue
    case "$t" in "$2"/*) stat -L -c %s "$fd" 2>/dev/null && return 0 ;; esac
  done
  return 0
}

# start_stream OP OUT INPUT [PRELOAD]: starts `envelope OP -o OUT fifo`,
# feeds it the first half of INPUT and waits until it has written output.
# Sets $pid; fd 3 keeps the FIFO open (no EOF yet).
start_stream() {
  local op=$1 out=$2 input=$3 preload=${4:-}
  rm -f fifo
  mkfifo fifo
  LD_PRELOAD=$preload "$ENV" "$op" --kek "$K" -o "$out" fifo 2>"$work/stream.err" &
  pid=$!
  pids+=("$pid")
  exec 3>fifo
  head -c "$half" "$input" >&3
  local size
  for _ in $(seq 1 3000); do # up to 300 s on a loaded machine
    size=$(out_size "$pid" "$work/$(dirname "$out")")
    [ -n "$size" ] && [ "$size" -gt 0 ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "$op never wrote output mid-stream"; sed 's/^/  | /' "$work/stream.err" >&2
  return 1
}
# finish_stream: the rest of INPUT, EOF, and the exit status in $rc.
finish_stream() {
  tail -c +$((half + 1)) "$1" >&3
  exec 3>&-
  rc=0
  wait "$pid" || rc=$?
}
entries() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' '; }

for op in decrypt encrypt; do
  input=ct; [ "$op" = encrypt ] && input=pt

  # --- SIGKILL mid-stream leaves no entry at all, hidden ones included
  rm -rf out; mkdir out
  if start_stream "$op" out/result "$input"; then
    [ -z "$(entries out)" ] || fail "$op: entries in OUT's folder while streaming: $(entries out)"
    kill -9 "$pid"
    rc=0; wait "$pid" || rc=$?
    exec 3>&-
    [ "$rc" -eq 137 ] || fail "$op: killed run exited $rc, wanted 137 (SIGKILL)"
    [ -z "$(entries out)" ] || fail "$op: SIGKILL left entries in OUT's folder: $(entries out)"
  fi

  # --- a file that appears at OUT while streaming is kept; the run fails
  rm -rf out; mkdir out
  if start_stream "$op" out/result "$input"; then
    echo theirs >out/result
    finish_stream "$input"
    [ "$rc" -eq 1 ] || fail "$op: OUT appeared while writing: exit $rc, wanted 1"
    grep -q "appeared while writing" stream.err || fail "$op: no 'appeared while writing' message"
    [ "$(cat out/result)" = theirs ] || fail "$op: a file made at OUT meanwhile was replaced"
    [ "$(entries out)" = "result " ] || fail "$op: leftovers after a refused publish: $(entries out)"
  fi
  # ... and so is a symlink (never followed)
  rm -rf out; mkdir out
  if start_stream "$op" out/result "$input"; then
    ln -s target out/result
    finish_stream "$input"
    [ "$rc" -eq 1 ] || fail "$op: symlink appeared at OUT: exit $rc, wanted 1"
    { [ -L out/result ] && [ ! -e out/target ]; } || fail "$op: symlink at OUT replaced or followed"
  fi

  # --- a complete run through the FIFO: mode 0600, only OUT in the folder
  rm -rf out; mkdir out
  if (umask 022 && start_stream "$op" out/result "$input" && finish_stream "$input" && exit "$rc"); then
    [ "$(stat -c %a out/result)" = 600 ] || fail "$op: OUT mode $(stat -c %a out/result), wanted 600"
    [ "$(entries out)" = "result " ] || fail "$op: folder after success: $(entries out)"
    if [ "$op" = decrypt ]; then cp out/result back; else "$ENV" decrypt --kek "$K" -o back out/result; fi
    cmp -s back pt || fail "$op through a FIFO: wrong result"
    rm -f back
  else
    fail "$op through a FIFO failed"; sed 's/^/  | /' stream.err >&2
  fi
done

# --- --force replaces atomically: a new inode, the old file untouched
rm -rf out; mkdir out
echo old >out/result
ln out/result old.link
"$ENV" decrypt --kek "$K" --force -o out/result ct || fail "decrypt --force"
cmp -s out/result pt || fail "--force: wrong plaintext"
[ "$(cat old.link)" = old ] || fail "--force wrote into the old file instead of replacing it"
[ "$(stat -c %a out/result)" = 600 ] || fail "--force: mode $(stat -c %a out/result)"
[ "$(entries out)" = "result " ] || fail "--force left: $(entries out)"
rm -f old.link

# --- the fallback: no O_TMPFILE (fault injector)
export ENVELOPE_FAULT_TMPFILE_LOG=$work/injected.log
rm -rf out; mkdir out
if start_stream decrypt out/result ct "$inject"; then
  [ -s injected.log ] || fail "fault injector not reached: O_TMPFILE was not refused"
  case "$(entries out)" in
  ".result."??????" ") ;;
  *) fail "fallback: expected one .result.XXXXXX while streaming, got: $(entries out)" ;;
  esac
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  exec 3>&-
  [ "$rc" -eq 143 ] || fail "fallback: SIGTERM run exited $rc, wanted 143"
  [ -z "$(entries out)" ] || fail "fallback: SIGTERM left: $(entries out)"
fi
rm -rf out; mkdir out
(umask 022 && LD_PRELOAD=$inject "$ENV" decrypt --kek "$K" -o out/result ct) || fail "fallback decrypt"
cmp -s out/result pt || fail "fallback: wrong plaintext"
[ "$(stat -c %a out/result)" = 600 ] || fail "fallback: mode $(stat -c %a out/result)"
[ "$(entries out)" = "result " ] || fail "fallback left: $(entries out)"
rc=0; LD_PRELOAD=$inject "$ENV" decrypt --kek "$K" -o out/result ct 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "fallback: existing OUT: exit $rc, wanted 1"
echo old >out/result
ln out/result old.link
LD_PRELOAD=$inject "$ENV" decrypt --kek "$K" --force -o out/result ct || fail "fallback --force"
{ cmp -s out/result pt && [ "$(cat old.link)" = old ]; } || fail "fallback --force did not replace atomically"
[ "$(entries out)" = "result " ] || fail "fallback --force left: $(entries out)"
# a failing decrypt leaves nothing
cp ct bad
printf '\x00' | dd of=bad bs=1 seek=$(($(stat -c %s bad) - 3)) conv=notrunc 2>/dev/null
rm -rf out; mkdir out
rc=0; LD_PRELOAD=$inject "$ENV" decrypt --kek "$K" -o out/result bad 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "fallback: tampered input: exit $rc, wanted 2"
[ -z "$(entries out)" ] || fail "fallback: failed decrypt left: $(entries out)"
rc=0; "$ENV" decrypt --kek "$K" -o out/result bad 2>/dev/null || rc=$?
{ [ "$rc" -eq 2 ] && [ -z "$(entries out)" ]; } || fail "failed decrypt (exit $rc) left: $(entries out)"
unset ENVELOPE_FAULT_TMPFILE_LOG

if [ "$fails" -ne 0 ]; then echo "cli_output: $fails failure(s)"; exit 1; fi
echo "cli_output: all checks passed"
