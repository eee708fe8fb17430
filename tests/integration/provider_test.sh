#!/usr/bin/env bash
# provider_test.sh CASE - one integration case of the envelope provider on a
# fresh SoftHSM2 token in its own temporary folder, driving the real openssl,
# pkcs11-tool and the provider_evp C program.
#   env: ENV_PROVIDER_DIR (folder of envelope.so), ENV_EVP_BIN (provider_evp)
set -euo pipefail
case_name=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=softhsm.sh
source "$here/softhsm.sh"
work=$(mktemp -d /tmp/envelope-prov.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
expect_fail() { # expect_fail "text that must appear" cmd...
  local want=$1; shift
  if "$@" >out.log 2>err.log; then cat out.log err.log; fail "succeeded but should fail: $*"; fi
  grep -q -- "$want" err.log || { cat err.log; fail "error does not say '$want': $*"; }
}

softhsm_setup "$work" "$ENV_PROVIDER_DIR"
softhsm_keygen_aes kek-aes 01
softhsm_keygen_rsa kek-rsa 02
export ENV_AES_URI="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
export ENV_RSA_URI="pkcs11:token=$ENV_TOKEN;object=kek-rsa;type=private"
RSA_PUB="pkcs11:token=$ENV_TOKEN;object=kek-rsa;type=public"

make_cert() { # a certificate that holds the token key's public key
  openssl pkey -pubin -in "$RSA_PUB" -pubout -out kek.pub
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=test-ca 2>/dev/null
  openssl req -new -key ca.key -subj /CN=kek-rsa -out kek.csr
  openssl x509 -req -in kek.csr -CA ca.crt -CAkey ca.key -CAcreateserial -force_pubkey kek.pub \
    -out kek.crt 2>/dev/null
}

set_conf() { # rewrite openssl.cnf with extra provider settings
  ENV_EXTRA_PROVIDER_CONF="$1" softhsm_write_conf
}

case "$case_name" in
providers-list)
  openssl list -providers | tee out.txt
  grep -q '^  envelope$' out.txt || fail "envelope not listed"
  grep -A3 '^  envelope$' out.txt | grep -q 'status: active' || fail "envelope not active"
  ;;
cms-oaep|cms-default)
  make_cert
  head -c 300000 /dev/urandom >msg.bin
  printf 'line one\r\nline two\n' >>msg.bin
  opts=(); [ "$case_name" = cms-oaep ] && opts=(-keyopt rsa_padding_mode:oaep)
  openssl cms -encrypt -aes-256-gcm -recip kek.crt "${opts[@]}" -binary -in msg.bin \
    -outform DER -out msg.cms
  openssl cms -decrypt -inkey "$ENV_RSA_URI" -recip kek.crt -binary -inform DER -in msg.cms -out msg.out
  cmp msg.bin msg.out || fail "CMS round trip changed the bytes"
  # without -recip: OpenSSL tries the key on every recipient
  openssl cms -decrypt -inkey "$ENV_RSA_URI" -binary -inform DER -in msg.cms -out msg2.out
  cmp msg.bin msg2.out || fail "CMS round trip (no -recip) changed the bytes"
  ;;
