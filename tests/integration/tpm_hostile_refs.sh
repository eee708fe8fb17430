#!/usr/bin/env bash
# tpm_hostile_refs.sh ENVELOPE TPM_IT PROVIDER_DIR
# A message cannot lock the TPM: keyless `envelope decrypt` opens only the
# handles tpm2-handles lists, so a copied EDK naming another DA-protected key
# never makes the provider offer tpm2-pin-source to it. The TPM's lockout
# counter is read after each run: it must stay 0 (swtpm with max-tries 3,
# where three failed authorisations lock every DA-protected key out).
set -euo pipefail
cli=$1 provdir=$3 # $2, TPM_IT, is not needed: the CLI creates the keys
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=swtpm.sh
. "$here/swtpm.sh"
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/envtpm-hostile.XXXXXX")
ENV_CLEANUP="rm -rf '$work'"
swtpm_start "$work/tpm"
cd "$work"
fail() { echo "FAIL [tpm-hostile]: $*" >&2; exit 1; }
# tpm2-tools hang with the sanitizer runtime that sanitized builds preload
tools() { env -u LD_PRELOAD -u OPENSSL_CONF -u OPENSSL_MODULES "$@"; }
lockout_counter() {
  tools tpm2_getcap properties-variable | awk '/TPM2_PT_LOCKOUT_COUNTER/ {print $2}'
}
edk() { /usr/bin/python3 "$here/edk_tool.py" "$@"; }

tools tpm2_dictionarylockout --setup-parameters --max-tries=3 --recovery-time=3600 \
  --lockout-recovery-time=3600
(umask 077; printf 'ours-auth' >ours.pin; printf 'their-auth' >theirs.pin)
# our KEK: listed, its auth value is tpm2-pin-source; theirs: another key on
# the same TPM with another auth value, not listed
ENV_EXTRA_PROVIDER_CONF="tpm2-tcti = $ENVELOPE_TPM2_TCTI
tpm2-pin-source = file:$work/ours.pin
tpm2-handles = 0x81000111" softhsm_setup "$work/hsm" "$provdir"
unset ENVELOPE_TPM2_TCTI # the provider reads tpm2-tcti from openssl.cnf
"$cli" kek create --type ec-p256 "tpm2:handle=0x81000111;pin-source=file:$work/ours.pin" >/dev/null
"$cli" kek create --type ec-p256 "tpm2:handle=0x81000112;pin-source=file:$work/theirs.pin" >/dev/null
[ "$(lockout_counter)" = "0x0" ] || fail "lockout counter not 0 at the start: $(lockout_counter)"

head -c 20000 /dev/urandom >pt
"$cli" encrypt --kek tpm2:handle=0x81000111 -o ours.env pt
"$cli" encrypt --kek "tpm2:handle=0x81000112;pin-source=file:$work/theirs.pin" -o theirs.env pt
edk graft ours.env theirs.env grafted.env
[ "$(edk refs grafted.env | sed -n 1p)" = "tpm2:handle=0x81000112" ] || fail "graft"

for run in 1 2 3 4; do
  ENVELOPE_DEBUG="file:$work/debug.$run" "$cli" decrypt -o "back.$run" grafted.env \
    || { tail -20 "debug.$run"; fail "grafted message, run $run, did not decrypt"; }
  cmp -s pt "back.$run" || fail "grafted message, run $run: wrong plaintext"
  c=$(lockout_counter)
  [ "$c" = "0x0" ] || fail "run $run: the TPM lockout counter is $c (a wrong auth value was tried)"
  grep -q "reference from a message was not opened" "debug.$run" || fail "run $run: no debug line"
done

# their key, named by the caller with its own auth value, still works
"$cli" decrypt --kek "tpm2:handle=0x81000112;pin-source=file:$work/theirs.pin" -o back.t theirs.env
cmp -s pt back.t || fail "their KEK named with --kek"
# named without a pin-source: refused up front (DA-protected, tpm2-pin-source
# is not bound to it), never tried with the empty or the default auth; no
# auth source for it is configuration to fix (exit 1)
rc=0; "$cli" decrypt --kek tpm2:handle=0x81000112 theirs.env 2>err.log || rc=$?
[ "$rc" -eq 1 ] || { cat err.log; fail "unlisted DA key named without auth: exit $rc, wanted 1"; }
grep -q "tpm2-handles" err.log || { cat err.log; fail "the refusal does not name tpm2-handles"; }
[ "$(lockout_counter)" = "0x0" ] || fail "the refusal cost a lockout count: $(lockout_counter)"
# a listed handle's reference with a PCR selection added (the key has no
# policy) in a tampered message: authentication failed, not "refused"
"$cli" encrypt --kek tpm2:handle=0x81000111 -o ours2.env pt
edk corrupt ours2.env 0 bad.env
edk graft bad.env ours2.env bad2.env
edk set-ref bad2.env 0 "tpm2:handle=0x81000111;pcrs=sha256:0" decorated.env
rc=0; "$cli" decrypt decorated.env 2>err.log || rc=$?
[ "$rc" -eq 2 ] || { cat err.log; fail "tampered + pcrs= on a listed handle: exit $rc, wanted 2"; }

# One message repeating an EDK cannot spend more than one authorisation: a
# listed DA-protected key whose configured auth value is wrong is tried once
# per process, however often the message names it.
(umask 077; printf 'stale-auth' >stale.pin)
"$cli" kek create --type ec-p256 "tpm2:handle=0x81000113;pin-source=file:$work/ours.pin" >/dev/null
"$cli" encrypt --kek "tpm2:handle=0x81000113;pin-source=file:$work/ours.pin" -o stale.env pt
edk graft stale.env stale.env s2.env && edk graft s2.env stale.env s3.env && edk graft s3.env stale.env s4.env
[ "$(edk refs s4.env | grep -c 0x81000113)" = 4 ] || fail "the message does not repeat the EDK"
sed -i "s|^tpm2-handles = .*|tpm2-handles = 0x81000111, tpm2:handle=0x81000113;pin-source=file:$work/stale.pin|" \
  "$OPENSSL_CONF"
before=$(lockout_counter)
rc=0; "$cli" decrypt s4.env 2>err.log || rc=$?
[ "$rc" -eq 4 ] || { cat err.log; fail "wrong configured auth: exit $rc, wanted 4"; }
after=$(lockout_counter)
[ "$((after - before))" -le 1 ] || fail "one message cost $((after - before)) lockout counts ($before -> $after)"
echo "tpm_hostile_refs: all checks passed"
