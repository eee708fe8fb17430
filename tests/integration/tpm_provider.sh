#!/usr/bin/env bash
# tpm_provider.sh CASE TPM_IT TPM_PROV_EVP PROVIDER_DIR - TPM KEKs through
# the envelope provider, driven by the real openssl binary and by a C
# program using public OpenSSL APIs, on a fresh swtpm per case.
set -euo pipefail
case_name=$1 it=$2 evp=$3 provdir=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=swtpm.sh
. "$here/swtpm.sh"
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/envtpm-prov.XXXXXX")
ENV_CLEANUP="rm -rf '$work'"
swtpm_start "$work/tpm"
cd "$work"
fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
# Tools that are not part of the test subject run without the sanitizer
# runtime that sanitized builds preload into openssl (tpm2-tools hang with it).
plain() { env -u LD_PRELOAD "$@"; }
# tpm2-tools that use libcrypto must not load our (maybe sanitized) provider
tools() { env -u LD_PRELOAD -u OPENSSL_CONF -u OPENSSL_MODULES "$@"; }

# default first (docs/PROVIDER.md, "Provider order"), then envelope with the TPM settings
export OPENSSL_CONF=$work/openssl.cnf
envelope_write_conf "$provdir" "tpm2-tcti = $ENVELOPE_TPM2_TCTI"
# the configuration names the TPM, not the environment
unset ENVELOPE_TPM2_TCTI

RSA=tpm2:handle=0x81000102
EC=tpm2:handle=0x81000101
mk() { ENVELOPE_TPM2_TCTI=$TPM2TOOLS_TCTI "$it" create "$@"; }

case $case_name in
cms)
  mk rsa "$RSA"
  openssl pkey -in "$RSA" -pubout -out kek.pub
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=test-ca 2>/dev/null
  openssl req -new -key ca.key -subj /CN=tpm-kek -out kek.csr
  openssl x509 -req -in kek.csr -CA ca.crt -CAkey ca.key -CAcreateserial -force_pubkey kek.pub \
    -out kek.crt 2>/dev/null
  head -c 100000 /dev/urandom >msg.bin
  # pkeyutl first: CMS hides the cause of a key-transport failure
  head -c 32 /dev/urandom >dek.bin
  openssl pkeyutl -encrypt -pubin -inkey kek.pub -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -in dek.bin -out dek.enc
  openssl pkeyutl -decrypt -inkey "$RSA" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -in dek.enc -out dek.out
  cmp dek.bin dek.out || fail "pkeyutl OAEP-SHA256 round trip"
  # SHA-1 OAEP is not what the key allows: refused, not done on the host
  openssl pkeyutl -encrypt -pubin -inkey kek.pub -pkeyopt rsa_padding_mode:oaep \
    -in dek.bin -out dek1.enc
  if openssl pkeyutl -decrypt -inkey "$RSA" -pkeyopt rsa_padding_mode:oaep -in dek1.enc \
    -out x 2>err.log; then fail "OAEP-SHA1 decrypt should be refused"; fi
  openssl cms -encrypt -aes-256-gcm -recip kek.crt -keyopt rsa_padding_mode:oaep \
    -keyopt rsa_oaep_md:sha256 -binary -in msg.bin -outform DER -out msg.cms
  openssl cms -decrypt -inkey "$RSA" -recip kek.crt -binary -inform DER -in msg.cms -out msg.out
  cmp msg.bin msg.out || fail "CMS round trip changed the bytes"
  # a message for another key does not decrypt with ours
  openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -subj /CN=o 2>/dev/null
  openssl cms -encrypt -aes-256-gcm -recip other.crt -keyopt rsa_padding_mode:oaep \
    -keyopt rsa_oaep_md:sha256 -binary -in msg.bin -outform DER -out other.cms
  if openssl cms -decrypt -inkey "$RSA" -binary -inform DER -in other.cms -out x 2>/dev/null; then
    fail "decrypted a message for another key"
  fi
  # PKCS#1 v1.5 is never done with a TPM key, not even one whose null scheme
  # (tpm2_create -G rsa) would let the TPM do it: no padding oracle
  tools tpm2_create -C 0x81000001 -G rsa2048 \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|decrypt' \
    -u null.pub -r null.priv >/dev/null
  tools tpm2_load -C 0x81000001 -u null.pub -r null.priv -c null.ctx >/dev/null
  tools tpm2_evictcontrol -C o -c null.ctx 0x81000103 >/dev/null
  tools tpm2_flushcontext -t && tools tpm2_flushcontext -l
  openssl pkey -in tpm2:handle=0x81000103 -pubout -out null.pem
  openssl pkeyutl -encrypt -pubin -inkey null.pem -pkeyopt rsa_padding_mode:pkcs1 -in dek.bin \
    -out dek15.enc
  if openssl pkeyutl -decrypt -inkey tpm2:handle=0x81000103 -pkeyopt rsa_padding_mode:pkcs1 \
    -in dek15.enc -out x 2>err15.log; then fail "PKCS#1 v1.5 decrypt with a TPM key"; fi
  grep -q "mechanism not supported" err15.log || { cat err15.log >&2; fail "v1.5: wrong error"; }
  # OAEP-SHA256 with that key works
  openssl pkeyutl -encrypt -pubin -inkey null.pem -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -in dek.bin -out dekn.enc
  openssl pkeyutl -decrypt -inkey tpm2:handle=0x81000103 -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -in dekn.enc -out dekn.out
  cmp dek.bin dekn.out || fail "OAEP with a null-scheme key"
  ;;
