#!/usr/bin/env bash
# provider_audit.sh CASE AUDIT_BIN ENVELOPE_BIN PROVIDER_DIR - the provider's
# audit trail and unwrap-rate alarms (docs/AUDIT.md) on a real SoftHSM2 token,
# driven through EVP (AUDIT_BIN: provider_audit.c), the real `openssl` and
# the envelope CLI.
#
#   audit  a line for every operation kind, successes and failures, each a
#          JSON object with the documented fields; no DEK and no PIN in the
#          log; `audit verify` passes, and fails at the line edited or after
#          the line deleted (case cli); 4 processes x 1000 unwraps into one file: whole
#          lines, one chain; an unwritable sink with audit-failure = refuse
#          (exit 4 from the CLI) and = warn; `audit summary` figures
#   cli    a rewrap recorded as op "rewrap"; `envelope audit verify`: the chain holds, an edit fails at that line,
#          a deletion at the next line, a cut last line at itself; `audit
#          summary` and --json agree with the log
#   alarm  unwrap-alarm with refuse: the limit holds within one process,
#          recovers as the window slides (alarm and alarm-clear lines); with
#          log only an alert; 20 short-lived processes sharing alarm-state
#          get exactly the limit between them (without it, each its own),
#          and get unwraps again once the window has passed; CLI exit 4;
#          bad settings named
set -euo pipefail
CASE=$1
BIN=$2
ENV=$3
PROVDIR=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envaudit.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
softhsm_setup "$work" "$PROVDIR"
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# A PIN no log line could contain by chance (the default 1234 could be a pid).
PIN=Aud1t-PIN-4c9e7f
OPENSSL_CONF=/dev/null pkcs11-tool --module "$ENV_P11_MODULE" --token-label "$ENV_TOKEN" --login \
  --pin "$ENV_PIN" --change-pin --new-pin "$PIN" >out.pin 2>&1 || { cat out.pin >&2; exit 1; }
ENV_PIN=$PIN
(umask 077; printf '%s' "$PIN" >"$ENV_PIN_FILE")
softhsm_keygen_aes kek-aes 01
AES="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"

# conf SETTING...: openssl.cnf with these provider settings
conf() { ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "$@") softhsm_write_conf; }
LOG=$work/audit.log

# every line a JSON object with the documented fields
check_lines() {
  local log=$1
  jq -e -s 'length > 0' "$log" >/dev/null || { fail "$log: not JSON lines"; return; }
  local bad
  bad=$(jq -c 'select((.audit != "envelope/1") or (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$") | not)
      or (.host | type) != "string" or (.pid | type) != "number" or (.uid | type) != "number"
      or (.prog | type) != "string" or (.op | type) != "string"
      or ((.op == "wrap" or .op == "unwrap" or .op == "kek-create" or .op == "kek-open") and
          ((.kek | type) != "string" or (.result | test("^(ok|error)$") | not)
           or (.latency_us | type) != "number" or (has("backend") | not)
           or ((.result == "error") != ((.error | type) == "string"))))
      or (.op == "unwrap" and (.cache | type) != "string")
      or ((.ctx != null) and (.ctx | test("^[0-9a-f]{32}$") | not))
      or (.hash | test("^[0-9a-f]{64}$") | not) or (.prev | test("^[0-9a-f]{64}$") | not)
      or (.chain | test("^[0-9a-f]{32}$") | not))' "$log" | head -3)
  [ -z "$bad" ] || fail "$log: lines without the documented fields: $bad"
}

# has LOG JQ-FILTER WHAT: at least one line matches
has() { [ "$(jq -c "select($2)" "$1" | wc -l)" -gt 0 ] || fail "no line for: $3"; }
count() { jq -c "select($2)" "$1" | wc -l; }

