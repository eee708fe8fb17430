#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DENVELOPE_WITH_FUZZ=ON) and runs
# every one with its committed corpus (tests/fuzz/corpus/NAME/, plus
# tests/fuzz/regressions/NAME/) and dictionary (tests/fuzz/dict/NAME.dict).
#
#   scripts/fuzz.sh [SECONDS]     each target for SECONDS (default 10)
#   scripts/fuzz.sh --long        each target to 10^7 executions
#   scripts/fuzz.sh --coverage    replays each corpus in a coverage build and
#                                 reports llvm-cov line coverage of the files
#                                 the target is for
#   --minimise                    (with a run) merges the grown corpus into
#                                 tests/fuzz/corpus/NAME/ (-merge=1 into a
#                                 fresh folder holding the named seeds, those
#                                 not named by a SHA-1, which then replaces it)
#   --only NAME[,NAME]            these targets only (fuzz_ prefix optional)
#
# Only the fuzz targets are built (those of --only, when given).
# ENVELOPE_FUZZ_JOBS targets run at once (default 2), each under nice.
# ENVELOPE_FUZZ_RUNS overrides --long's count; ENVELOPE_FUZZ_MAX_SECONDS caps
# each --long run's time (a budget on a loaded machine: the report then
# says how many executions were reached). --only runs targets in its order. Per target it reports
# executions, crashes and the corpus size before and after; the exit status
# is non-zero if any target crashed (the input is in build/fuzz/artifacts/).
# docs/TESTING.md ("Fuzzing") has the figures of the last long run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

seconds=10 mode=time minimise=0 only=""
while [ $# -gt 0 ]; do
  case $1 in
    --long) mode=long ;;
    --coverage) mode=coverage ;;
    --minimise | --minimize) minimise=1 ;;
    --only) only=$2; shift ;;
    [0-9]*) seconds=$1 ;;
    *) echo "usage: scripts/fuzz.sh [SECONDS] [--long] [--coverage] [--minimise] [--only NAMES]" >&2; exit 2 ;;
  esac
  shift
done
jobs=${ENVELOPE_FUZZ_JOBS:-2}
runs=${ENVELOPE_FUZZ_RUNS:-10000000}

# The files each target is for: what --coverage measures.
declare -A files=(
  [header]="lib/header.c lib/context.c lib/inspect.c lib/keyblock_load.c lib/record.c"
  [decrypt_stream]="lib/decrypt_stream.c lib/decrypt_par.c lib/open.c lib/header.c lib/crypto.c"
  [wrapblob]="provider/wrapblob.c"
  [pkcs11_uri]="lib/uri.c core/uri_match.c hsm/hsm_uri.c hsm/hsm_tokens.c"
  [tpm_uri]="tpm/tpm_uri.c"
  [tpm_keyfile]="tpm/tpm_keyfile.c"
  [settings]="provider/provider_config.c provider/settings_check.c provider/kek_alias.c core/settings.c hsm/hsm_tokens.c tpm/tpm_handles.c"
  [kms_config]="kms-bridge/kms_config.c kms-bridge/aws_config.c"
  [ttlv]="kms-bridge/ttlv.c kms-bridge/kmip_resp.c"
  [aws_json]="kms-bridge/aws_json.c"
  [aws_creds_file]="kms-bridge/aws_creds.c"
)