cms-v15-refused)
  make_cert
  # A plaintext no random-key decryption can produce by chance.
  printf 'envelope-v15-marker-%s\n' "$(head -c 24 /dev/urandom | xxd -p)" >msg.bin
  openssl cms -encrypt -aes-256-gcm -recip kek.crt -binary -in msg.bin -outform DER -out msg.cms
  set_conf "rsa-pkcs1-v15 = no"
  # What is ours: the provider refuses the v1.5 decryption (its debug log
  # records the refusal, and no C_Decrypt reaches the token), the app
  # reports a failure, and the real plaintext never appears. What is not
  # ours: OpenSSL's cms app before 3.0.22 answers a failed key transport
  # with a random content key (its Bleichenbacher countermeasure, RFC 3218
  # §2.3.2) and writes that key's GCM decryption to -out before the tag
  # check fails; 3.0.22 writes nothing. docs/PROVIDER.md says so.
  ENVELOPE_DEBUG="file:$work/v15.log" expect_fail "Error decrypting" openssl cms -decrypt \
    -inkey "$ENV_RSA_URI" -binary -inform DER -in msg.cms -out msg.out
  grep -q "refused by policy: RSA PKCS#1 v1.5 is disabled" v15.log \
    || { cat v15.log; fail "the provider did not refuse the PKCS#1 v1.5 decryption"; }
  if grep -q "C_Decrypt" v15.log; then
    cat v15.log; fail "a decryption reached the token although v1.5 is refused"
  fi
  if [ -e msg.out ] && grep -aqF "$(cat msg.bin)" msg.out; then
    fail "the plaintext was released although decryption was refused"
  fi
  # pkeyutl shows the real reason (CMS hides it on purpose)
  openssl pkeyutl -encrypt -pubin -inkey kek.pub -in msg.bin -out ek.bin
  expect_fail "refused by policy" openssl pkeyutl -decrypt -inkey "$ENV_RSA_URI" -in ek.bin
  # OAEP still works under that policy
  openssl pkeyutl -encrypt -pubin -inkey kek.pub -pkeyopt rsa_padding_mode:oaep -in msg.bin -out ek2.bin
  openssl pkeyutl -decrypt -inkey "$ENV_RSA_URI" -pkeyopt rsa_padding_mode:oaep -in ek2.bin -out d.bin
  cmp msg.bin d.bin || fail "OAEP decrypt under v1.5 refusal"
  ;;
pkeyutl-aes)
  head -c 32 /dev/urandom >dek.bin
  openssl pkeyutl -encrypt -inkey "$ENV_AES_URI" -pkeyopt aad:tenant=a -in dek.bin -out blob.bin
  openssl pkeyutl -decrypt -inkey "$ENV_AES_URI" -pkeyopt aad:tenant=a -in blob.bin -out dek.out
  cmp dek.bin dek.out || fail "AES KEK round trip"
  expect_fail "authentication failed" openssl pkeyutl -decrypt -inkey "$ENV_AES_URI" \
    -pkeyopt aad:tenant=b -in blob.bin -out wrong.out
  [ ! -s wrong.out ] || fail "output written on a failed unwrap"
  expect_fail "authentication failed" openssl pkeyutl -decrypt -inkey "$ENV_AES_URI" -in blob.bin
  # hex AAD spelling reaches the same parameter
  openssl pkeyutl -decrypt -inkey "$ENV_AES_URI" -pkeyopt hexaad:74656e616e743d61 -in blob.bin -out dek2.out
  cmp dek.bin dek2.out || fail "hexaad"
  head -c 65 /dev/urandom >big.bin
  expect_fail "at most" openssl pkeyutl -encrypt -inkey "$ENV_AES_URI" -in big.bin
  bigaad=$(head -c 1025 /dev/zero | xxd -p | tr -d '\n')
  expect_fail "aad must be an octet string of at most 1024 bytes" openssl pkeyutl -encrypt \
    -inkey "$ENV_AES_URI" -pkeyopt "hexaad:$bigaad" -in dek.bin
  ;;
pkeyutl-rsa)
  # -pubin on the private key's URI: the store hands its public half
  openssl pkey -pubin -in "$RSA_PUB" -pubout -out pub.pem
  openssl pkey -pubin -in "$ENV_RSA_URI" -pubout -out pubin.pem || fail "pkey -pubin of a private key URI"
  cmp pub.pem pubin.pem || fail "-pubin gives another public key"
  head -c 32 /dev/urandom >dek.bin
  # pkeyutl loads the URI as a private key and encrypts with it
  openssl pkeyutl -encrypt -inkey "$ENV_RSA_URI" -pkeyopt rsa_padding_mode:oaep -in dek.bin -out ct.bin
  openssl pkeyutl -decrypt -inkey "$ENV_RSA_URI" -pkeyopt rsa_padding_mode:oaep -in ct.bin -out pt.bin
  cmp dek.bin pt.bin || fail "RSA-OAEP round trip"
  # SoftHSM2 2.6.1 has no OAEP-SHA-256: say so, never fall back to host-side padding
  openssl pkeyutl -encrypt -inkey "$ENV_RSA_URI" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -in dek.bin -out ct256.bin
  expect_fail "mechanism not supported by token" openssl pkeyutl -decrypt -inkey "$ENV_RSA_URI" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -in ct256.bin
  # AEAD wrap via the aad parameter binds the context inside the OAEP payload
  openssl pkeyutl -encrypt -inkey "$ENV_RSA_URI" -pkeyopt aad:ctx1 -in dek.bin -out blob.bin
  openssl pkeyutl -decrypt -inkey "$ENV_RSA_URI" -pkeyopt aad:ctx1 -in blob.bin -out pt2.bin
  cmp dek.bin pt2.bin || fail "RSA AEAD wrap"
  expect_fail "authentication failed" openssl pkeyutl -decrypt -inkey "$ENV_RSA_URI" -pkeyopt aad:ctx2 -in blob.bin
  ;;
