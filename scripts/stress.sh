#!/usr/bin/env bash
# stress.sh [BUILD_DIR] - the long runs that the default ctest keeps short
# (docs/TESTING.md): lib.softhsm.recorder at its full size, 8 threads x
# 100,000 records over 1,000 contexts through one envelope_recorder. Run it
# in an ASan build too (a ThreadSanitizer build option does not exist yet):
#   bash scripts/stress.sh build/asan
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$root/build/normal}")
[ -f "$build/CTestTestfile.cmake" ] || { echo "stress: $build is not a configured build" >&2; exit 1; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ENVELOPE_RECORDER_RECORDS=100000 ctest -R '^lib\.softhsm\.recorder$' --output-on-failure --timeout 3600