# Of those files, the functions that read outside bytes (the parser): a
# regular expression over llvm-cov's function names ("file.c:name" for
# static ones). What is left out writes or formats (ttlv_w_*, key file and
# URI writers), serves another caller (context builders, inspector
# accessors, the alias store, the decryptors' lent buffers), or reads the
# environment, not the input.
declare -A parser=(
  [header]='^(header\.c:.*|env_header_parse|env_parse_(context|edk_list)|env_hdracc_.*|env_kb_parse|envelope_record_dek_id|env_utf8_valid|env_context_decode|context\.c:add_pair|envelope_context_(new|free)|envelope_inspector_(new|update|final|free)|inspect\.c:.*)$'
  [decrypt_stream]='^(envelope_decryptor_(new|update|final|free)|decrypt_stream\.c:.*|envelope_open|envelope_opener_(new|free|open|context)|env_open_frames|env_plaintext_len|open\.c:.*|env_pdec_(new|update|final|free)|decrypt_par\.c:.*|env_crypto_(init|cleanup|derive)|env_header_verify|env_frame_open|crypto\.c:.*)$'
  [wrapblob]='.'
  [pkcs11_uri]='^(env_uri_(strip|printable|scheme|message_scheme|check_untrusted)|uri\.c:.*|envcore_uri_.*|uri_match\.c:.*|hsm_uri_parse|hsm_token_list_(parse|free|match|names_absent)|hsm_uri_names_slot_or_library|hsm_tokens\.c:.*)$'
  [tpm_uri]='^(envtpm_uri_(parse|clear)|tpm_uri\.c:(?!pct_encode).*)$'
  [tpm_keyfile]='^(envtpm_keyfile_parse|tpm_keyfile\.c:(bad_file|parse_policy))$' # octets: the writer's
  [settings]='^(envprov_config_(read|ok|free)|provider_config\.c:.*|envprov_settings_unknown|settings_check\.c:.*|envprov_alias_key_ok|envprov_aliases_(build|free)|kek_alias\.c:(name_char|parse_key|alias_named|bad|add_uris)|envcore_setting.*|settings\.c:.*|hsm_token_list_(parse|free)|hsm_tokens\.c:(bad|field_set|names_a_token|parse_entry)|envtpm_handle_list_(parse|free)|tpm_handles\.c:.*)$'
  [kms_config]='.'
  [ttlv]='^(ttlv_(validate|r_.*|enter|next|get_.*|find.*)|ttlv\.c:(?!put_).*|kmip_parse_.*|kmip_resp\.c:.*)$'
  [aws_json]='.'
  # read_secret_file and home_path are left out: they read the file system
  # (open, fstat, read errors; a 1 MiB file) and HOME, not the bytes
  [aws_creds_file]='^(aws_creds_from_files|aws_creds_new|aws_creds_free|aws_creds\.c:(ini_.*|trim|secret_copy))$'
)