interop)
  # keys made by pkcs11-tool (setup) are usable: see the other cases; ours are seen by pkcs11-tool
  envelope_run_own "$ENV_EVP_BIN" keygen-aes "pkcs11:token=$ENV_TOKEN;object=made-by-envelope"
  envelope_run_own "$ENV_EVP_BIN" keygen-rsa "pkcs11:token=$ENV_TOKEN;object=rsa-by-envelope"
  pkcs11-tool --module "$ENV_P11_MODULE" --token-label "$ENV_TOKEN" --login --pin "$ENV_PIN" \
    --list-objects >objs.txt 2>&1
  cat objs.txt
  python3 - objs.txt <<'PY'
import sys, re
text = open(sys.argv[1]).read()
blocks = re.split(r'\n(?=\S)', text)
def block(kind, label):
    for b in blocks:
        if b.startswith(kind) and f'label:      {label}' in b:
            return b
    sys.exit(f'{kind} {label} not listed by pkcs11-tool')
sec = block('Secret Key Object', 'made-by-envelope')
assert 'AES length 32' in sec, sec
u = re.search(r'Usage:\s*(.*)', sec).group(1)
assert set(x.strip() for x in u.split(',')) == {'encrypt', 'decrypt'}, u
a = re.search(r'Access:\s*(.*)', sec).group(1)
assert 'sensitive' in a and 'never extractable' in a and ('local' in a), a
priv = block('Private Key Object', 'rsa-by-envelope')
u = re.search(r'Usage:\s*(.*)', priv).group(1)
assert u.strip() == 'decrypt', u
a = re.search(r'Access:\s*(.*)', priv).group(1)
assert 'sensitive' in a and 'never extractable' in a, a
print('attributes ok')
PY
  ;;
coexist-tpm2-openssl)
  # Debian's tpm2-openssl provider loaded next to ours (docs/PROVIDER.md, "Provider order"): our
  # keys keep working, and plain fetches still reach the default provider.
  # shellcheck source=swtpm.sh
  source "$here/swtpm.sh"
  swtpm_start "$work/tpm"
  export TPM2OPENSSL_TCTI=$TPM2TOOLS_TCTI
  tpm2_module=$(find /usr/lib -name tpm2.so -path '*ossl-modules*' | head -1)
  [ -n "$tpm2_module" ] || fail "tpm2-openssl's tpm2.so not found"
  cat >"$OPENSSL_CONF" <<CONF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
tpm2 = tpm2_sect
envelope = envelope_sect
[default_sect]
activate = 1
[tpm2_sect]
module = $tpm2_module
activate = 1
[envelope_sect]
module = $ENV_PROVIDER_DIR/envelope.so
pkcs11-module = $ENV_P11_MODULE
pkcs11-pin-source = file:$ENV_PIN_FILE
pkcs11-tokens = $ENV_TOKEN
activate = 1
CONF
  openssl list -providers | tee out.txt
  { grep -q '^  tpm2$' out.txt && grep -q '^  envelope$' out.txt; } || fail "both providers must be active"
  make_cert
  head -c 10000 /dev/urandom >msg.bin
  openssl cms -encrypt -aes-256-gcm -recip kek.crt -keyopt rsa_padding_mode:oaep -binary -in msg.bin \
    -outform DER -out msg.cms
  openssl cms -decrypt -inkey "$ENV_RSA_URI" -binary -inform DER -in msg.cms -out msg.out
  cmp msg.bin msg.out || fail "CMS next to tpm2-openssl"
  envelope_run_own "$ENV_EVP_BIN" default-unchanged
  envelope_run_own "$ENV_EVP_BIN" kem-aes
  ;;
