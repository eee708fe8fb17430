#!/usr/bin/env bash
# lib.file.install-prefix: `cmake --install BUILD --prefix P` into a scratch
# prefix writes exactly the files of its manifest, all under P, and none
# into the system's OpenSSL, p11-kit or /usr/local folders; then P is moved
# elsewhere (nothing may depend on where it was installed) and, from the
# moved tree only:
#   * a C program built with `pkg-config --cflags --libs envelope` and
#   * one built by a CMake project with find_package(envelope)
#     seal and open a record with a file: RSA KEK, and each links P's libenvelope;
#   * P's envelope CLI (RUNPATH $ORIGIN/../lib/<multiarch>) decrypts what the
#     programs wrote and round-trips a file of its own;
#   * P's envelope.so loads into openssl from its installed path, named by
#     the installed conf/ example.
#   lib_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# uses_lib BINARY DIR: BINARY's libenvelope.so.1 resolves to the one in DIR
uses_lib() {
  local got
  got=$(ldd "$1" | sed -n 's/^[[:space:]]*libenvelope\.so\.1 => \([^ ]*\) .*/\1/p')
  if [ -z "$got" ] || [ "$(realpath "$got")" != "$(realpath "$2/libenvelope.so.1")" ]; then
    ldd "$1"
    fail "$1 does not use the libenvelope in $2"
  fi
}
for tool in cmake pkg-config cc openssl ldd; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh)"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
multiarch=$(cc -print-multiarch)
[ -n "$multiarch" ] || fail "cc -print-multiarch says nothing"
libdir=lib/$multiarch

# --- install, and compare what was written with the manifest
unset DESTDIR
p1=$tmp/first/prefix
touch stamp
sleep 1 # file times have a granularity: what the install writes is newer
cmake --install "$build" --prefix "$p1" >install.log 2>&1 || { cat install.log; fail "cmake --install"; }
manifest=$build/install_manifest.txt
[ -s "$manifest" ] || fail "no install manifest at $manifest"
sort "$manifest" >manifest.txt
if grep -v "^$p1/" manifest.txt; then fail "the manifest lists files outside $p1 (above)"; fi
find "$p1" -type f -o -type l | sort >found.txt
diff manifest.txt found.txt >diff.txt || { cat diff.txt; fail "files under $p1 differ from the manifest"; }
echo "installed $(wc -l <found.txt) files, all under the prefix and all in the manifest"
# nothing new where a system install would write
modulesdir=$(pkg-config --variable=modulesdir libcrypto)
p11dir=$(pkg-config --variable=p11_module_path p11-kit-1)
p11conf=$(pkg-config --variable=p11_module_configs p11-kit-1)
for d in "$modulesdir" "$p11dir" "$p11conf" /usr/local/bin /usr/local/include /usr/local/lib \
  /usr/local/share/doc /usr/local/share/man; do
  [ -d "$d" ] || continue
  new=$(find "$d" -newer stamp \( -name '*envelope*' -o -name '_envelope' \) -print)
  [ -z "$new" ] || fail "the install wrote outside the prefix: $new"
done

# the expected pieces, each where its consumer looks below the prefix
for f in bin/envelope "$libdir/libenvelope.so.1" "$libdir/ossl-modules/envelope.so" \
  "$libdir/pkcs11/envelope-kms-pkcs11.so" "$libdir/pkgconfig/envelope.pc" \
  "$libdir/cmake/envelope/envelopeConfig.cmake" include/envelope/envelope.h \
  share/man/man1/envelope.1 share/bash-completion/completions/envelope \
  share/zsh/site-functions/_envelope share/p11-kit/modules/envelope-kms.module \
  share/doc/envelope/README.md share/doc/envelope/examples/openssl-softhsm2.cnf; do
  [ -e "$p1/$f" ] || fail "not installed: $f"
done
# the p11-kit module file names the installed module and is disabled
grep -qx "module: $p1/$libdir/pkcs11/envelope-kms-pkcs11.so" "$p1/share/p11-kit/modules/envelope-kms.module" ||
  fail "envelope-kms.module does not name the installed module: $(grep ^module "$p1/share/p11-kit/modules/envelope-kms.module")"
grep -qx 'enable-in:' "$p1/share/p11-kit/modules/envelope-kms.module" || fail "envelope-kms.module is not disabled"
# the conf/ examples name the installed provider and bridge
grep -qx "module = $p1/$libdir/ossl-modules/envelope.so" "$p1/share/doc/envelope/examples/openssl-softhsm2.cnf" ||
  fail "the installed openssl-softhsm2.cnf does not name the installed envelope.so"
grep -q "$p1/$libdir/pkcs11/envelope-kms-pkcs11.so" "$p1/share/doc/envelope/examples/openssl-hsm-and-kms.cnf" ||
  fail "the installed openssl-hsm-and-kms.cnf does not name the installed bridge"
# the provider loads from where it is installed, through the installed example
sed -e '/^pkcs11-/d' "$p1/share/doc/envelope/examples/openssl-softhsm2.cnf" >example.cnf
OPENSSL_CONF=$PWD/example.cnf openssl list -providers >providers.txt 2>&1 || { cat providers.txt; fail "openssl with the installed example"; }
grep -q '^  envelope$' providers.txt || { cat providers.txt; fail "the installed envelope.so does not load"; }

