#!/usr/bin/env bash
# The demo: installs what is missing, builds, and shows envelope end to end on
# a SoftHSM2 token it creates in ./demo-state (removed and recreated each run).
#   1. openssl.cnf loads the envelope provider next to OpenSSL's default one
#   2. envelope creates an AES-256 and an RSA-3072 KEK inside the token
#   3. `openssl cms` encrypts to the RSA KEK's certificate and decrypts with
#      the token key by URI; `openssl pkeyutl` wraps a DEK with the AES KEK
#   4. the envelope CLI encrypts a file to both KEKs and decrypts it
#
# `ENVELOPE_PREFIX=/usr bash scripts/demo.sh --installed` instead runs it on
# an installed envelope (a package, or `cmake --install --prefix P`): no
# build, no package installation, only the installed CLI and provider, and
# openssl.cnf made from the installed conf/ example
# (scripts/deb-test.sh runs it so in a pristine Debian root).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
installed=0
[ "${1:-}" = --installed ] && installed=1

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

if [ "$installed" = 1 ]; then
  prefix=${ENVELOPE_PREFIX:-/usr}
  envelope=$prefix/bin/envelope
  provs=("$prefix"/lib/*/ossl-modules/envelope.so)
  provdir=$(dirname "${provs[0]}")
  example=$prefix/share/doc/envelope/examples/openssl-softhsm2.cnf
  for f in "$envelope" "$provdir/envelope.so" "$example"; do
    [ -e "$f" ] || { echo "demo: $f is not installed (ENVELOPE_PREFIX=$prefix)" >&2; exit 1; }
  done
  step "installed envelope in $prefix: $("$envelope" --version)"
else
  bash scripts/install-deps.sh
  step "build"
  cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENVELOPE_WITH_TESTS=OFF >/dev/null
  cmake --build build/demo -j"$(nproc)" >/dev/null
  envelope=$root/build/demo/cli/envelope
  provdir=$root/build/demo/provider
fi

state=$root/demo-state
rm -rf "$state"
mkdir -p "$state"
cd "$state"

step "a SoftHSM2 token in $state"
# shellcheck source=../tests/integration/softhsm.sh
source "$root/tests/integration/softhsm.sh"
softhsm_setup "$state" "$provdir" demo
if [ "$installed" = 1 ]; then
  # the installed example as it is, but for this token and its PIN file
  sed -e "s|^pkcs11-pin-source = .*|pkcs11-pin-source = file:$ENV_PIN_FILE|" \
      -e "s|^pkcs11-tokens = .*|pkcs11-tokens = $ENV_TOKEN|" "$example" >"$OPENSSL_CONF"
  unset OPENSSL_MODULES
fi
echo "token \"$ENV_TOKEN\", user PIN in $ENV_PIN_FILE (mode 0600), OPENSSL_CONF=$OPENSSL_CONF"
show openssl list -providers

step "create the KEKs inside the token (least privilege, never extractable)"
AES="pkcs11:token=demo;object=demo-aes-kek"
RSA="pkcs11:token=demo;object=demo-rsa-kek"
show "$envelope" kek create --type aes-256 "$AES"
show "$envelope" kek create --type rsa-3072 "$RSA"
show "$envelope" kek list "pkcs11:token=demo"
show pkcs11-tool --module "$ENV_P11_MODULE" --token-label demo --login --pin "$ENV_PIN" --list-objects

step "openssl cms: AES-256-GCM content, RSA-OAEP key transport to the token key"
openssl pkey -pubin -in "$RSA;type=public" -pubout -out kek.pub
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj "/CN=demo CA" 2>/dev/null
openssl req -new -key ca.key -subj "/CN=demo-rsa-kek" -out kek.csr
openssl x509 -req -in kek.csr -CA ca.crt -CAkey ca.key -CAcreateserial -force_pubkey kek.pub \
  -days 30 -out kek.crt 2>/dev/null
echo "kek.crt holds the token key's public key: $(openssl x509 -in kek.crt -noout -subject)"
printf 'quarterly numbers, do not forward\n' >report.txt
show openssl cms -encrypt -aes-256-gcm -recip kek.crt -keyopt rsa_padding_mode:oaep -binary \
  -in report.txt -outform DER -out report.cms
show openssl cms -decrypt -inkey "$RSA;type=private" -recip kek.crt -binary -inform DER \
  -in report.cms -out report.out
cmp report.txt report.out && echo "cms round trip: identical bytes"

step "openssl pkeyutl: wrap a 32-byte DEK with the AES KEK, bound to a context"
head -c 32 /dev/urandom >dek.bin
show openssl pkeyutl -encrypt -inkey "$AES;type=secret-key" -pkeyopt aad:tenant=acme -in dek.bin -out dek.wrapped
show openssl pkeyutl -decrypt -inkey "$AES;type=secret-key" -pkeyopt aad:tenant=acme -in dek.wrapped -out dek.out
cmp dek.bin dek.out && echo "pkeyutl round trip: identical DEK"
echo "and with another context:"
if openssl pkeyutl -decrypt -inkey "$AES;type=secret-key" -pkeyopt aad:tenant=evil -in dek.wrapped 2>err.txt >/dev/null; then
  echo "unexpected: wrong context accepted" >&2; exit 1
fi
grep -o 'authentication failed[^:]*' err.txt | head -1

step "the envelope CLI: one file, two KEKs, a context"
head -c 5000000 /dev/urandom >data.bin
show "$envelope" encrypt --kek "$AES" --kek "$RSA" --context tenant=acme --context purpose=demo -o data.env data.bin
show "$envelope" inspect data.env
show "$envelope" decrypt --context tenant=acme -o data.out data.env
cmp data.bin data.out && echo "envelope round trip: identical bytes"

step "done"
echo "state is in $state; run again to start afresh"
