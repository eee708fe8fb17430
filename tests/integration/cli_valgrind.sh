#!/usr/bin/env bash
# cli_valgrind.sh ENVELOPE PROVIDER_DIR - cli.softhsm.valgrind: the CLI's
# encrypt, decrypt, rewrap and a failing decrypt (a tampered file) under
# valgrind's memcheck, with the provider on a SoftHSM2 token: no invalid
# read or write, no use of uninitialised memory, no definite leak. The
# suppressions (tests/valgrind.supp) name third-party code only, each with
# why. Normal build only (exit 77 in a sanitizer build: the ASan runtime
# and valgrind exclude each other).
set -euo pipefail
cli=$1 provdir=$2
if [ "${ENVELOPE_SANITIZED:-0}" = 1 ]; then
  echo "SKIP: valgrind cannot run a sanitizer build; it runs in the normal build"
  exit 77
fi
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=softhsm.sh
source "$here/softhsm.sh"
work=$(mktemp -d /tmp/envelope-valgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
softhsm_setup "$work" "$provdir"
OPENSSL_CONF=/dev/null softhsm_keygen_aes kek-old 01
OPENSSL_CONF=/dev/null softhsm_keygen_aes kek-new 02
OLD="pkcs11:token=$ENV_TOKEN;object=kek-old;type=secret-key"
NEW="pkcs11:token=$ENV_TOKEN;object=kek-new;type=secret-key"
fails=0
vg() { # NAME WANT_RC cmd...: memcheck over one CLI run
  local name=$1 want=$2 rc=0; shift 2
  valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite --track-origins=yes \
    --suppressions="$here/../valgrind.supp" --log-file="$work/$name.vg" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $name: exit $rc, wanted $want" >&2
    sed 's/^/  | /' "$work/$name.err" "$work/$name.vg" | head -80 >&2
    fails=$((fails + 1))
  else
    echo "ok: $name (exit $rc): $(grep -E 'ERROR SUMMARY' "$work/$name.vg" | sed 's/^==[0-9]*== //')"
  fi
}
head -c 300000 /dev/urandom >in.bin
vg encrypt 0 "$cli" encrypt --kek "$OLD" --context app=valgrind -o msg.env in.bin
vg decrypt 0 "$cli" decrypt --kek "$OLD" -o out.bin msg.env
cmp in.bin out.bin || { echo "FAIL: decrypt gave other bytes" >&2; fails=$((fails + 1)); }
vg rewrap 0 "$cli" rewrap --from "$OLD" --to "$NEW" msg.env
rm -f out.bin
vg decrypt-new 0 "$cli" decrypt --kek "$NEW" -o out.bin msg.env
cmp in.bin out.bin || { echo "FAIL: decrypt after rewrap gave other bytes" >&2; fails=$((fails + 1)); }
# a failing path: the last byte changed (authentication fails, exit 2)
cp msg.env bad.env
printf '\x00' | dd of=bad.env bs=1 seek=$(($(stat -c %s bad.env) - 1)) conv=notrunc 2>/dev/null
vg decrypt-tampered 2 "$cli" decrypt --kek "$NEW" -o bad.out bad.env
[ ! -e bad.out ] || { echo "FAIL: a tampered decrypt left output" >&2; fails=$((fails + 1)); }
[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "valgrind: all runs clean"
