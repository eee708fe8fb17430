# shellcheck shell=bash
# swtpm.sh - sourced by TPM integration tests: a private swtpm on free
# loopback ports, its state in a folder of the test's own.
#
#   swtpm_start DIR      starts swtpm with state in DIR/state, records its PID
#                        and ports in DIR/swtpm.{pid,port}, exports
#                        ENVELOPE_TPM2_TCTI and TPM2TOOLS_TCTI, installs an
#                        EXIT trap that stops it (chained with ENV_CLEANUP).
#   swtpm_stop DIR       stops it by PID (SIGTERM, then SIGKILL), waits.
#   swtpm_kill DIR       SIGKILL by PID: the "TPM lost" fault, no clean shutdown.
#   swtpm_restart DIR    swtpm_kill, then start again on the same state and ports.
#
# Only the folder given is touched. Every function can be called from a fresh
# shell (`bash -c '. swtpm.sh; swtpm_restart DIR'`), because everything it
# needs is in DIR: a C test uses that to restart the TPM under itself.

_swtpm_port_free() {
  # true if nothing listens on 127.0.0.1:$1
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_swtpm_wait_port() {
  # up to 20 s: CI runs the sanitizer build on 2 loaded cores; at once if
  # the swtpm given by PID ($2) exited (it could not bind the port)
  local port=$1 pid=${2:-}
  for _ in $(seq 1 400); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && _swtpm_gone "$pid"; then return 1; fi
    sleep 0.05
  done
  return 1
}

_swtpm_launch() {
  local dir=$1 port=$2
  swtpm socket --tpm2 \
    --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
    --tpmstate "dir=$dir/state" \
    --flags not-need-init,startup-clear \
    --log "file=$dir/swtpm.log,level=1" >>"$dir/swtpm.out" 2>&1 &
  echo $! >"$dir/swtpm.pid"
  echo "$port" >"$dir/swtpm.port"
  if ! _swtpm_wait_port "$port" "$(cat "$dir/swtpm.pid")"; then
    kill -9 "$(cat "$dir/swtpm.pid")" 2>/dev/null || true
    return 1
  fi
  # the control port opens a moment after the server port
  _swtpm_wait_port "$((port + 1))" "$(cat "$dir/swtpm.pid")"
}

_swtpm_export() {
  local port
  port=$(cat "$1/swtpm.port")
  export ENVELOPE_TPM2_TCTI="swtpm:host=127.0.0.1,port=$port"
  export TPM2TOOLS_TCTI="$ENVELOPE_TPM2_TCTI"
  export ENV_SWTPM_PORT=$port
}

swtpm_start() {
  local dir=$1 port eph_lo _hi
  mkdir -p "$dir/state"
  # Below the kernel's ephemeral range: tpm2-tss 3.2.1's swtpm TCTI opens a
  # control connection per command, so 10,000 unwraps leave ~10,000 local
  # ports in TIME_WAIT for a minute, and swtpm cannot bind one of those.
  read -r eph_lo _hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_lo=32768
  [ "$eph_lo" -gt 12000 ] || eph_lo=32768
  for _ in $(seq 1 20); do
    port=$(( (RANDOM % ((eph_lo - 10002) / 2)) * 2 + 10000 ))
    { _swtpm_port_free "$port" && _swtpm_port_free "$((port + 1))"; } || continue
    if _swtpm_launch "$dir" "$port"; then
      _swtpm_export "$dir"
      ENV_SWTPM_DIR=$dir
      trap '_swtpm_on_exit' EXIT
      trap 'exit 143' TERM INT HUP # a killed test must not look like a pass
      return 0
    fi
  done
  echo "swtpm_start: could not start swtpm (see $dir/swtpm.out)" >&2
  return 1
}

_swtpm_on_exit() {
  local rc=$?
  [ -n "${ENV_SWTPM_DIR:-}" ] && swtpm_stop "$ENV_SWTPM_DIR"
  if [ -n "${ENV_CLEANUP:-}" ]; then eval "$ENV_CLEANUP"; fi
  exit "$rc"
}

_swtpm_gone() {
  # gone, or a zombie nobody has reaped yet (swtpm_restart runs in a fresh
  # shell that is not its parent): either way it no longer holds the ports
  [ ! -e "/proc/$1" ] || awk '{exit !($3 == "Z")}' "/proc/$1/stat" 2>/dev/null
}

_swtpm_wait_gone() {
  local pid=$1
  for _ in $(seq 1 400); do
    _swtpm_gone "$pid" && return 0
    sleep 0.05
  done
  return 1
}

swtpm_stop() {
  local dir=$1 pid
  [ -f "$dir/swtpm.pid" ] || return 0
  pid=$(cat "$dir/swtpm.pid")
  kill "$pid" 2>/dev/null || true
  _swtpm_wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
  _swtpm_wait_gone "$pid" || true
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/swtpm.pid"
}

swtpm_kill() {
  local dir=$1 pid
  pid=$(cat "$dir/swtpm.pid")
  kill -9 "$pid" 2>/dev/null || true
  _swtpm_wait_gone "$pid" || return 1
  rm -f "$dir/swtpm.pid"
}

swtpm_restart() {
  local dir=$1 port
  port=$(cat "$dir/swtpm.port")
  swtpm_kill "$dir" || return 1
  # the kernel may need a moment before the port can be bound again
  for _ in $(seq 1 400); do
    if _swtpm_port_free "$port" && _swtpm_port_free "$((port + 1))"; then break; fi
    sleep 0.05
  done
  _swtpm_launch "$dir" "$port"
}

swtpm_relaunch() {
  # start again on the same state and ports after swtpm_kill
  local dir=$1
  _swtpm_launch "$dir" "$(cat "$dir/swtpm.port")"
}
