#!/usr/bin/env bash
# stress.sh [BUILD_DIR] - the long runs that the default ctest keeps short
# (docs/TESTING.md): lib.softhsm.recorder at its full size, 8 threads x
# 100,000 records over 1,000 contexts through one envelope_recorder;
# provider.mixed.stress at 8 threads x 100,000 mixed operations
# (ENVELOPE_STRESS_OPS) with forks; provider.softhsm.fault-fork-busy at
# 5,000 forks (ENVELOPE_FORK_BUSY_ROUNDS). Run it in the ASan and the
# ThreadSanitizer builds too (a TSan build holds the stress test and the
# recorder programs; scripts/test.sh builds them):
#   bash scripts/stress.sh build/asan
#   bash scripts/stress.sh build/tsan
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$root/build/normal}")
[ -f "$build/CTestTestfile.cmake" ] || { echo "stress: $build is not a configured build" >&2; exit 1; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
status=0
if [ -f "$build/tests/integration/lib_recorder" ]; then
  ENVELOPE_RECORDER_RECORDS=100000 ctest -R '^lib\.softhsm\.recorder$' --output-on-failure \
    --timeout 3600 || status=1
fi
ENVELOPE_STRESS_OPS=${ENVELOPE_STRESS_OPS:-100000} ctest -R '^provider\.mixed\.stress$' -V \
  --timeout 14400 || status=1
if [ -f "$build/tests/integration/provider_fork_busy" ]; then
  ENVELOPE_FORK_BUSY_ROUNDS=${ENVELOPE_FORK_BUSY_ROUNDS:-5000} \
    ctest -R '^provider\.softhsm\.fault-fork-busy$' -V --timeout 7200 || status=1
fi
exit $status