coexist-libp11-engine)
  # libp11's engine configured next to us, registered for everything (as
  # hosts that already use an HSM through it have it, and as the openssl
  # app's ENGINE_register_all_complete() does): OpenSSL 3.0 then hands any
  # context for an "RSA"/"EC" key to the engine. Our keys, their software
  # halves and key creation must keep working (core/keytype_names.h).
  engine=$(dpkg -L libengine-pkcs11-openssl | grep '/engines-3/pkcs11.so$' | head -1)
  [ -n "$engine" ] || fail "libp11's pkcs11.so engine not found"
  # The software sides (the CA's signature, CMS encryption to the
  # certificate) run before the engine is configured: with it, OpenSSL's
  # own software RSA goes through the engine's legacy code, which refuses
  # OAEP key options. That is the engine's, not ours.
  make_cert
  head -c 10000 /dev/urandom >msg.bin
  for pad in oaep pkcs1; do
    openssl cms -encrypt -aes-256-gcm -recip kek.crt -keyopt "rsa_padding_mode:$pad" -binary \
      -in msg.bin -outform DER -out "msg.$pad.cms"
  done
  cat >"$OPENSSL_CONF" <<CONF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
engines = engine_sect
[engine_sect]
pkcs11 = pkcs11_sect
[pkcs11_sect]
engine_id = pkcs11
dynamic_path = $engine
MODULE_PATH = $ENV_P11_MODULE
init = 0
[provider_sect]
default = default_sect
envelope = envelope_sect
[default_sect]
activate = 1
[envelope_sect]
module = $ENV_PROVIDER_DIR/envelope.so
pkcs11-module = $ENV_P11_MODULE
pkcs11-pin-source = file:$ENV_PIN_FILE
pkcs11-tokens = $ENV_TOKEN
activate = 1
CONF
  openssl engine -t pkcs11 >eng.txt 2>&1 || { cat eng.txt; fail "the libp11 engine does not load"; }
  openssl pkey -pubin -in "$RSA_PUB" -pubout -out kek2.pub
  cmp kek.pub kek2.pub || fail "public key read next to the libp11 engine"
  for pad in oaep pkcs1; do
    openssl cms -decrypt -inkey "$ENV_RSA_URI" -binary -inform DER -in "msg.$pad.cms" -out "msg.$pad.out"
    cmp msg.bin "msg.$pad.out" || fail "CMS ($pad) next to the libp11 engine"
  done
  head -c 32 /dev/urandom >dek.bin
  openssl pkeyutl -encrypt -inkey "$ENV_RSA_URI" -pkeyopt rsa_padding_mode:oaep -in dek.bin -out ct.bin
  openssl pkeyutl -decrypt -inkey "$ENV_RSA_URI" -pkeyopt rsa_padding_mode:oaep -in ct.bin -out pt.bin
  cmp dek.bin pt.bin || fail "RSA-OAEP next to the libp11 engine"
  openssl pkeyutl -encrypt -inkey "$ENV_AES_URI" -pkeyopt aad:t=1 -in dek.bin -out w.bin
  openssl pkeyutl -decrypt -inkey "$ENV_AES_URI" -pkeyopt aad:t=1 -in w.bin -out u.bin
  cmp dek.bin u.bin || fail "AES KEK next to the libp11 engine"
  # a C program that registers every engine, as the openssl app does; run
  # without leak checking, like the openssl binary: libp11's engine never
  # frees its method copies (the same 770 bytes with no envelope code)
  export ENV_REGISTER_ENGINES=1
  for t in seal-open kem-rsa aead-rsa kem-aes aead-aes; do "$ENV_EVP_BIN" "$t"; done
  "$ENV_EVP_BIN" keygen-rsa-named "pkcs11:token=$ENV_TOKEN;object=made-next-to-engine"
  ;;