# --- a plain install (no --prefix) of a build for /usr/local (CMake's default)
# puts the provider into libcrypto's modulesdir and all else under that
# prefix (docs/INSTALL.md); seen through DESTDIR, so nothing outside $tmp
configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")
DESTDIR=$tmp/destdir cmake --install "$build" >destdir.log 2>&1 || { cat destdir.log; fail "DESTDIR install"; }
if [ "$configured" = /usr/local ]; then
  want=$modulesdir/envelope.so
else
  want=$configured/$libdir/ossl-modules/envelope.so
fi
[ -f "$tmp/destdir$want" ] || fail "a plain install of a build for $configured puts no envelope.so at $want"
if find "$tmp/destdir" -name envelope.so | grep -v "^$tmp/destdir$want\$"; then
  fail "a second envelope.so (above)"
fi
others=$(find "$tmp/destdir" \( -type f -o -type l \) ! -name envelope.so | { grep -v "^$tmp/destdir$configured/" || true; })
[ -z "$others" ] || fail "a plain install wrote outside $configured: $others"
rm -rf "$tmp/destdir"
unset DESTDIR

# --- move the prefix: what follows uses only the moved tree
p=$tmp/moved/elsewhere
mkdir -p "$(dirname "$p")"
mv "$p1" "$p"
rm -rf "$tmp/first"
for f in "$p/bin/envelope" "$p/$libdir/libenvelope.so.1"; do
  if readelf -d "$f" | grep -q "$build"; then fail "$f names the build tree"; fi
done
readelf -d "$p/bin/envelope" | grep -q "RUNPATH.*\\\$ORIGIN/../$libdir" ||
  fail "the CLI has no RUNPATH \$ORIGIN/../$libdir: $(readelf -d "$p/bin/envelope" | grep -i path)"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out kek.pem 2>/dev/null
kek=file:$PWD/kek.pem
export OPENSSL_CONF=/dev/null # the file: KEK needs no provider of ours

# pkg-config, with nothing but the moved prefix's .pc
export PKG_CONFIG_PATH=$p/$libdir/pkgconfig
[ "$(pkg-config --modversion envelope)" = "$(sed -n 's/^Version: //p' "$p/$libdir/pkgconfig/envelope.pc")" ] ||
  fail "pkg-config does not find envelope.pc"
read -ra pc_flags <<<"$(pkg-config --cflags --libs envelope)"
pc_libdir=$(pkg-config --variable=libdir envelope)
[ "$(cd "$pc_libdir" && pwd -P)" = "$(cd "$p/$libdir" && pwd -P)" ] ||
  fail "envelope.pc's libdir $pc_libdir is not the moved prefix's $p/$libdir"
cc -std=c11 -Wall -Werror -o app-pc "$src/tests/integration/install/app.c" "${pc_flags[@]}" \
  -Wl,-rpath,"$pc_libdir" || fail "building with pkg-config --cflags --libs envelope"
uses_lib app-pc "$p/$libdir"
[ "$(./app-pc "$kek" pc.env)" = ok ] || fail "app-pc"
unset PKG_CONFIG_PATH

# CMake: find_package(envelope) with the moved prefix on CMAKE_PREFIX_PATH
cmake -S "$src/tests/integration/install" -B consumer -DCMAKE_PREFIX_PATH="$p" \
  -DCMAKE_C_COMPILER=cc >consumer.log 2>&1 || { cat consumer.log; fail "configuring the find_package(envelope) project"; }
grep -q "envelope_DIR:PATH=$p/$libdir/cmake/envelope" consumer/CMakeCache.txt ||
  fail "find_package found $(grep envelope_DIR consumer/CMakeCache.txt), not the moved prefix"
cmake --build consumer >>consumer.log 2>&1 || { cat consumer.log; fail "building the find_package(envelope) project"; }
uses_lib consumer/app "$p/$libdir"
[ "$(consumer/app "$kek" cmake.env)" = ok ] || fail "the CMake-built app"

# the installed CLI, run from the moved prefix with no library path set
unset LD_LIBRARY_PATH
uses_lib "$p/bin/envelope" "$p/$libdir"
"$p/bin/envelope" --help >/dev/null || fail "envelope --help"
for m in pc.env cmake.env; do
  "$p/bin/envelope" decrypt --quiet --kek "$kek" --context tenant=install -o "$m.out" "$m" ||
    fail "the installed CLI cannot decrypt what $m's program sealed"
  [ "$(cat "$m.out")" = "installed libenvelope round trip" ] || fail "$m decrypts to other bytes"
done
head -c 200000 /dev/urandom >data.bin
"$p/bin/envelope" encrypt --quiet --kek "$kek" -o data.env data.bin
"$p/bin/envelope" decrypt --quiet --kek "$kek" -o data.out data.env
cmp data.bin data.out || fail "the installed CLI's round trip"
echo "lib.file.install-prefix: ok (prefix moved to $p)"
