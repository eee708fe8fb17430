#!/usr/bin/env bash
# lib_doc_snippets.sh DOC INCLUDE_DIR LIB_DIR CC - every ```c block of DOC
# (docs/LIBRARY.md) is a whole translation unit: each is compiled with
# -std=c11 -Wall -Wextra -Werror -pedantic (warn_unused_result included:
# a snippet that ignores a status fails) and linked against libenvelope
# with --no-undefined (a misspelt function fails). Then the header alone,
# as C with -pedantic and as C++ (c++ from PATH) with -pedantic, using the
# _INIT macros.
set -euo pipefail
doc=$1
inc=$2
libdir=$3
cc=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/envsnip.XXXXXX")
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
awk -v dir="$work" '
  /^```c$/ { n++; f = sprintf("%s/snippet%02d.c", dir, n); on = 1; start = NR; print "/* " FILENAME ":" NR + 1 " */" > f; next }
  /^```/ && on { on = 0; close(f); next }
  on { print > f }
' "$doc"
count=$(find "$work" -name 'snippet*.c' | wc -l)
[ "$count" -ge 5 ] || fail "only $count C blocks found in $doc"
flags=(-std=c11 -Wall -Wextra -Werror -pedantic -fPIC -I "$inc")
for f in "$work"/snippet*.c; do
  if ! "$cc" "${flags[@]}" -shared -o "${f%.c}.so" "$f" -L "$libdir" -lenvelope \
    -Wl,--no-undefined 2>"$f.err"; then
    fail "$(head -n1 "$f") does not build: $(cat "$f.err")"
  fi
done
echo "$count C blocks of $doc compile warning-free and link"

cat >"$work/header.c" <<'C'
#include <envelope/envelope.h>
int header_check(void);
int header_check(void)
{
    envelope_encrypt_opts eo = ENVELOPE_ENCRYPT_OPTS_INIT;
    envelope_decrypt_opts dopt = ENVELOPE_DECRYPT_OPTS_INIT;
    envelope_rewrap_opts ro = ENVELOPE_REWRAP_OPTS_INIT;
    envelope_recorder_opts rco = ENVELOPE_RECORDER_OPTS_INIT;
    envelope_recorder_stats rst = ENVELOPE_RECORDER_STATS_INIT;
    return eo.struct_size == sizeof(eo) && dopt.struct_size == sizeof(dopt) &&
           ro.struct_size == sizeof(ro) && rco.struct_size == sizeof(rco) &&
           rst.struct_size == sizeof(rst) && envelope_version() == ENVELOPE_LIB_VERSION;
}
C
"$cc" -std=c11 -Wall -Wextra -Werror -pedantic -I "$inc" -c -o "$work/h.o" "$work/header.c" ||
  fail "the header as C11 -pedantic"
cxx=$(command -v c++ || command -v g++ || command -v clang++ || true)
if [ -z "$cxx" ]; then
  fail "no C++ compiler on PATH for the header's C++ check"
else
  cp "$work/header.c" "$work/header.cc"
  for std in c++11 c++17; do
    "$cxx" -std=$std -Wall -Wextra -Werror -pedantic -I "$inc" -c -o "$work/h.o" "$work/header.cc" ||
      fail "the header as $std -pedantic"
  done
  echo "the header builds as C11, C++11 and C++17 with -pedantic -Wall -Wextra -Werror"
fi
[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
