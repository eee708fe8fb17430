#!/usr/bin/env bash
# lib_dek_reuse.sh REUSE_BIN PROVIDER_DIR ENVELOPE_CLI - DEK reuse (docs/PROVIDER.md, "DEK
# reuse") through libenvelope on a real SoftHSM2 AES KEK: off by default
# (a wrap per record); dek-reuse-messages = 2000 over 10 tenants -> exactly
# 10 wraps for 10,000 records; = 300 -> exactly 4 per tenant; a byte limit
# honoured exactly; a partition key the contexts lack -> no reuse. Wraps are
# counted twice: distinct wrapped DEKs in the messages, and C_Encrypt calls
# in the PKCS#11 debug log.
set -euo pipefail
BIN=$1
PROVDIR=$2
CLI=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envreuse.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
softhsm_setup "$work" "$PROVDIR"
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
softhsm_keygen_aes kek-aes 01
AES="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
# case NAME RECORDS TENANTS WANT_WRAPS SETTING...
case_() {
  local name=$1 records=$2 tenants=$3 want=$4
  shift 4
  ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "$@") softhsm_write_conf
  if ! ENVELOPE_DEBUG="file:$work/debug.$name" envelope_run_own "$BIN" "$AES" "$records" "$tenants" \
    >"out.$name" 2>"err.$name"; then
    fail "$name: $(cat "err.$name")"
    return
  fi
  local wraps calls
  wraps=$(sed -n 's/.*wraps=//p' "out.$name")
  calls=$(grep -c 'pkcs11: C_Encrypt ->' "debug.$name" || true)
  [ "$wraps" = "$want" ] || fail "$name: $wraps distinct wrapped DEKs, wanted $want"
  [ "$calls" = "$want" ] || fail "$name: $calls C_Encrypt calls, wanted $want"
  echo "$name: records=$records tenants=$tenants wraps=$wraps C_Encrypt=$calls"
}
case_ off 200 4 200 "cache-ttl = 0"
case_ window 10000 10 10 "dek-reuse-messages = 2000"
case_ messages 10000 10 40 "dek-reuse-messages = 300"
case_ bytes 999 1 333 "dek-reuse-messages = 100000" "dek-reuse-bytes = 100"
case_ partition-absent 300 3 300 "dek-reuse-messages = 2000" "dek-partition-key = region"
case_ partition-present 3000 3 3 "dek-reuse-messages = 2000" "dek-partition-key = tenant"

# suite 2 key blocks next to suite 1 messages of the same tenants: reuse
# gives each tenant one key block (made again, byte for byte the same DEK id)
# and one suite 1 DEK, never one DEK for both: 10 + 10 wraps
ENV_EXTRA_PROVIDER_CONF="dek-reuse-messages = 2000" softhsm_write_conf
if LIB_DEK_REUSE_KEYBLOCKS=1 ENVELOPE_DEBUG="file:$work/debug.kb" envelope_run_own "$BIN" "$AES" \
  1000 10 >out.kb 2>err.kb; then
  kbs=$(sed -n 's/^keyblocks=//p' out.kb)
  wraps=$(sed -n 's/.*wraps=//p' out.kb)
  calls=$(grep -c 'pkcs11: C_Encrypt ->' debug.kb || true)
  [ "$kbs" = 10 ] || fail "keyblocks: $kbs distinct DEK ids for 10 tenants, wanted 10"
  [ "$wraps" = 10 ] || fail "keyblocks: $wraps distinct suite 1 wraps, wanted 10"
  [ "$calls" = 20 ] || fail "keyblocks: $calls C_Encrypt calls, wanted 20 (10 per suite)"
  echo "keyblocks: 1000 messages and 1000 key blocks over 10 tenants, key blocks=$kbs C_Encrypt=$calls"
  ENV_EXTRA_PROVIDER_CONF="cache-ttl = 0" softhsm_write_conf
  LIB_DEK_REUSE_KEYBLOCKS=1 envelope_run_own "$BIN" "$AES" 50 5 >out.kb0 2>err.kb0 ||
    fail "keyblocks off: $(cat err.kb0)"
  [ "$(sed -n 's/^keyblocks=//p' out.kb0)" = 50 ] || fail "keyblocks without reuse: not one DEK each"
else
  fail "keyblocks: $(cat err.kb)"
fi

# streamed messages (the CLI's encryptor, a batch in one process): their
# size is counted when each ends, so a window past its byte limit ends
head -c 200 /dev/urandom >s1; cp s1 s2; cp s1 s3
stream_case() { # NAME WANT_WRAPS SETTING...
  local name=$1 want=$2 calls
  shift 2
  ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "$@") softhsm_write_conf
  rm -rf "out.$name"; mkdir "out.$name"
  ENVELOPE_DEBUG="file:$work/debug.$name" envelope_run_own "$CLI" encrypt --quiet --kek "$AES" \
    -o "out.$name" s1 s2 s3 >/dev/null 2>"err.$name" || fail "$name: $(cat "err.$name")"
  calls=$(grep -c 'pkcs11: C_Encrypt ->' "debug.$name" || true)
  [ "$calls" = "$want" ] || fail "$name: $calls C_Encrypt calls for 3 streamed messages, wanted $want"
  echo "$name: 3 streamed messages of 200 bytes, C_Encrypt=$calls"
}
stream_case stream-window 1 "dek-reuse-messages = 100" "dek-reuse-bytes = 10000"
stream_case stream-bytes 3 "dek-reuse-messages = 100" "dek-reuse-bytes = 100"

# bad values are refused with the setting's name
for bad in "dek-reuse-messages = many" "dek-reuse-bytes = 0" "dek-reuse-seconds = 100000"; do
  ENV_EXTRA_PROVIDER_CONF=$bad softhsm_write_conf
  rc=0
  envelope_run_own "$BIN" "$AES" 1 1 >/dev/null 2>err.bad || rc=$?
  [ "$rc" -ne 0 ] || fail "\"$bad\" accepted"
  grep -qF "${bad%% =*} = ${bad#*= }: expected a whole number" err.bad || fail "\"$bad\": $(cat err.bad)"
done
[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "DEK reuse: all checks passed"