pkeyutl-ec)
  mk ec "$EC"
  head -c 32 /dev/urandom >dek.bin
  openssl pkeyutl -encrypt -inkey "$EC" -in dek.bin -out dek.blob
  openssl pkeyutl -decrypt -inkey "$EC" -in dek.blob -out dek.out
  cmp dek.bin dek.out || fail "EC wrap round trip"
  printf '\x01' | plain dd of=dek.blob bs=1 seek=40 conv=notrunc 2>/dev/null
  if openssl pkeyutl -decrypt -inkey "$EC" -in dek.blob -out x 2>/dev/null; then
    fail "a tampered EC blob decrypted"
  fi
  ;;
evp)
  mk ec "$EC"
  mk rsa "$RSA"
  mk ec "tpm2:file=$work/ec.pem"
  "$evp" kem "$EC"
  "$evp" kem "$RSA"
  "$evp" kem "tpm2:file=$work/ec.pem"
  "$evp" wrap "$EC"
  "$evp" wrap "$RSA"
  "$evp" pub "$EC" >ec.pub
  grep -q 'BEGIN PUBLIC KEY' ec.pub || fail "no public key"
  # -pubin: a TPM key has no public object, so the store hands its public
  # half when public keys are asked for
  openssl pkey -pubin -in "$EC" -pubout >ec.pubin || fail "openssl pkey -pubin of a TPM key"
  cmp ec.pub ec.pubin || fail "-pubin gives another public key"
  openssl pkey -pubin -in ec.pub -noout -text | grep -q 'prime256v1\|P-256' || fail "not P-256"
  "$evp" gen tpm2:handle=0x81000111
  # unknown URI attribute: a clear error from OSSL_STORE_open
  if "$evp" kem "tpm2:handle=0x81000101;bogus=1" 2>err.log; then fail "bad URI accepted"; fi
  grep -q 'unknown attribute' err.log || { cat err.log; fail "bad URI error unclear"; }
  ;;
pcr)
  mk ec "tpm2:handle=0x81000201" sha256:0,7
  P="tpm2:handle=0x81000201;pcrs=sha256:0,7"
  "$evp" kem "$P"
  plain tpm2_pcrextend 7:sha256=0000000000000000000000000000000000000000000000000000000000000001
  "$evp" refused "$P" 19
  ;;
engine)
  # libp11's pkcs11 engine in openssl.cnf: the openssl application registers
  # it for everything it implements (EC and RSA pkey methods among them),
  # which broke the session salt tss2-esys computed (tpm/tpm_salt.c)
  mk ec "$EC"
  mk rsa "$RSA"
  mk ec "tpm2:handle=0x81000201" sha256:0,7
  P="tpm2:handle=0x81000201;pcrs=sha256:0,7"
  for u in "$EC" "$RSA" "$P"; do openssl pkey -in "$u" -pubout; done >plain.pem
  enginesdir=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
  [ -f "$enginesdir/pkcs11.so" ] || fail "no $enginesdir/pkcs11.so (libengine-pkcs11-openssl)"
  sed -i 's/^providers = provider_sect$/&\nengines = engine_section/' "$OPENSSL_CONF"
  printf '%s\n' "" "[engine_section]" "pkcs11 = pkcs11_section" "" "[pkcs11_section]" \
    "engine_id = pkcs11" "dynamic_path = $enginesdir/pkcs11.so" \
    "MODULE_PATH = ${ENV_P11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}" "init = 0" >>"$OPENSSL_CONF"
  grep -q '^engines = engine_section' "$OPENSSL_CONF" || fail "engine not configured"
  for u in "$EC" "$RSA" "$P"; do
    openssl pkey -in "$u" -pubout 2>err.log || { cat err.log >&2; fail "openssl pkey $u next to the engine"; }
  done >engine.pem
  cmp plain.pem engine.pem || fail "another public key next to the engine"
  openssl engine -t pkcs11 | grep -q 'available' || fail "the pkcs11 engine does not load"
  "$evp" pub "$EC" >evp.pem
  head -n "$(grep -c . evp.pem)" engine.pem | cmp - evp.pem || fail "EVP public key differs"
  # KEM and AEAD wrap through EVP, in a program that registers every
  # engine as the openssl app does, and openssl pkeyutl itself
  for u in "$EC" "$RSA"; do
    ENV_REGISTER_ENGINES=1 "$evp" kem "$u" || fail "KEM with $u next to the engine"
    ENV_REGISTER_ENGINES=1 "$evp" wrap "$u" || fail "AEAD wrap with $u next to the engine"
  done
  head -c 32 /dev/urandom >dek.bin
  openssl pkeyutl -encrypt -inkey "$EC" -pkeyopt aad:t=1 -in dek.bin -out w.bin \
    || fail "pkeyutl wrap with the EC key next to the engine"
  openssl pkeyutl -decrypt -inkey "$EC" -pkeyopt aad:t=1 -in w.bin -out u.bin \
    || fail "pkeyutl unwrap with the EC key next to the engine"
  cmp dek.bin u.bin || fail "EC wrap round trip next to the engine"
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "ok [$case_name]"