build=build/fuzz
extra=()
if [ "$mode" = coverage ]; then
  build=build/fuzz-cov
  extra=(-DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping")
fi
echo "fuzz: building $build"
mkdir -p "$(dirname "$build")" # a fresh checkout has no build/ yet
nice -n 10 cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DENVELOPE_WITH_FUZZ=ON -DENVELOPE_WITH_TESTS=ON "${extra[@]}" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
# Only the fuzz targets asked for (all the configuration has without --only):
# the rest of the tree is not run here, and on a loaded machine building it
# in the coverage build costs most of the time.
build_targets=()
if [ -n "$only" ]; then
  IFS=, read -r -a wanted <<<"${only//fuzz_/}"
  for name in "${wanted[@]}"; do build_targets+=("fuzz_$name"); done
else
  # those this configuration defines (a backend's targets need its libraries)
  mapfile -t build_targets < <(cmake --build "$build" --target help |
    grep -oE '\bfuzz_[a-z0-9_]+\b' | grep -v '^fuzz_.*_autogen' | sort -u)
fi
nice -n 10 cmake --build "$build" -j"$jobs" --target "${build_targets[@]}" >"$build.build.log" 2>&1 ||
  { tail -40 "$build.build.log"; exit 1; }

targets=()
if [ -n "$only" ]; then
  IFS=, read -r -a wanted <<<"${only//fuzz_/}"
  for name in "${wanted[@]}"; do
    [ -x "$build/tests/fuzz/fuzz_$name" ] || { echo "fuzz: no target fuzz_$name" >&2; exit 1; }
    targets+=("$name")
  done
else
  for t in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t"); targets+=("${name#fuzz_}")
  done
fi
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: no targets built" >&2; exit 1; }

out=$build/runs
mkdir -p "$out" "$build/artifacts"
export TMPDIR=${TMPDIR:-/tmp}
# Leak checking stays on (libFuzzer's default); UBSan findings are crashes.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# One target: fuzz a copy of its corpus (the repository is untouched unless
# --minimise), then the report line goes to $out/NAME.result.
run_one() {
  local name=$1 bin=$build/tests/fuzz/fuzz_$1 work=$out/$1.corpus log=$out/$1.log
  local seeds=tests/fuzz/corpus/$1 regress=tests/fuzz/regressions/$1 dict=()
  # a crash input left by an earlier run is not this run's: start empty
  rm -rf "$work" "$build/artifacts/$name" && mkdir -p "$work" "$build/artifacts/$name"
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
  [ -d "$regress" ] && cp -r "$regress"/. "$work"/
  [ -f "tests/fuzz/dict/$name.dict" ] && dict=(-dict="tests/fuzz/dict/$name.dict")
  local before; before=$(count "$work")
  local limit=(-max_total_time="$seconds")
  if [ "$mode" = long ]; then
    limit=(-runs="$runs")
    [ -n "${ENVELOPE_FUZZ_MAX_SECONDS:-}" ] && limit+=(-max_total_time="$ENVELOPE_FUZZ_MAX_SECONDS")
  fi
  local rc=0
  nice -n 10 "$bin" "${limit[@]}" "${dict[@]}" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=60 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$name/" "$work" >"$log" 2>&1 || rc=$?
  local execs; execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  local crashes; crashes=$(find "$build/artifacts/$name" -type f \( -name 'crash-*' -o -name 'leak-*' \
    -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  local after=$before
  if [ "$minimise" = 1 ] && [ "$rc" -eq 0 ]; then
    local fresh=$out/$1.min
    rm -rf "$fresh" && mkdir -p "$fresh"
    find "$seeds" -maxdepth 1 -type f ! -regex '.*/[0-9a-f]\{40\}' -exec cp {} "$fresh"/ \;
    nice -n 10 "$bin" -merge=1 "${dict[@]}" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=60 \
      "$fresh" "$work" >"$out/$1.merge.log" 2>&1
    rm -rf "$seeds" && mkdir -p "$seeds" && cp "$fresh"/* "$seeds"/
    after=$(count "$seeds")
  else
    after=$(count "$work")
  fi
  echo "$name executions=${execs:-?} crashes=$crashes corpus=$before->$after rc=$rc" >"$out/$name.result"
}

coverage_one() {
  local name=$1 bin=$build/tests/fuzz/fuzz_$1 prof=$out/$1.profraw
  local inputs=(tests/fuzz/corpus/"$1")
  [ -d "tests/fuzz/regressions/$1" ] && inputs+=("tests/fuzz/regressions/$1")
  rm -f "$prof"
  LLVM_PROFILE_FILE=$prof nice -n 10 "$bin" -runs=0 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    "${inputs[@]}" >"$out/$1.cov.log" 2>&1 || true
  llvm-profdata merge -sparse "$prof" -o "$out/$1.profdata"
  local srcs=()
  for f in ${files[$name]:-}; do srcs+=("$root/$f"); done
  llvm-cov report "$bin" -instr-profile="$out/$1.profdata" "${srcs[@]}" >"$out/$1.cov.txt"
  llvm-cov report -show-functions "$bin" -instr-profile="$out/$1.profdata" "${srcs[@]}" \
    >"$out/$1.functions.txt"
  # Filename Regions Missed Cover Functions Missed Executed Lines Missed Cover ...
  local total; total=$(awk '$1 == "TOTAL" {print $10}' "$out/$1.cov.txt")
  local per; per=$(awk 'NR > 2 && $1 != "TOTAL" && $1 !~ /^-/ && NF > 10 {
      n = split($1, p, "/"); printf "%s %s/%s, ", p[n], $8 - $9, $8 }' "$out/$1.cov.txt")
  # Name Regions Miss Cover Lines Miss Cover Branches Miss Cover, per function
  local re=${parser[$name]:-.}
  local parsed; parsed=$(awk 'NF == 10 && $1 != "Name" && $1 != "TOTAL" { print $1, $5, $6 }' \
    "$out/$1.functions.txt" | grep -P "${re%\$}\s" |
    awk '{ n += $2; m += $3 } END { if (n) printf "%.1f%% (%d/%d)", 100 * (n - m) / n, n - m, n }')
  echo "$name parser=${parsed:-?} files=${total:-?} (${per%, })" >"$out/$name.result"
}

status=0
pids=()
for name in "${targets[@]}"; do
  if [ "$mode" = coverage ]; then
    coverage_one "$name" &
  else
    run_one "$name" &
  fi
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
for p in "${pids[@]}"; do wait "$p" || true; done

echo "fuzz: ${mode}$([ "$mode" = time ] && echo " ${seconds}s per target")"
for name in "${targets[@]}"; do
  line=$(cat "$out/$name.result" 2>/dev/null || echo "$name: no result (see $out/$name.log)")
  echo "  $line"
  case $line in
    *"crashes=0 "*) ;;
    *parser=*) ;;
    *) status=1; echo "    FAILED: $out/$name.log; inputs in $build/artifacts/$name/"
       tail -25 "$out/$name.log" 2>/dev/null | sed 's/^/    /' ;;
  esac
done
exit $status