case_audit() {
  conf "audit-log = file:$LOG"
  # (1) EVP: wraps, unwraps (misses, then hits), a tampered blob, a wrong context
  envelope_run_own "$BIN" ops "$AES" deks >out.ops 2>err.ops || fail "ops: $(cat err.ops)"
  # (2) the CLI (libenvelope): a round trip, a tampered message, KEK creation
  #     (a URI with a PIN source: the line must not carry it), a failed creation
  printf 'audit me\n' >pt
  envelope_run_own "$ENV" encrypt --kek "$AES" -o ct pt || fail "cli encrypt"
  envelope_run_own "$ENV" decrypt -o back ct || fail "cli decrypt"
  off=$(($(stat -c %s ct) - 40))
  { head -c "$off" ct; printf '\001'; tail -c +$((off + 2)) ct; } >ct.bad
  cmp -s ct ct.bad && fail "the tampering changed nothing"
  envelope_run_own "$ENV" decrypt -o back.bad ct.bad 2>/dev/null && fail "tampered message decrypted"
  envelope_run_own "$ENV" kek create --type aes-256 --quiet \
    "pkcs11:token=$ENV_TOKEN;object=kek-new?pin-source=file:$ENV_PIN_FILE" 2>err.create ||
    fail "kek create: $(cat err.create)"
  envelope_run_own "$ENV" kek create --type aes-256 --quiet "pkcs11:token=no-such-token;object=x" \
    2>/dev/null && fail "kek create on a missing token worked"
  # (3) the real openssl binary: CMS key transport with an RSA KEK (plain RSA
  #     in the provider: also an unwrap, with cache "off")
  softhsm_keygen_rsa kek-rsa 02
  RSA="pkcs11:token=$ENV_TOKEN;object=kek-rsa"
  openssl pkeyutl -encrypt -inkey "$RSA" -pkeyopt rsa_padding_mode:oaep -in pt -out rsa.ct 2>err.rsa ||
    fail "openssl pkeyutl -encrypt: $(cat err.rsa)"
  openssl pkeyutl -decrypt -inkey "$RSA" -pkeyopt rsa_padding_mode:oaep -in rsa.ct -out rsa.pt 2>err.rsa ||
    fail "openssl pkeyutl -decrypt: $(cat err.rsa)"
  cmp -s pt rsa.pt || fail "openssl round trip"
  # (4) policy refusals: a key whose value can leave the token, refused as
  #     it is opened; the KEK retired by the operator
  OPENSSL_CONF=/dev/null pkcs11-tool --module "$ENV_P11_MODULE" --token-label "$ENV_TOKEN" --login --pin "$PIN" \
    --keygen --key-type AES:32 --label kek-weak --id 04 >/dev/null 2>&1 || fail "keygen kek-weak"
  rc=0
  envelope_run_own "$BIN" make "pkcs11:token=$ENV_TOKEN;object=kek-weak;type=secret-key" blob.weak \
    >/dev/null 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || fail "a key that is not sensitive was used as a KEK"
  conf "audit-log = file:$LOG"
  envelope_run_own "$BIN" make "$AES" blob.retired || fail "make"
  conf "audit-log = file:$LOG" "kek.pay = pkcs11:token=$ENV_TOKEN;object=kek-new;type=secret-key" \
    "kek.pay.retired = $AES"
  rc=0
  envelope_run_own "$BIN" one "$AES" blob.retired 2>/dev/null || rc=$?
  [ "$rc" -eq 1 ] || fail "retired KEK: exit $rc, wanted 1 (refused)"
  conf "audit-log = file:$LOG"

  check_lines "$LOG"
  has "$LOG" '.op == "wrap" and .result == "ok" and .prog == "provider_audit"' "wrap ok (EVP)"
  has "$LOG" '.op == "unwrap" and .result == "ok" and .cache == "miss"' "unwrap ok, cache miss"
  has "$LOG" '.op == "unwrap" and .result == "ok" and .cache == "hit"' "unwrap ok, cache hit"
  has "$LOG" '.op == "unwrap" and .error == "authentication" and .reason == 11' "unwrap failed: authentication"
  has "$LOG" '.op == "wrap" and .prog == "envelope"' "wrap (CLI)"
  has "$LOG" '.op == "unwrap" and .prog == "envelope" and .result == "ok"' "unwrap (CLI)"
  has "$LOG" '.op == "kek-create" and .result == "ok" and (.kek | test("object=kek-new"))' "kek-create ok"
  has "$LOG" '.op == "kek-create" and .result == "error"' "kek-create failed"
  has "$LOG" '.op == "wrap" and .prog == "openssl" and .result == "ok"' "wrap (openssl)"
  has "$LOG" '.op == "unwrap" and .prog == "openssl" and .cache == "off" and .result == "ok"' "unwrap (openssl, plain RSA)"
  has "$LOG" '.op == "unwrap" and .error == "policy" and .reason == 23' "policy refusal (retired KEK)"
  has "$LOG" '.op == "kek-open" and .error == "policy" and .reason == 15 and (.kek | test("object=kek-weak"))' \
    "policy refusal (a KEK that is not sensitive, refused as it is opened)"
  # the three contexts of (1) have three context hashes; the same context, one
  [ "$(jq -r 'select(.prog == "provider_audit" and .op == "wrap" and .ctx != null) | .ctx' "$LOG" | sort -u | wc -l)" -ge 3 ] ||
    fail "context hashes do not tell contexts apart"
  # no secret: no DEK (whole, or any 8 of its bytes), no PIN, no PIN attribute
  while read -r dek; do
    for ((i = 0; i + 16 <= ${#dek}; i += 8)); do
      if grep -qiF "${dek:i:16}" "$LOG"; then fail "DEK bytes ${dek:i:16}... in the log"; break; fi
    done
  done <deks
  [ "$(wc -l <deks)" -eq 3 ] || fail "deks: $(wc -l <deks) lines"
  if grep -qF "$PIN" "$LOG"; then fail "the PIN is in the log"; fi
  if grep -qE 'pin-source|pin-value' "$LOG"; then fail "a PIN attribute is in the log"; fi
  for v in tenant acme globex initech "audit me"; do
    if grep -qF "$v" "$LOG"; then fail "context or plaintext \"$v\" in the log"; fi
  done
  # 4 processes x 1000 unwraps into one file: whole lines, one chain. They
  # open the token one after the other (SoftHSM2 can miss its token when
  # processes start at the same moment, audit or not), then all unwrap at once.
  conf "audit-log = file:$work/many.log"
  pids=()
  for i in 1 2 3 4; do
    envelope_run_own "$BIN" loop "$AES" 1000 "ready.$i" go >"out.loop$i" 2>"err.loop$i" &
    pids+=($!)
    for ((t = 0; t < 600; t++)); do [ -e "ready.$i" ] && break; sleep 0.1; done
  done
  touch go
  for p in "${pids[@]}"; do wait "$p" || fail "a loop failed: $(cat err.loop*)"; done
  [ "$(wc -l <many.log)" -eq 4004 ] || fail "4 x (1 wrap + 1000 unwraps): $(wc -l <many.log) lines"
  check_lines many.log
  [ "$(jq -r .pid many.log | sort -u | wc -l)" -eq 4 ] || fail "not 4 writers"
  { "$ENV" audit verify many.log >out.many 2>&1 && grep -q "4004 lines, 1 chain" out.many; } ||
    fail "4 writers: $(cat out.many)"

  # audit-fsync: every batch synced with every, none without (counted by strace)
  if command -v strace >/dev/null; then
    for f in every none; do
      conf "audit-log = file:$work/sync.$f.log" "audit-fsync = $f"
      strace -f -e trace=fdatasync -o "strace.$f" "$BIN" loop "$AES" 20 >/dev/null 2>&1 ||
        fail "strace loop ($f)"
      n=$(grep -c 'fdatasync(' "strace.$f" || true)
      if [ "$f" = every ]; then [ "$n" -ge 1 ] || fail "audit-fsync = every: no fdatasync"; fi
      if [ "$f" = none ]; then [ "$n" -eq 0 ] || fail "audit-fsync = none: $n fdatasync calls"; fi
      [ "$(wc -l <"sync.$f.log")" -eq 21 ] || fail "audit-fsync = $f: $(wc -l <"sync.$f.log") lines"
    done
  else
    echo "audit-fsync not checked: no strace" >&2
  fi

  # an unwritable sink: refuse (the default) releases nothing, warn goes on
  envelope_run_own "$BIN" make "$AES" blob.sink || fail "make"
  conf "audit-log = file:$work/no-such-dir/audit.log"
  rc=0
  envelope_run_own "$BIN" one "$AES" blob.sink 2>err.refuse || rc=$?
  [ "$rc" -eq 5 ] || fail "unwritable sink, refuse: exit $rc, wanted 5 (reason 24)"
  grep -q "audit log cannot be written (cannot open $work/no-such-dir/audit.log" err.refuse ||
    fail "refuse message: $(cat err.refuse)"
  rc=0
  "$ENV" decrypt -o back.refused ct 2>err.clirefuse || rc=$?
  { [ "$rc" -eq 4 ] && [ ! -e back.refused ]; } || fail "CLI with the sink broken: exit $rc, wanted 4, no output"
  conf "audit-log = file:$work/no-such-dir/audit.log" "audit-failure = warn"
  rc=0
  envelope_run_own "$BIN" one "$AES" blob.sink 2>err.warn || rc=$?
  [ "$rc" -eq 0 ] || fail "unwritable sink, warn: exit $rc"
  grep -q "warning: audit log unavailable, key operations continue" err.warn || fail "warn message: $(cat err.warn)"
  # bad settings are named
  for bad in "audit-log = /var/log/x" "audit-fsync = sometimes" "audit-failure = ignore" \
    "audit-overflow = wait"; do
    conf "audit-log = file:$LOG" "$bad"
    rc=0
    envelope_run_own "$BIN" one "$AES" blob.sink 2>err.bad || rc=$?
    { [ "$rc" -ne 0 ] && grep -qF "${bad%% =*} = ${bad#*= }" err.bad; } || fail "\"$bad\": exit $rc, $(cat err.bad)"
  done
}

# `envelope audit verify` and `summary` on a log of EVP, CLI and openssl lines
case_cli() {
  conf "audit-log = file:$LOG"
  envelope_run_own "$BIN" ops "$AES" deks >out.ops 2>err.ops || fail "ops: $(cat err.ops)"
  printf 'audit me\n' >pt
  envelope_run_own "$ENV" encrypt --kek "$AES" -o ct pt || fail "cli encrypt"
  envelope_run_own "$ENV" decrypt -o back ct || fail "cli decrypt"
  softhsm_keygen_rsa kek-rsa 02
  RSA="pkcs11:token=$ENV_TOKEN;object=kek-rsa"
  openssl pkeyutl -encrypt -inkey "$RSA" -pkeyopt rsa_padding_mode:oaep -in pt -out rsa.ct 2>err.rsa ||
    fail "openssl pkeyutl -encrypt: $(cat err.rsa)"
  openssl pkeyutl -decrypt -inkey "$RSA" -pkeyopt rsa_padding_mode:oaep -in rsa.ct -out rsa.pt 2>err.rsa ||
    fail "openssl pkeyutl -decrypt: $(cat err.rsa)"
  # a rewrap: the old EDK unwrapped, the new one wrapped, and said to be a rewrap
  softhsm_keygen_aes kek-aes2 03
  AES2="pkcs11:token=$ENV_TOKEN;object=kek-aes2;type=secret-key"
  cp ct ct.rewrap
  envelope_run_own "$ENV" rewrap --from "$AES" --to "$AES2" ct.rewrap >out.rewrap 2>&1 ||
    fail "rewrap: $(cat out.rewrap)"
  has "$LOG" '.op == "rewrap" and .result == "ok" and .prog == "envelope" and (.kek | test("object=kek-aes2"))' \
    "rewrap (CLI)"
  # the chain holds; an edit fails at that line, a deletion at the next line
  "$ENV" audit verify "$LOG" >out.verify 2>&1 || fail "verify: $(cat out.verify)"
  n=$(wc -l <"$LOG")
  grep -q "^$LOG: $n lines, 1 chain, " out.verify || fail "verify said: $(cat out.verify)"
  sed '5s/"latency_us":\([0-9]*\)/"latency_us":1\1/' "$LOG" >edited.log
  cmp -s "$LOG" edited.log && fail "the edit did nothing"
  rc=0
  "$ENV" audit verify edited.log >out.edit 2>&1 || rc=$?
  { [ "$rc" -eq 2 ] && grep -q "edited.log line 5: edited" out.edit; } || fail "edited line 5: exit $rc, $(cat out.edit)"
  sed '7d' "$LOG" >deleted.log
  rc=0
  "$ENV" audit verify deleted.log >out.del 2>&1 || rc=$?
  { [ "$rc" -eq 2 ] && grep -q "deleted.log line 7: its \"prev\" is not the hash of line 6" out.del; } ||
    fail "deleted line 7: exit $rc, $(cat out.del)"
  head -c -30 "$LOG" >cut.log
  rc=0
  "$ENV" audit verify cut.log >out.cut 2>&1 || rc=$?
  { [ "$rc" -eq 2 ] && grep -q "cut.log line $n: " out.cut; } || fail "cut last line: exit $rc, $(cat out.cut)"
  # summary: per KEK and per program, and the same in JSON
  "$ENV" audit summary --json "$LOG" >summary.json || fail "summary --json"
  u=$(jq '[.keks[] | select(.kek | test("object=kek-aes;")) | .unwrap] | add' summary.json)
  [ "$u" = "$(count "$LOG" '.op == "unwrap" and (.kek | test("object=kek-aes;"))')" ] || fail "summary unwraps $u"
  jq -e '.programs | map(.prog) | index("openssl") != null and index("envelope") != null' summary.json >/dev/null ||
    fail "summary programs: $(jq -c .programs summary.json)"
  jq -e '.keks[] | select(.kek | test("object=kek-aes;")) | .cache_hit_rate > 0 and .failures == 2 and .latency_us.p99 >= .latency_us.p50' \
    summary.json >/dev/null || fail "summary figures: $(cat summary.json)"
  [ "$(jq '[.keks[] | .rewrap] | add' summary.json)" -eq 1 ] || fail "summary rewraps"
  { "$ENV" audit summary "$LOG" >summary.txt && grep -q '^prog openssl$' summary.txt; } || fail "summary text"

  # usage
  rc=0
  "$ENV" audit verify >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || fail "verify without LOG: exit $rc"
  rc=0
  "$ENV" audit verify "$work/none.log" >/dev/null 2>err.none || rc=$?
  { [ "$rc" -eq 5 ] && grep -q "cannot read $work/none.log" err.none; } || fail "missing LOG: exit $rc"
  "$ENV" audit verify - <"$LOG" >/dev/null || fail "verify from stdin"
}

case_alarm() {
  # within one process: 20 unwraps per 2 s, then refused
  conf "audit-log = file:$LOG" "unwrap-alarm = 20/2s" "unwrap-alarm-action = refuse"
  envelope_run_own "$BIN" loop "$AES" 50 >out.loop 2>err.loop || fail "loop: $(cat err.loop)"
  grep -q '^ok=20 alarm=30 audit=0$' out.loop || fail "one process, 20/2s: $(cat out.loop)"
  [ "$(count "$LOG" '.op == "alarm"')" -eq 1 ] || fail "alarm lines: $(count "$LOG" '.op == "alarm"')"
  has "$LOG" '.op == "alarm" and .count == 20 and .limit == 20 and .window_ms == 2000' "alarm line with count and limit"
  [ "$(count "$LOG" '.op == "unwrap" and .error == "alarm" and .reason == 25')" -eq 30 ] || fail "refused unwraps not in the trail"
  # recovery as the window slides: 10/3s, one unwrap every 100 ms for 4.5 s
  rm -f "$LOG"
  conf "audit-log = file:$LOG" "unwrap-alarm = 10/3s" "unwrap-alarm-action = refuse"
  envelope_run_own "$BIN" pace "$AES" 45 100 >out.pace 2>err.pace || fail "pace: $(cat err.pace)"
  grep -Eq '^o{10}a+.*o' out.pace || fail "no trigger then recovery: $(cat out.pace)"
  has "$LOG" '.op == "alarm"' "alarm (pace)"
  has "$LOG" '.op == "alarm-clear"' "alarm-clear (pace)"
  # log only: an alert, no refusal
  rm -f "$LOG"
  conf "audit-log = file:$LOG" "unwrap-alarm = 5/60s"
  envelope_run_own "$BIN" loop "$AES" 10 >out.log 2>err.log || fail "loop: $(cat err.log)"
  grep -q '^ok=10 alarm=0' out.log || fail "action log refused: $(cat out.log)"
  [ "$(count "$LOG" '.op == "alarm"')" -eq 1 ] || fail "action log: no single alert"

  # 20 short-lived processes sharing alarm-state: 10 between them (started a
  # moment apart: SoftHSM2 can miss its token when processes start together)
  envelope_run_own "$BIN" make "$AES" blob || fail "make"
  conf "audit-log = file:$LOG" "unwrap-alarm = 10/60s" "unwrap-alarm-action = refuse" \
    "alarm-state = $work/alarm.state"
  : >codes
  for _ in 1 2 3 4; do
    pids=()
    for i in 1 2 3 4 5; do
      (
        # exit 3: the token was missed at start (nothing unwrapped): run it again
        for _ in 1 2 3 4 5; do
          rc=0
          envelope_run_own "$BIN" one "$AES" blob 2>/dev/null || rc=$?
          [ "$rc" -eq 3 ] || break
          sleep 0.3
        done
        echo "$rc" >>codes
      ) &
      pids+=($!)
      sleep 0.2
    done
    for p in "${pids[@]}"; do wait "$p"; done
  done
  { [ "$(grep -c '^0$' codes)" -eq 10 ] && [ "$(grep -c '^4$' codes)" -eq 10 ]; } ||
    fail "20 processes sharing alarm-state: $(sort codes | uniq -c | tr '\n' ' ')"
  # recovery across processes: 3 per 8 s, five processes one after another,
  # then one more once the window has passed
  conf "audit-log = file:$LOG" "unwrap-alarm = 3/8s" "unwrap-alarm-action = refuse" \
    "alarm-state = $work/alarm3.state"
  : >codes3
  for i in 1 2 3 4 5; do
    rc=0
    envelope_run_own "$BIN" one "$AES" blob 2>/dev/null || rc=$?
    printf '%s' "$rc" >>codes3
  done
  grep -Eq '^0004' codes3 || fail "3/8s across 5 processes: $(cat codes3)"
  sleep 8.5
  rc=0
  envelope_run_own "$BIN" one "$AES" blob 2>/dev/null || rc=$?
  [ "$rc" -eq 0 ] || fail "no recovery across processes after the window: exit $rc"
  has "$LOG" '.op == "alarm-clear"' "alarm-clear across processes"
  # without alarm-state each process counts its own
  conf "audit-log = file:$LOG" "unwrap-alarm = 10/60s" "unwrap-alarm-action = refuse"
  for i in $(seq 1 20); do
    envelope_run_own "$BIN" one "$AES" blob 2>/dev/null || fail "per-process count refused process $i"
  done
  # the CLI: exit 4, no output
  printf 'rate\n' >pt
  envelope_run_own "$ENV" encrypt --kek "$AES" -o ct pt
  conf "unwrap-alarm = 1/60s" "unwrap-alarm-action = refuse" "alarm-state = $work/alarm2.state"
  envelope_run_own "$ENV" decrypt -o back ct || fail "first CLI decrypt"
  rc=0
  envelope_run_own "$ENV" decrypt -o back2 ct 2>err.cli || rc=$?
  { [ "$rc" -eq 4 ] && [ ! -e back2 ] && grep -q "unwrap-alarm limit is 1" err.cli; } ||
    fail "CLI over the limit: exit $rc, $(cat err.cli)"
  # bad settings are named; a state file of another window is refused
  for bad in "unwrap-alarm = lots" "unwrap-alarm = 10/0s" "unwrap-alarm-action = block"; do
    conf "unwrap-alarm = 10/60s" "$bad"
    rc=0
    envelope_run_own "$BIN" one "$AES" blob 2>err.bad || rc=$?
    { [ "$rc" -ne 0 ] && grep -qF "${bad%% =*} = ${bad#*= }" err.bad; } || fail "\"$bad\": exit $rc, $(cat err.bad)"
  done
  conf "unwrap-alarm = 10/30s" "alarm-state = $work/alarm.state"
  rc=0
  envelope_run_own "$BIN" one "$AES" blob 2>err.window || rc=$?
  { [ "$rc" -ne 0 ] && grep -q "made for a 60000 ms window" err.window; } || fail "other window: exit $rc, $(cat err.window)"
  conf "unwrap-alarms = 10/60s"
  rc=0
  envelope_run_own "$BIN" one "$AES" blob 2>err.typo || rc=$?
  { [ "$rc" -ne 0 ] && grep -q "did you mean" err.typo; } || fail "misspelt setting: $(cat err.typo)"
}

"case_$CASE"
[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "provider $CASE: all checks passed"
