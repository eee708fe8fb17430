#!/usr/bin/env bash
# abi-baseline.sh BUILD_DIR - writes abi/libenvelope.so.<soname>.abi, the ABI
# baseline lib.none.abi compares every build with (docs/LIBRARY.md, "ABI and
# versions"): abidw's description of BUILD_DIR's libenvelope (a
# RelWithDebInfo or Debug build: it reads the DWARF), restricted to the
# types of include/envelope/, with the build's folders taken out of the
# source locations. Run it when a release fixes the ABI, and commit the
# file with the release; never to make a failing lib.none.abi pass.
set -euo pipefail
build=${1:?usage: abi-baseline.sh BUILD_DIR}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v abidw >/dev/null || { echo "abi-baseline: abidw is missing (apt-get install abigail-tools)" >&2; exit 1; }
so=$(readlink -f "$build/lib/libenvelope.so")
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ -n "$soname" ] || { echo "abi-baseline: $so has no soname" >&2; exit 1; }
build_abs=$(cd "$build" && pwd)
out=$src/abi/$soname.abi
abidw --drop-private-types --headers-dir "$src/include/envelope" --no-corpus-path "$so" |
  sed -e "s|$build_abs/|BUILD/|g" -e "s|$src/|SRC/|g" >"$out"
echo "abi-baseline: wrote $out"
