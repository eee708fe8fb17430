#!/usr/bin/env bash
# lib_abi.sh LIBRARY SOURCE_DIR - the built libenvelope against the committed
# ABI baseline (abi/<soname>.abi, written by scripts/abi-baseline.sh) with
# abigail's abidiff, over the types of include/envelope/ only. A removed or
# incompatibly changed function, variable or type fails; additions are
# reported and pass (they go in a new symbol-version node:
# lib/libenvelope.map). Exit 77 (skip) if abidiff is not installed
# (abigail-tools, in scripts/install-deps.sh).
set -euo pipefail
lib=$(readlink -f "$1")
src=$2
if ! command -v abidiff >/dev/null; then
  echo "SKIP: abidiff is not installed (apt-get install abigail-tools): no ABI check" >&2
  exit 77
fi
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
base=$src/abi/$soname.abi
[ -r "$base" ] || { echo "FAIL: no ABI baseline $base for soname $soname (a new soname needs scripts/abi-baseline.sh)" >&2; exit 1; }
rc=0
report=$(abidiff --drop-private-types --hd2 "$src/include/envelope" "$base" "$lib") || rc=$?
printf '%s\n' "$report"
# abidiff's status is a bit field: 1 error, 2 usage, 4 ABI change, 8 incompatible change
if [ $((rc & 3)) -ne 0 ]; then
  echo "FAIL: abidiff could not compare (status $rc)" >&2
  exit 1
fi
if [ $((rc & 8)) -ne 0 ]; then
  echo "FAIL: an incompatible ABI change against $base (above): keep the ABI, or bump the soname (lib/CMakeLists.txt), the Debian package name and write a new baseline" >&2
  exit 1
fi
if [ $((rc & 4)) -ne 0 ]; then
  # a changed type under an unchanged symbol is a break too
  if grep -Eq "^Functions changes summary: [0-9]+ Removed, [1-9][0-9]* Changed|^Variables changes summary: [0-9]+ Removed, [1-9][0-9]* Changed" <<<"$report"; then
    echo "FAIL: functions of $base changed their types (above)" >&2
    exit 1
  fi
  echo "ABI: additions only against $base (above); list them in a new node of lib/libenvelope.map at release"
  exit 0
fi
echo "ABI: identical to $base"
