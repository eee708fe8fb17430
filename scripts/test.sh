#!/usr/bin/env bash
# The whole test suite: installs what is missing, runs the static checks
# (scripts/lint.sh), then builds and runs ctest twice (a normal build and an
# ASan+UBSan build), then runs each libFuzzer target for a bounded time
# (scripts/fuzz.sh, ENVELOPE_FUZZ_SECONDS each, default 15),
# then builds the Debian packages and tests them installed
# (scripts/deb-test.sh; ENVELOPE_DEB_TEST=0 skips that).
# Exit status is non-zero if anything failed; a lint failure does not stop
# the builds and tests.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${ENVELOPE_FUZZ_SECONDS:-15}
status=0

echo "=== lint"
bash scripts/lint.sh || status=1

run_suite() {
  local name=$1; shift
  echo "=== build: $name"
  cmake -S . -B "build/$name" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "build/$name" -j"$jobs"
  echo "=== test: $name"
  (cd "build/$name" && ctest --output-on-failure -j"$jobs" --timeout 900) || status=1
}

run_suite normal -DCMAKE_C_COMPILER=gcc
# LeakSanitizer is on; OpenSSL's and p11-kit's one-time globals are listed in
# tests/lsan.supp. detect_leaks stays on for our code.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_suite asan -DCMAKE_C_COMPILER=clang -DENVELOPE_WITH_SANITIZERS=ON

# ThreadSanitizer: the stress test at a short size (8 threads x 2000 mixed
# operations on SoftHSM2, swtpm and PyKMIP, and forks; docs/TESTING.md,
# "Concurrency") and the shared recorder at its default size (8 threads
# over 1,000 contexts, both record forms); only what they need is built.
# Any report fails them.
echo "=== build: tsan"
cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DENVELOPE_WITH_TSAN=ON >/dev/null
cmake --build build/tsan -j"$jobs" --target provider_stress envelope_cli envelope_provider \
  envelope_kms_pkcs11 kms_p11 lib_recorder lib_recorder_compact
echo "=== test: tsan (provider.mixed.stress at 8 x 2000, lib.softhsm.recorder)"
(cd build/tsan && ENVELOPE_STRESS_OPS=2000 ctest -R '^(provider\.mixed\.stress|lib\.softhsm\.recorder)$' \
  --output-on-failure) || status=1

# Every libFuzzer target with its corpus and dictionary, two at a time:
# 15 s each keeps the step within 4 minutes on 2 cores (scripts/fuzz.sh).
echo "=== fuzz: ${fuzz_seconds}s per target"
ENVELOPE_FUZZ_JOBS=2 bash scripts/fuzz.sh "$fuzz_seconds" || status=1

# The Debian packages: built, lintian, installed in a pristine Debian root
# where the README quick start and the demo run (a few minutes; needs the
# network to deb.debian.org, and says so when it is not there).
if [ "${ENVELOPE_DEB_TEST:-1}" = 1 ]; then
  echo "=== packages: scripts/deb-test.sh"
  bash scripts/deb-test.sh || status=1
else
  echo "=== packages: skipped (ENVELOPE_DEB_TEST=0)"
fi
exit $status
