#!/usr/bin/env bash
# The tree's static checks, each failing the run on a finding:
#   1. shellcheck on every shell script (settings: .shellcheckrc);
#   2. clang-format --dry-run -Werror on every C file (.clang-format): the
#      tree is formatted, so any unformatted change fails (fix: clang-format
#      -i FILE);
#   3. clang-tidy on every C file (.clang-tidy, and tests/, bench/, cli/
#      .clang-tidy on top), from a configure-only build in build/lint that
#      turns every target on (fuzz targets and benchmarks too); every
#      finding fails.
# LINT_SHELL=0 / LINT_FORMAT=0 / LINT_TIDY=0 skip a step (for a quick local run). Tools come
# from scripts/install-deps.sh. Exit status 0 only if every step passed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

LINT_SHELL=${LINT_SHELL:-1}
LINT_FORMAT=${LINT_FORMAT:-1}
LINT_TIDY=${LINT_TIDY:-1}
jobs=$(nproc 2>/dev/null || echo 2)
status=0

need() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "lint: $tool is not installed; run scripts/install-deps.sh as root" >&2
      exit 2
    fi
  done
}

# Tracked files only: build trees and scratch files are not the tree's.
tracked() { git ls-files -z -- "$@"; }

if [ "$LINT_SHELL" = 1 ]; then
  need shellcheck git
  echo "=== lint: shellcheck"
  mapfile -d '' scripts < <(tracked '*.sh' '*.bash' .ci/run)
  if shellcheck -f gcc "${scripts[@]}"; then
    echo "shellcheck: ${#scripts[@]} scripts, no findings"
  else
    echo "shellcheck: findings above" >&2
    status=1
  fi
fi

if [ "$LINT_FORMAT" = 1 ]; then
  need clang-format git
  echo "=== lint: clang-format"
  mapfile -d '' cfiles < <(tracked '*.c' '*.h')
  # At most 3 places per file: the file list is what matters.
  if clang-format --dry-run -Werror --ferror-limit=3 "${cfiles[@]}"; then
    echo "clang-format: ${#cfiles[@]} files formatted"
  else
    echo "clang-format: files above need formatting (clang-format -i FILE)" >&2
    status=1
  fi
else
  echo "=== lint: clang-format skipped (LINT_FORMAT=0)"
fi

if [ "$LINT_TIDY" = 1 ]; then
  need clang-tidy clang cmake python3
  echo "=== lint: clang-tidy"
  lint_build=$root/build/lint
  mkdir -p "$lint_build" # a fresh clone has no build/ yet
  cmake -S . -B "$lint_build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DENVELOPE_WITH_TESTS=ON -DENVELOPE_WITH_FUZZ=ON \
    -DENVELOPE_WITH_BENCH=ON >"$lint_build.cmake.log" 2>&1 \
    || { cat "$lint_build.cmake.log" >&2; echo "lint: cmake configure failed" >&2; exit 2; }
  # One run per source file (the CLI's files are in two targets).
  mapfile -t sources < <(python3 -c '
import json, sys
for f in sorted({e["file"] for e in json.load(open(sys.argv[1]))}):
    print(f)' "$lint_build/compile_commands.json")
  log=$lint_build/clang-tidy.log
  tidy_rc=0
  printf '%s\0' "${sources[@]}" |
    xargs -0 -n 4 -P "$jobs" clang-tidy -p "$lint_build" --quiet --header-filter="^$root/" \
      >"$log" 2>"$log.stderr" || tidy_rc=$?
  # A header's finding is reported once per file that includes it: show
  # each diagnostic once (the full notes are in the log).
  grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error): ' "$log" | sed "s|^$root/||" | sort -u \
    >"$log.findings" || true
  errors=$(grep -c ': error: ' "$log.findings" || true)
  warnings=$(grep -c ': warning: ' "$log.findings" || true)
  cat "$log.findings"
  if [ "$tidy_rc" -ne 0 ] || [ "$errors" -gt 0 ] || [ "$warnings" -gt 0 ]; then
    grep -vE '^[0-9]+ (warning|error)s? (and [0-9]+ (warning|error)s? )?generated\.$' \
      "$log.stderr" >&2 || true
    echo "clang-tidy: $errors failing finding(s), $warnings warning(s) in ${#sources[@]} files; notes in $log" >&2
    status=1
  else
    echo "clang-tidy: ${#sources[@]} files, no findings"
  fi
fi

exit "$status"