uri-pin)
  # no pkcs11-pin-source in openssl.cnf: the PIN comes from the URI, or is missing
  sed -i '/^pkcs11-pin-source/d' "$OPENSSL_CONF"
  head -c 32 /dev/urandom >dek.bin
  expect_fail "PIN missing" openssl pkeyutl -encrypt -inkey "$ENV_AES_URI" -in dek.bin
  grep -q "needs a PIN" err.log || fail "PIN-missing message does not say what to do"
  openssl pkeyutl -encrypt -inkey "$ENV_AES_URI?pin-source=file:$ENV_PIN_FILE" -in dek.bin -out b1.bin
  openssl pkeyutl -decrypt -inkey "$ENV_AES_URI?pin-value=$ENV_PIN" -in b1.bin -out d1.bin
  cmp dek.bin d1.bin || fail "pin-source / pin-value"
  # module-path may only name a configured module
  openssl pkeyutl -decrypt -inkey "$ENV_AES_URI?pin-value=$ENV_PIN&module-path=$ENV_P11_MODULE" -in b1.bin -out d2.bin
  cmp dek.bin d2.bin || fail "module-path of the configured module"
  # a misspelt query attribute is refused, not ignored (p11-kit ignores it)
  expect_fail "query attribute envelope does not know" openssl pkeyutl -encrypt \
    -inkey "$ENV_AES_URI?pin-sorce=file:$ENV_PIN_FILE" -in dek.bin
  expect_fail "names no module in pkcs11-module" openssl pkeyutl -decrypt \
    -inkey "$ENV_AES_URI?pin-value=$ENV_PIN&module-path=/usr/lib/x86_64-linux-gnu/libc.so.6" -in b1.bin
  # and the canonical URI a key reports carries no PIN and no module path
  openssl storeutl -text "$ENV_AES_URI?pin-value=$ENV_PIN&module-path=$ENV_P11_MODULE" >list.txt 2>&1 || true
  if grep -q "pin-value\|module-path" list.txt; then cat list.txt; fail "secrets in the key description"; fi
  ;;
conf-examples)
  # the shipped examples work as written, with only paths changed
  for example in openssl-softhsm2.cnf openssl-vendor-hsm.cnf; do
    sed -e "s|^module = .*envelope.so|module = $ENV_PROVIDER_DIR/envelope.so|" \
        -e "s|^pkcs11-module = .*|pkcs11-module = $ENV_P11_MODULE|" \
        -e "s|^pkcs11-pin-source = .*|pkcs11-pin-source = file:$ENV_PIN_FILE|" \
        -e "s|^pkcs11-tokens = .*|pkcs11-tokens = $ENV_TOKEN|" \
        "$here/../../conf/$example" >"$example"
    OPENSSL_CONF=$PWD/$example openssl list -providers >out.txt 2>&1 || { cat out.txt; fail "$example"; }
    grep -q '^  envelope$' out.txt || { cat out.txt; fail "$example does not activate envelope"; }
    head -c 32 /dev/urandom >dek.bin
    OPENSSL_CONF=$PWD/$example openssl pkeyutl -encrypt -inkey "$ENV_AES_URI" -in dek.bin -out b.bin
    OPENSSL_CONF=$PWD/$example openssl pkeyutl -decrypt -inkey "$ENV_AES_URI" -in b.bin -out d.bin
    cmp dek.bin d.bin || fail "$example round trip"
  done
  ;;
order-warning)
  # envelope listed before default: it says so, and our keys still work
  cat >"$OPENSSL_CONF" <<CONF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
envelope = envelope_sect
default = default_sect
[default_sect]
activate = 1
[envelope_sect]
module = $ENV_PROVIDER_DIR/envelope.so
pkcs11-module = $ENV_P11_MODULE
pkcs11-pin-source = file:$ENV_PIN_FILE
pkcs11-tokens = $ENV_TOKEN
activate = 1
CONF
  head -c 32 /dev/urandom >dek.bin
  openssl pkeyutl -encrypt -inkey "$ENV_AES_URI" -in dek.bin -out blob.bin 2>err.log
  grep -q "activated before the default provider" err.log || { cat err.log; fail "no order warning"; }
  openssl pkeyutl -decrypt -inkey "$ENV_AES_URI" -in blob.bin -out dek.out 2>/dev/null
  cmp dek.bin dek.out || fail "round trip with envelope first"
  ;;
