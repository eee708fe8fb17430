#!/usr/bin/env bash
# kms.aws.pkcs11-tool and provider.aws.cms-oaep: AWS KMS keys on the
# loopback AWS test server through envelope-kms-pkcs11.so:
#  - pkcs11-tool -L shows the aws-kms slot, --list-objects the symmetric key
#    (secret key) and the RSA key (private + public), by ListAliases and by
#    the slot's `keys` list; a disabled key is not shown;
#  - pkcs11-tool decrypts RSA-OAEP SHA-1 and SHA-256 in the KMS (data
#    encrypted by openssl with the public key from GetPublicKey);
#  - openssl cms -decrypt -inkey pkcs11:token=aws;object=alias%2Farchive
#    through the provider (the private key never leaves the server);
#  - HTTPS_PROXY is used (a loopback CONNECT proxy sees the tunnel) and
#    NO_PROXY honoured; an IPv6 endpoint (https://[::1]:PORT) works.
set -euo pipefail
# shellcheck source=aws/harness.sh
source "$AWS_HARNESS"
# shellcheck source=softhsm.sh
source "$(dirname "$AWS_HARNESS")/../softhsm.sh"
aws_setup
aws_server_start
aws_keys alias/payments SYMMETRIC_DEFAULT alias/archive RSA_3072 alias/old SYMMETRIC_DEFAULT >/dev/null
aws_keys disable alias/old
aws_module_conf "$AWS_DIR/kms.conf"
aws_clean_env
aws_admin_env
export ENVELOPE_KMS_CONF=$AWS_DIR/kms.conf
cd "$AWS_DIR"
p11() { OPENSSL_CONF=/dev/null pkcs11-tool --module "$KMS_MODULE" "$@"; }

run 0 "pkcs11-tool -L" p11 -L
grep -q "token model *: AWS KMS" last.out || bad "-L: no AWS KMS token: $(cat last.out)"
grep -q "token label *: aws" last.out || bad "-L: token label"
run 0 "pkcs11-tool --list-objects" p11 --list-objects
grep -A1 "^Secret Key Object; AES length 32" last.out | grep -q "label: *alias/payments" || bad "no secret key alias/payments: $(cat last.out)"
grep -A1 "^Private Key Object; RSA" last.out | grep -q "label: *alias/archive" || bad "no private key alias/archive"
grep -A1 "^Public Key Object; RSA 3072 bits" last.out | grep -q "label: *alias/archive" || bad "no public key alias/archive"
grep -q "alias/old" last.out && bad "a disabled key is listed"
[ "$(grep -c "Object;" last.out)" -eq 3 ] || bad "expected 3 objects: $(cat last.out)"

aws_module_conf "$AWS_DIR/kms-keys.conf" "keys = alias/archive"
ENVELOPE_KMS_CONF=$AWS_DIR/kms-keys.conf run 0 "objects of keys = alias/archive" p11 --list-objects
grep -q "alias/payments" last.out && bad "keys = alias/archive shows alias/payments"
[ "$(grep -c "Object;" last.out)" -eq 2 ] || bad "keys =: expected the RSA pair: $(cat last.out)"

# RSA-OAEP in the KMS, driven by pkcs11-tool.
aws_keys public-key alias/archive archive.pem
head -c 32 /dev/urandom >dek
for h in SHA-1 SHA256; do
  md=sha1
  [ "$h" = SHA256 ] && md=sha256
  mgf=MGF1-SHA1
  [ "$h" = SHA256 ] && mgf=MGF1-SHA256
  openssl pkeyutl -encrypt -pubin -inkey archive.pem -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt "rsa_oaep_md:$md" -pkeyopt "rsa_mgf1_md:$md" -in dek -out "dek.$h"
  run 0 "pkcs11-tool decrypts OAEP $h in the KMS" p11 --decrypt -m RSA-PKCS-OAEP \
    --hash-algorithm "$h" --mgf "$mgf" --label alias/archive --input-file "dek.$h" --output-file "out.$h"
  cmp -s dek "out.$h" || bad "OAEP $h: wrong plaintext"
