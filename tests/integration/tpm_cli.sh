#!/usr/bin/env bash
# tpm_cli.sh ENVELOPE TPM_IT PROVIDER_DIR - the envelope CLI with TPM KEKs:
# encrypt/decrypt round trips with an EC and an RSA TPM KEK, and a message
# whose DEK is wrapped both by a TPM KEK and by a SoftHSM2 KEK (either one
# alone must decrypt it: the TPM is stopped and the token still works).
set -euo pipefail
cli=$1 it=$2 provdir=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=swtpm.sh
. "$here/swtpm.sh"
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/envtpm-cli.XXXXXX")
ENV_CLEANUP="rm -rf '$work'"
swtpm_start "$work/tpm"
cd "$work"
fail() { echo "FAIL [tpm-cli]: $*" >&2; exit 1; }

# The two keys a message may name (keyless decrypt below); 0x81000103-5 are
# used only with --kek.
ENV_EXTRA_PROVIDER_CONF="tpm2-tcti = $ENVELOPE_TPM2_TCTI
tpm2-handles = 0x81000101, 0x81000102" softhsm_setup "$work/hsm" "$provdir"
softhsm_keygen_aes kek-aes 01
P11="pkcs11:token=$ENV_TOKEN;object=kek-aes;type=secret-key"
"$it" create ec tpm2:handle=0x81000101
"$it" create rsa tpm2:handle=0x81000102
unset ENVELOPE_TPM2_TCTI # the provider reads tpm2-tcti from openssl.cnf

head -c 200000 /dev/urandom >in.bin
for kek in tpm2:handle=0x81000101 tpm2:handle=0x81000102; do
  "$cli" encrypt --kek "$kek" --context app=test -o msg.env in.bin
  "$cli" decrypt -o out.bin msg.env
  cmp in.bin out.bin || fail "round trip with $kek"
  rm -f out.bin msg.env
done

# KEKs created by the CLI itself, with and without a PCR policy; create
# prints the URI to use them with (a PCR key only works with its pcrs=)
u3=$("$cli" kek create --type ec-p256 tpm2:handle=0x81000103)
[ "$u3" = "tpm2:handle=0x81000103" ] || fail "create printed '$u3', not the URI"
u4=$("$cli" kek create --quiet --type rsa-2048 tpm2:handle=0x81000104 2>quiet.err)
{ [ -z "$u4" ] && [ ! -s quiet.err ]; } || fail "--quiet create printed something"
u5=$("$cli" kek create --type ec-p256 --pcrs sha256:16 tpm2:handle=0x81000105 2>made.err)
[ "$u5" = "tpm2:handle=0x81000105;pcrs=sha256:16" ] || fail "create --pcrs printed '$u5'"
grep -q "use it as tpm2:handle=0x81000105;pcrs=sha256:16" made.err || { cat made.err; fail "create message"; }
"$cli" kek list tpm2:handle=0x81000104 | grep -q '^RSA  *2048' || fail "kek list of the CLI-made RSA KEK"
for kek in "$u3" tpm2:handle=0x81000104 "$u5"; do
  "$cli" encrypt --kek "$kek" -o made.env in.bin
  { "$cli" decrypt --kek "$kek" -o out.bin made.env && cmp in.bin out.bin; } || fail "CLI-made $kek"
  rm -f out.bin made.env
done
# a message naming a handle that tpm2-handles does not list is not opened
# from the message (no TPM command for it); named with --kek it works
"$cli" encrypt --kek tpm2:handle=0x81000103 -o unlisted.env in.bin
rc=0; "$cli" decrypt -o out.bin unlisted.env 2>err.log || rc=$?
[ "$rc" -eq 4 ] || { cat err.log; fail "keyless decrypt of an unlisted handle: exit $rc, wanted 4"; }
grep -q "tpm2-handles" err.log || { cat err.log; fail "the refusal does not name tpm2-handles"; }
[ ! -e out.bin ] || fail "output left after a refused reference"
{ "$cli" decrypt --kek tpm2:handle=0x81000103 -o out.bin unlisted.env && cmp in.bin out.bin; } \
  || fail "unlisted handle named with --kek"
rm -f out.bin unlisted.env
# `kek list tpm2:`: the persistent keys, from their public areas only -
# ours, and tpm2-tools' (one DA-protected with a password while a wrong
# tpm2-pin-source is configured: listing must not offer it, the lockout
# counter must not move; one signing key, unusable)
tools() { env -u LD_PRELOAD -u OPENSSL_CONF -u OPENSSL_MODULES "$@"; }
tools tpm2_create -Q -C 0x81000001 -G rsa2048 -p secret \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt' -u t1.pub -r t1.priv
tools tpm2_load -Q -C 0x81000001 -u t1.pub -r t1.priv -c t1.ctx
tools tpm2_evictcontrol -Q -C o -c t1.ctx 0x81000110
tools tpm2_flushcontext -t
tools tpm2_create -Q -C 0x81000001 -G ecc256 \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|sign' -u t2.pub -r t2.priv
tools tpm2_load -Q -C 0x81000001 -u t2.pub -r t2.priv -c t2.ctx
tools tpm2_evictcontrol -Q -C o -c t2.ctx 0x81000111
tools tpm2_flushcontext -t && tools tpm2_flushcontext -l
(umask 077; printf 'wrong' >wrong.pin)
(export OPENSSL_CONF=$work/list.cnf; envelope_write_conf "$provdir" "tpm2-tcti = $TPM2TOOLS_TCTI" \
  "tpm2-pin-source = file:$work/wrong.pin" "tpm2-handles = 0x81000110")
