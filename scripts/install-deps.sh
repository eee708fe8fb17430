#!/usr/bin/env bash
# Installs the Debian 12 packages envelope needs to build, test, demo and
# benchmark, and only those that are missing. Run as root.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # coverage of the fuzz targets (scripts/fuzz.sh --coverage: llvm-profdata, llvm-cov)
  llvm
  # libraries
  libssl-dev libp11-kit-dev libcmocka-dev libtss2-dev
  libcurl4-openssl-dev libjson-c-dev
  # real components the tests and the demo drive
  openssl softhsm2 opensc libengine-pkcs11-openssl
  swtpm swtpm-tools tpm2-tools tpm2-openssl
  python3-pykmip python3-cryptography
  # the audit trail's tests: its JSON lines read with jq, its fdatasync calls counted with
  # strace (tests/integration/provider_audit.sh)
  jq strace
  # measurements (bench/in_token_rewrap.py)
  python3-pykcs11
  python3-boto3 python3-botocore
  # benchmark peers and tools
  age valgrind
  # test helpers (bash-completion and zsh: the completion test; curl: the AWS test server's controls;
  # gdb: gcore in provider.softhsm.secrets-core, a hung child's stacks in the fork tests)
  xxd procps iproute2 time bash-completion zsh curl gdb
  # the Debian package (scripts/deb.sh, scripts/deb-test.sh)
  debhelper devscripts fakeroot lintian debootstrap
  # static checks (scripts/lint.sh)
  shellcheck clang-format clang-tidy
  # the ABI check against abi/ (lib.none.abi, scripts/abi-baseline.sh)
  abigail-tools
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
