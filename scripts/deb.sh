#!/usr/bin/env bash
# Builds the Debian packages (debian/) into build/deb/: envelope,
# libenvelope1, libenvelope-dev, openssl-provider-envelope and
# envelope-kms-pkcs11, then runs lintian on them (every tag fails the build
# unless debian/*.lintian-overrides justifies it). Installs the build
# dependencies through apt when run as root.
#   bash scripts/deb.sh            (Debian 12)
# The tree is copied (tracked and new files, not build/ or ignored files) so
# that the build neither writes into the worktree nor packs build trees.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ! dpkg-checkbuilddeps >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    dpkg-checkbuilddeps || true
    echo "deb: build dependencies missing (above); run this script as root to install them" >&2
    exit 1
  fi
  echo "deb: installing build dependencies"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends build-essential devscripts fakeroot lintian
  apt-get build-dep -y -q ./
fi
for tool in dpkg-buildpackage lintian; do
  command -v "$tool" >/dev/null || { echo "deb: $tool missing (scripts/install-deps.sh)" >&2; exit 1; }
done

version=$(dpkg-parsechangelog -S Version)
# the package's version is the project's (CMakeLists.txt project(VERSION))
project_version=$(sed -n 's/^project(envelope VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ "${version%%-*}" = "$project_version" ] || {
  echo "deb: debian/changelog says $version, CMakeLists.txt $project_version: add a changelog entry (dch -v)" >&2
  exit 1
}
out=$root/build/deb
src=$out/envelope-$version
rm -rf "$out"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$src"

echo "deb: building $version in $src"
(cd "$src" && DEB_BUILD_OPTIONS="parallel=${ENVELOPE_DEB_JOBS:-2} ${DEB_BUILD_OPTIONS:-}" \
  dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 || {
  tail -50 "$out/build.log"
  echo "deb: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
  exit 1
}
changes=$(ls "$out"/envelope_"$version"_*.changes)
echo "deb: packages in $out:"
(cd "$out" && ls -1 ./*.deb)

echo "deb: lintian"
# --fail-on: errors, warnings, and info and pedantic tags too (all shown).
if ! lintian --info --display-info --pedantic --fail-on error,warning,info,pedantic \
  "$changes"; then
  echo "deb: lintian tags above; fix them or justify each in debian/<package>.lintian-overrides" >&2
  exit 1
fi
echo "deb: lintian clean"