lockouts() { tools tpm2_getcap properties-variable | awk '/TPM2_PT_LOCKOUT_COUNTER/ {print $2}'; }
before=$(lockouts)
"$cli" kek list --config "$work/list.cnf" tpm2: >list.txt 2>list.err || { cat list.err; fail "kek list tpm2:"; }
[ "$(lockouts)" = "$before" ] || fail "listing moved the DA lockout counter"
line() { grep "^tpm2:handle=$1[ ;]" list.txt || { cat list.txt; fail "no line for $1"; }; }
has() { line "$1" | grep -q -- "$2" || { cat list.txt; fail "$1: no '$2'"; }; }
! grep -q 0x81000001 list.txt || fail "the SRK is listed"
has 0x81000101 "^tpm2:handle=0x81000101 .*EC P-256, no policy, userWithAuth, noDA, envelope template$"
has 0x81000102 "RSA-2048, no policy, userWithAuth, noDA, envelope template$"
has 0x81000105 "^tpm2:handle=0x81000105;pcrs=BANK:LIST .*EC P-256, policy only"
has 0x81000105 "no userWithAuth, noDA, envelope template$"
has 0x81000110 "RSA-2048, no policy, userWithAuth, DA-protected, not envelope's template$"
has 0x81000111 "UNUSABLE EC P-256.*(restricted or signing key)$"
[ "$(grep -c '^tpm2:handle=' list.txt)" = 7 ] || { cat list.txt; fail "expected 7 keys"; }
if "$cli" kek list tpm2-list:x 2>err.log; then fail "tpm2-list: with attributes accepted"; fi

"$cli" encrypt --kek "tpm2:handle=0x81000105;pcrs=sha256:16" -o pcr.env in.bin
# tpm2-tools hang with the sanitizer runtime that sanitized builds preload
env -u LD_PRELOAD -u OPENSSL_CONF -u OPENSSL_MODULES tpm2_pcrextend 16:sha256=0000000000000000000000000000000000000000000000000000000000000001
if "$cli" decrypt --kek "tpm2:handle=0x81000105;pcrs=sha256:16" -o out.bin pcr.env 2>err.log; then
  fail "decrypted after the PCR changed"
fi
grep -qi "PCR policy not satisfied" err.log || { cat err.log; fail "PCR refusal not named"; }
[ ! -e out.bin ] || fail "output left after a PCR refusal"
if "$cli" kek create --type ec-p256 --pcrs sha256:0 "$P11" 2>err.log; then fail "--pcrs accepted for pkcs11:"; fi
if "$cli" kek create --type ec-p384 tpm2:handle=0x81000106 2>err.log; then fail "unknown type accepted"; fi
grep -q "ec-p256 or rsa-2048" err.log || { cat err.log; fail "unknown-type message"; }

# one message, two KEKs: TPM EC and SoftHSM2 AES
"$cli" encrypt --kek tpm2:handle=0x81000101 --kek "$P11" --context app=mixed -o mixed.env in.bin
"$cli" inspect mixed.env >inspect.txt
grep -q 'tpm2:handle=0x81000101' inspect.txt || { cat inspect.txt; fail "TPM EDK not listed"; }
{ "$cli" decrypt -o out.bin mixed.env && cmp in.bin out.bin; } || fail "mixed decrypt"
rm -f out.bin
{ "$cli" decrypt --kek tpm2:handle=0x81000101 -o out.bin mixed.env && cmp in.bin out.bin; } \
  || fail "mixed decrypt with the TPM KEK only"
rm -f out.bin
# A file named like a URI of one of the provider's other schemes is never the
# KEK: "tpm2-list:" is the provider's STORE, so OpenSSL's file loader, which
# would take the name as a relative path, is not asked.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "tpm2-list:" 2>/dev/null
rc=0
"$cli" encrypt --kek "tpm2-list:" -o ghost.env in.bin >/dev/null 2>ghost.err || rc=$?
[ "$rc" -ne 0 ] || fail "a file named like a tpm2-list: URI was used as the KEK"
[ ! -e ghost.env ] || fail "output written with a file-borne KEK"
rm -f "tpm2-list:"
# TPM gone: the token's EDK still opens the message; the TPM-only one does not
swtpm_stop "$work/tpm"
{ "$cli" decrypt --kek "$P11" -o out.bin mixed.env && cmp in.bin out.bin; } || fail "token-only decrypt"
rm -f out.bin
if "$cli" decrypt --kek tpm2:handle=0x81000101 -o out.bin mixed.env 2>err.log; then
  fail "decrypted with a dead TPM"
fi
[ ! -e out.bin ] || fail "partial output left behind"
echo "ok [tpm-cli]"