pkey-export-refused)
  # A token private key cannot be written out: openssl says why (exit 1),
  # and writes nothing; its public half still prints and exports.
  for args in "-text -noout" "-out priv.pem" "-outform DER -out priv.der"; do
    # shellcheck disable=SC2086  # $args splits on purpose: each item is one set of openssl options
    expect_fail "the key is held by the token; it can't be exported" openssl pkey -in "$ENV_RSA_URI" $args
    grep -q "operation not supported for this key" err.log || { cat err.log; fail "no envelope reason: $args"; }
  done
  { [ ! -s priv.pem ] && [ ! -s priv.der ]; } || fail "something was written for a private key"
  openssl pkey -in "$ENV_RSA_URI" -pubout -out pub.pem 2>err.log || { cat err.log; fail "-pubout"; }
  [ ! -s err.log ] || { cat err.log; fail "-pubout printed errors"; }
  openssl pkey -pubin -in "$RSA_PUB" -pubout -out pub2.pem
  cmp pub.pem pub2.pem || fail "-pubout of the private key URI differs from the public key's"
  openssl pkey -in "$ENV_RSA_URI" -text_pub -noout >out.txt 2>err.log || { cat err.log; fail "-text_pub"; }
  grep -q "Public-Key: (3072 bit)" out.txt || { cat out.txt; fail "-text_pub shows no public key"; }
  [ ! -s err.log ] || { cat err.log; fail "-text_pub printed errors"; }
  ;;
pkey-aes-kek)
  # An AES KEK has nothing to print or write: a clear error (exit 1), never
  # 'Public Key algorithm "<NULL>" unsupported' with exit 0.
  expect_fail "the key is held by the token; it can't be exported" openssl pkey -in "$ENV_AES_URI" -text -noout
  grep -q 'ENVELOPE-AES-KEK' err.log || { cat err.log; fail "-text does not name the key type"; }
  grep -q "object=kek-aes" err.log || { cat err.log; fail "-text does not name the key"; }
  for args in "-text_pub -noout" "-pubout" "-pubout -outform DER"; do
    # shellcheck disable=SC2086  # $args splits on purpose: each item is one set of openssl options
    expect_fail "ENVELOPE-AES-KEK (AES-256 key-encryption key held by the token): it has no public part" \
      openssl pkey -in "$ENV_AES_URI" $args
  done
  for args in "-out kek.pem" "-outform DER -out kek.der"; do
    # shellcheck disable=SC2086  # $args splits on purpose: each item is one set of openssl options
    expect_fail "the key is held by the token; it can't be exported" openssl pkey -in "$ENV_AES_URI" $args
  done
  { [ ! -s kek.pem ] && [ ! -s kek.der ]; } || fail "something was written for an AES KEK"
  if grep -q "<NULL>" out.log err.log; then fail "<NULL> algorithm printed"; fi
  ;;
pkey-eq)
  # EVP_PKEY_eq / X509_check_private_key: right answers, clean error queue
  make_cert
  softhsm_keygen_rsa other-rsa 03
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out soft.pem 2>/dev/null
  ENV_RSA_PUB_URI=$RSA_PUB ENV_OTHER_URI="pkcs11:token=$ENV_TOKEN;object=other-rsa;type=private" \
    ENV_PUB_PEM=$PWD/kek.pub ENV_SOFT_PEM=$PWD/soft.pem ENV_KEK_CERT=$PWD/kek.crt \
    ENV_OTHER_CERT=$PWD/ca.crt envelope_run_own "$ENV_PKEY_BIN"
  # the real openssl: pkcs12 -export checks the key against the certificate
  # (X509_check_private_key), then must say the key cannot be exported
  expect_fail "the key is held by the token; it can't be exported" openssl pkcs12 -export \
    -in kek.crt -inkey "$ENV_RSA_URI" -passout pass:x -out kek.p12
  if grep -q "malloc failure\|key values mismatch" err.log; then cat err.log; fail "pkcs12: spurious error"; fi
  expect_fail "key values mismatch" openssl pkcs12 -export -in ca.crt -inkey "$ENV_RSA_URI" \
    -passout pass:x -out other.p12
  if grep -q "malloc failure" err.log; then cat err.log; fail "pkcs12 mismatch: malloc failure"; fi
  # cms -sign: a KEK does not sign, and the reason is not a malloc failure
  echo data >msg.txt
  if openssl cms -sign -signer kek.crt -inkey "$ENV_RSA_URI" -in msg.txt -out msg.p7 >out.log 2>err.log; then
    fail "a KEK signed"
  fi
  if grep -q "malloc failure" err.log; then cat err.log; fail "cms -sign: malloc failure"; fi
  ;;