done
run 1 "OAEP with a mismatched MGF1 hash is refused" p11 --decrypt -m RSA-PKCS-OAEP \
  --hash-algorithm SHA256 --mgf MGF1-SHA1 --label alias/archive --input-file dek.SHA256 --output-file out.bad || true

# openssl cms through the provider: a certificate for the KMS public key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=test CA" \
  -keyout ca.key -out ca.crt -days 2 2>/dev/null
openssl req -new -key ca.key -subj /CN=archive -out archive.csr
openssl x509 -req -in archive.csr -CA ca.crt -CAkey ca.key -CAcreateserial -force_pubkey archive.pem \
  -days 2 -out archive.crt 2>/dev/null || bad "cannot make a certificate for the KMS key"
echo unused >pin
aws_openssl_cnf "$AWS_DIR/openssl.cnf" "$KMS_MODULE" aws
head -c 200000 /dev/urandom >msg.bin
for md in sha1 sha256; do
  openssl cms -encrypt -aes-256-gcm -recip archive.crt -keyopt rsa_padding_mode:oaep \
    -keyopt "rsa_oaep_md:$md" -binary -in msg.bin -outform DER -out "msg.$md.cms"
  OPENSSL_CONF=$AWS_DIR/openssl.cnf run 0 "openssl cms -decrypt with the KMS RSA key (OAEP $md)" \
    openssl cms -decrypt -inkey 'pkcs11:token=aws;object=alias%2Farchive' -recip archive.crt \
    -binary -inform DER -in "msg.$md.cms" -out "msg.$md.out"
  cmp -s msg.bin "msg.$md.out" || bad "cms OAEP $md: wrong plaintext"
done
[ "$(aws_stat kms:Decrypt)" -ge 4 ] || bad "the KMS did not do the RSA decryptions"

# HTTPS_PROXY and NO_PROXY, as users already set them (read by libcurl):
# through a loopback CONNECT proxy, and around it.
env -u LD_PRELOAD -u OPENSSL_CONF /usr/bin/python3 "$(dirname "$AWS_HARNESS")/connect_proxy.py" "$AWS_DIR" &
proxy=$!
for _ in $(seq 1 100); do [ -s proxy.port ] && break; sleep 0.1; done
[ -s proxy.port ] || bad "the CONNECT proxy did not start"
HTTPS_PROXY=http://127.0.0.1:$(cat proxy.port) run 0 "through HTTPS_PROXY" p11 --list-objects
grep -q "CONNECT 127.0.0.1:$AWS_TLS_PORT" proxy.log 2>/dev/null || bad "HTTPS_PROXY was not used"
before=$(wc -l <proxy.log)
HTTPS_PROXY=http://127.0.0.1:$(cat proxy.port) NO_PROXY=127.0.0.1 run 0 "NO_PROXY=127.0.0.1" p11 --list-objects
[ "$(wc -l <proxy.log)" -eq "$before" ] || bad "NO_PROXY was not honoured"
HTTPS_PROXY=http://127.0.0.1:1 run 1 "a proxy that is down" p11 --list-objects || true
kill "$proxy" 2>/dev/null || true
{ wait "$proxy"; } 2>/dev/null || true

# IPv6: the server on [::1], the endpoint https://[::1]:PORT.
aws_server_stop
AWS_TLS_HOST=::1 aws_server_start
aws_module_conf "$AWS_DIR/kms6.conf"
grep -q 'endpoint = https://\[::1\]:' kms6.conf || bad "the IPv6 endpoint was not configured"
ENVELOPE_KMS_CONF=$AWS_DIR/kms6.conf run 0 "an IPv6 endpoint" p11 --list-objects
grep -q "label: *alias/payments" last.out || bad "IPv6: alias/payments not listed"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "aws pkcs11: all passed"
