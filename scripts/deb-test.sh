#!/usr/bin/env bash
# The Debian packages, tested as a user gets them: builds them
# (scripts/deb.sh, lintian included), installs them with apt into a pristine
# Debian 12 root (debootstrap --variant=minbase bookworm, in a temporary
# folder), and there, with no build tree and no source tree but the demo's
# two scripts:
#   * checks what each package put where (CLI, man page, completion, docs and
#     conf/ examples in /usr/share/doc/envelope, the provider in libcrypto's
#     modulesdir, the bridge and its disabled p11-kit module file);
#   * builds and runs a program against libenvelope-dev (pkg-config);
#   * shows the p11-kit module file keeps the bridge out of p11-kit's
#     programs until it is enabled in /etc/pkcs11/modules;
#   * runs the README's quick start (tests/integration/readme_quickstart.sh)
#     on the installed packages, and the demo on the installed files
#     (ENVELOPE_PREFIX=/usr scripts/demo.sh --installed).
# Run as root; needs network access to the Debian mirror
# (ENVELOPE_DEB_MIRROR, default http://deb.debian.org/debian). The base
# system is cached as a tarball in /var/cache/envelope-deb-test (delete it to
# refresh). ENVELOPE_DEB_SKIP_BUILD=1 reuses the packages in build/deb/.
# Takes about 3-6 minutes; not part of scripts/test.sh (see tests/README.md).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mirror=${ENVELOPE_DEB_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
cache=/var/cache/envelope-deb-test
tarball=$cache/$suite-minbase.tar.gz

die() {
  echo "deb-test: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and chroot need it)"
for tool in debootstrap chroot mount; do
  command -v "$tool" >/dev/null || die "$tool missing (scripts/install-deps.sh)"
done

if [ "${ENVELOPE_DEB_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/deb.sh
fi
mapfile -t debs < <(find "$root/build/deb" -maxdepth 1 -name '*.deb' ! -name '*-dbgsym_*' | sort)
[ "${#debs[@]}" -eq 5 ] || die "expected 5 packages in build/deb, found ${#debs[@]}: run scripts/deb.sh"

# reachable? (debootstrap and apt would fail with less clear messages)
host=$(sed -E 's|^[a-z]+://([^/:]+).*|\1|' <<<"$mirror")
port=80
[[ $mirror == https:* ]] && port=443
if ! timeout 20 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
  die "cannot reach $host:$port: this test needs network access to the Debian mirror $mirror (set ENVELOPE_DEB_MIRROR for another one)"
fi

work=$(mktemp -d /var/tmp/envelope-deb-test.XXXXXX)
rootfs=$work/root
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

if [ ! -s "$tarball" ]; then
  echo "deb-test: caching a $suite minbase system in $tarball (once)"
  mkdir -p "$cache"
  debootstrap --variant=minbase --make-tarball="$tarball.tmp" "$suite" "$work/tarball" "$mirror" \
    >"$work/debootstrap-tarball.log" 2>&1 ||
    { tail -20 "$work/debootstrap-tarball.log"; die "debootstrap --make-tarball failed (network? mirror $mirror)"; }
  mv "$tarball.tmp" "$tarball"
  rm -rf "$work/tarball"
fi
echo "deb-test: a pristine $suite root in $rootfs"
debootstrap --variant=minbase --unpack-tarball="$tarball" "$suite" "$rootfs" "$mirror" \
  >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; die "debootstrap failed"; }
for d in proc dev dev/pts; do
  mount --bind "/$d" "$rootfs/$d"
  mounted+=("$rootfs/$d")
done
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"

mkdir -p "$rootfs/root/debs" "$rootfs/root/demo/scripts" "$rootfs/root/demo/tests/integration"
cp "${debs[@]}" "$rootfs/root/debs/"
# the demo and the helper it sources, nothing else of the tree
cp scripts/demo.sh "$rootfs/root/demo/scripts/"
cp tests/integration/softhsm.sh "$rootfs/root/demo/tests/integration/"
cp tests/integration/install/app.c "$rootfs/root/app.c"
cp tests/integration/deb_checks.sh "$rootfs/root/deb_checks.sh"
cp tests/integration/readme_quickstart.sh "$rootfs/root/"

in_root() {
  chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"
}

echo "deb-test: apt-get install the packages (and SoftHSM2, pkcs11-tool, p11-kit, a compiler)"
in_root apt-get update -q >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; die "apt-get update in the root"; }
# shellcheck disable=SC2046 # the package files, by name
in_root apt-get install -y -q --no-install-recommends $(printf '/root/debs/%s ' "${debs[@]##*/}") \
  softhsm2 opensc openssl p11-kit gcc libc6-dev pkgconf >>"$work/apt.log" 2>&1 ||
  { tail -40 "$work/apt.log"; die "installing the packages in the root"; }

echo "deb-test: checks in the root"
in_root bash /root/deb_checks.sh

echo "deb-test: the README quick start on the installed packages"
# the README as the package ships it
in_root bash -c 'zcat /usr/share/doc/envelope/README.md.gz >/root/README.md'
in_root bash /root/readme_quickstart.sh /root/README.md >"$work/readme.log" 2>&1 ||
  { cat "$work/readme.log"; die "the README quick start failed on the installed packages"; }
tail -1 "$work/readme.log"

echo "deb-test: the demo on the installed files"
in_root bash -c 'cd /root/demo && ENVELOPE_PREFIX=/usr bash scripts/demo.sh --installed' >"$work/demo.log" 2>&1 ||
  { cat "$work/demo.log"; die "the demo failed on the installed packages"; }
tail -25 "$work/demo.log"
grep -q "envelope round trip: identical bytes" "$work/demo.log" || die "the demo did not finish"
echo "deb-test: ok (${#debs[@]} packages installed in a pristine $suite root; checks and demo passed)"