uri-attributes)
  # the "unknown attribute" refusal lists every attribute that is accepted,
  # and each of those is accepted (with this token's values, it matches)
  expect_fail "an attribute envelope does not know" openssl pkey -pubout -in "$ENV_RSA_URI;frobnicate=1"
  for a in token manufacturer serial model object id type slot-id slot-description slot-manufacturer \
    library-description library-manufacturer library-version pin-source pin-value module-path module-name; do
    grep -q -- "[ (]${a}[,;)]" err.log || { cat err.log; fail "refusal does not list $a"; }
  done
  pkcs11-tool --module "$ENV_P11_MODULE" -L >slots.txt 2>&1
  slot_hex=$(awk -v t="$ENV_TOKEN" '/^Slot [0-9]+ \(0x/ { s = $3 } /token label/ && $NF == t { print s; exit }' slots.txt | tr -d '()')
  serial=$(awk -v t="$ENV_TOKEN" '/token label/ { on = ($NF == t) } on && /serial num/ { print $NF; exit }' slots.txt)
  { [ -n "$slot_hex" ] && [ -n "$serial" ]; } || { cat slots.txt; fail "cannot read the slot list"; }
  for attr in "slot-id=$((slot_hex))" "slot-description=SoftHSM%20slot%20ID%20$slot_hex" \
    "slot-manufacturer=SoftHSM%20project" "library-description=Implementation%20of%20PKCS11" \
    "library-manufacturer=SoftHSM" "library-version=2.6" "manufacturer=SoftHSM%20project" \
    "model=SoftHSM%20v2" "serial=$serial" "id=%02"; do
    openssl pkey -pubout -in "$ENV_RSA_URI;$attr" -out attr.pem 2>err.log || { cat err.log; fail "$attr refused"; }
    cmp -s attr.pem <(openssl pkey -pubin -in "$RSA_PUB" -pubout) || fail "$attr: another key"
  done
  # and they narrow the match: a library that is not there matches no module
  expect_fail "names no module" openssl pkey -pubout -in "$ENV_RSA_URI;library-manufacturer=Nobody"
  expect_fail "no token matching" openssl pkey -pubout -in "$ENV_RSA_URI;slot-id=$((slot_hex + 1))"
  ;;
evp-*)
  envelope_run_own "$ENV_EVP_BIN" "${case_name#evp-}"
  ;;
extractable)
  # pkcs11-tool's defaults (not sensitive), and --extractable --sensitive:
  # both refused by default (reason 15, key not safe), both accepted with
  # allow-extractable-kek = yes
  pkcs11-tool --module "$ENV_P11_MODULE" --token-label "$ENV_TOKEN" --login --pin "$ENV_PIN" \
    --keygen --key-type AES:32 --label weak --id 09 >/dev/null
  pkcs11-tool --module "$ENV_P11_MODULE" --token-label "$ENV_TOKEN" --login --pin "$ENV_PIN" \
    --keygen --key-type AES:32 --label weak-x --id 0a --extractable --sensitive --private >/dev/null
  for weak in weak weak-x; do
    export ENV_WEAK_URI="pkcs11:token=$ENV_TOKEN;object=$weak"
    envelope_run_own "$ENV_EVP_BIN" extractable-refused
  done
  # openssl itself: the refusal names the setting that overrides it
  if openssl pkeyutl -encrypt -inkey "pkcs11:token=$ENV_TOKEN;object=weak-x" -in /dev/null \
    >/dev/null 2>"$work/weak.err"; then
    echo "FAIL: openssl used an extractable KEK" >&2
    exit 1
  fi
  grep -q 'is extractable: its value can leave the token.*allow-extractable-kek = yes' \
    "$work/weak.err" || { cat "$work/weak.err" >&2; exit 1; }
  set_conf "allow-extractable-kek = yes"
  for weak in weak weak-x; do
    export ENV_WEAK_URI="pkcs11:token=$ENV_TOKEN;object=$weak"
    envelope_run_own "$ENV_EVP_BIN" extractable-allowed
  done
  ;;
wrong-pin)
  printf 'not-the-pin' >"$ENV_PIN_FILE"
  envelope_run_own "$ENV_EVP_BIN" wrong-pin
  # the token's own counter saw one failure, not two
  ;;
seal-open-refused)
  set_conf "rsa-pkcs1-v15 = no"
  envelope_run_own "$ENV_EVP_BIN" seal-open-refused
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "PASS [$case_name]"
