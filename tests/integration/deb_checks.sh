#!/usr/bin/env bash
# Run by scripts/deb-test.sh inside the pristine Debian root where the
# packages are installed: which package holds what, the CLI finds
# libenvelope through ldconfig (no RUNPATH), the installed conf/ examples
# name the installed files, a program builds against libenvelope-dev with
# pkg-config (/root/app.c: tests/integration/install/app.c), and the KMS
# bridge's p11-kit module file keeps it out of p11-kit's programs until an
# administrator enables it.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
modulesdir=$(openssl version -m | sed -n "s/^MODULESDIR: \"\(.*\)\"/\1/p")
[ "$modulesdir" = "/usr/lib/$ma/ossl-modules" ] || fail "modulesdir $modulesdir"
owns() { dpkg -S "$2" 2>/dev/null | grep -Eq "^$1(:[a-z0-9]+)?: " || fail "$2 is not in package $1"; }
owns envelope /usr/bin/envelope
owns envelope /usr/share/man/man1/envelope.1.gz
owns envelope /usr/share/bash-completion/completions/envelope
owns envelope /usr/share/zsh/vendor-completions/_envelope
owns envelope /usr/share/doc/envelope/examples/openssl-softhsm2.cnf
owns envelope /usr/share/doc/envelope/PROVIDER.md.gz
owns libenvelope1 "/usr/lib/$ma/libenvelope.so.1"
owns libenvelope-dev /usr/include/envelope/envelope.h
owns libenvelope-dev "/usr/lib/$ma/pkgconfig/envelope.pc"
owns libenvelope-dev "/usr/lib/$ma/cmake/envelope/envelopeConfig.cmake"
owns openssl-provider-envelope "$modulesdir/envelope.so"
owns envelope-kms-pkcs11 "/usr/lib/$ma/pkcs11/envelope-kms-pkcs11.so"
owns envelope-kms-pkcs11 /usr/share/p11-kit/modules/envelope-kms.module
if readelf -d /usr/bin/envelope 2>/dev/null | grep -qi "rpath\|runpath"; then fail "the packaged CLI has a RUNPATH"; fi
ldd /usr/bin/envelope | grep -q "libenvelope.so.1 => \(/usr\)\?/lib/$ma/libenvelope.so.1" ||
  { ldd /usr/bin/envelope; fail "the CLI does not find libenvelope through ldconfig"; }
envelope --version
grep -qx "module = $modulesdir/envelope.so" /usr/share/doc/envelope/examples/openssl-softhsm2.cnf ||
  fail "the installed example does not name the installed provider"
grep -q "/usr/lib/$ma/pkcs11/envelope-kms-pkcs11.so" /usr/share/doc/envelope/examples/openssl-hsm-and-kms.cnf ||
  fail "the installed example does not name the installed bridge"
# the bash completion is found by bash-completion loading it by name
[ -r /usr/share/bash-completion/completions/envelope ] || fail "bash completion"

# a program against libenvelope-dev, found through pkg-config
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out /root/kek.pem 2>/dev/null
read -ra pc <<<"$(pkg-config --cflags --libs envelope)"
gcc -std=c11 -Wall -Werror -o /root/app /root/app.c "${pc[@]}"
[ "$(OPENSSL_CONF=/dev/null /root/app file:/root/kek.pem /root/app.env)" = ok ] || fail "the libenvelope-dev program"
OPENSSL_CONF=/dev/null envelope decrypt --quiet --kek file:/root/kek.pem --context tenant=install -o /root/app.out /root/app.env
echo "libenvelope-dev: a pkg-config build seals and opens; the CLI decrypts it"

# p11-kit: the bridge is not loaded while its module file says enable-in:
out=$(p11-kit list-modules 2>&1 || true)
if grep -qi "envelope-kms" <<<"$out"; then echo "$out"; fail "p11-kit loads the disabled bridge"; fi
# enabled for p11-kit's own tool in /etc/pkcs11/modules (the same name: its
# settings win, the packaged file fills in the rest), p11-kit starts it;
# without a configuration the bridge says so (C_Initialize fails)
mkdir -p /etc/pkcs11/modules
sed "s/^enable-in:.*/enable-in: p11-kit/" /usr/share/p11-kit/modules/envelope-kms.module \
  >/etc/pkcs11/modules/envelope-kms.module
out=$(p11-kit list-modules 2>&1 || true)
grep -q "^envelope-kms-pkcs11: " <<<"$out" ||
  { echo "$out"; fail "p11-kit does not start the bridge once enabled"; }
rm /etc/pkcs11/modules/envelope-kms.module
echo "envelope-kms-pkcs11: disabled in p11-kit by default, started once enabled"
