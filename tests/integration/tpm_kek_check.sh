#!/usr/bin/env bash
# tpm_kek_check.sh ENVELOPE PROVIDER_DIR - `envelope kek check` on a real
# swtpm: keys made with tpm2-tools' tpm2_create without fixedTPM /
# fixedParent, with sign, and imported (no sensitiveDataOrigin) are
# reported with their codes and exit 6; KEKs made by `envelope kek create`
# (EC P-256 and RSA-2048, persistent and as a key file) have no finding;
# `tpm2:` checks every persistent key; reading public areas offers no auth
# value (the DA lockout counter does not move, with a wrong
# tpm2-pin-source configured); a missing handle is a clear error.
set -euo pipefail
cli=$1 provdir=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=swtpm.sh
. "$here/swtpm.sh"
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/envtpm-check.XXXXXX")
ENV_CLEANUP="rm -rf '$work'"
swtpm_start "$work/tpm"
cd "$work"
fails=0
fail() { echo "FAIL [tpm-kek-check]: $*" >&2; fails=$((fails + 1)); }
export OPENSSL_CONF=$work/openssl.cnf
(umask 077; printf 'wrong' >wrong.pin)
envelope_write_conf "$provdir" "tpm2-tcti = $TPM2TOOLS_TCTI" "tpm2-pin-source = file:$work/wrong.pin"
unset ENVELOPE_TPM2_TCTI # the provider reads tpm2-tcti from openssl.cnf
tools() { env -u LD_PRELOAD -u OPENSSL_CONF -u OPENSSL_MODULES "$@"; }

# ours (this also makes the SRK the tpm2-tools keys go under)
"$cli" kek create --quiet --type ec-p256 tpm2:handle=0x81000101
"$cli" kek create --quiet --type rsa-2048 tpm2:handle=0x81000102
"$cli" kek create --quiet --type ec-p256 "tpm2:file=$work/kek.pem"
persist() { # HANDLE NAME ATTRIBUTES ALG [tpm2_create options]
  local h=$1 n=$2 attrs=$3 alg=$4
  shift 4
  tools tpm2_create -Q -C 0x81000001 -G "$alg" -a "$attrs" -u "$n.pub" -r "$n.priv" "$@"
  tools tpm2_load -Q -C 0x81000001 -u "$n.pub" -r "$n.priv" -c "$n.ctx"
  tools tpm2_evictcontrol -Q -C o -c "$n.ctx" "$h" >/dev/null
  tools tpm2_flushcontext -t
}
# duplicable: neither fixedTPM nor fixedParent
persist 0x81000110 dup 'sensitivedataorigin|userwithauth|decrypt|noda' ecc256
# a decrypt key that also signs
persist 0x81000111 signer 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt|sign|noda' \
  ecc256
# imported: the private key was made outside the TPM (openssl, then tpm2_import)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out imp.key 2>/dev/null
tools tpm2_import -Q -C 0x81000001 -G ecc -i imp.key -u imp.pub -r imp.priv
tools tpm2_load -Q -C 0x81000001 -u imp.pub -r imp.priv -c imp.ctx
tools tpm2_evictcontrol -Q -C o -c imp.ctx 0x81000112 >/dev/null
tools tpm2_flushcontext -t

# the codes of one KEK's findings, from --json
codes() {
  "$cli" kek check --json "$1" >codes.json 2>codes.err || true
  /usr/bin/python3 -c '
import json
lines = [json.loads(l) for l in open("codes.json") if l.strip()]
assert len(lines) == 1, lines
d = lines[0]
assert set(d) == {"reference", "kind", "ok", "findings"} and d["ok"] == (not d["findings"]), d
print(d["kind"], " ".join(sorted(f["code"] for f in d["findings"])))' || cat codes.err >&2
}
lockouts() { tools tpm2_getcap properties-variable | awk '/TPM2_PT_LOCKOUT_COUNTER/ {print $2}'; }
before=$(lockouts)

for u in tpm2:handle=0x81000101 tpm2:handle=0x81000102 "tpm2:file=$work/kek.pem"; do
  rc=0; "$cli" kek check "$u" >out 2>err || rc=$?
  [ "$rc" = 0 ] || { cat out err; fail "$u made by kek create: exit $rc"; }
done
[ "$(codes tpm2:handle=0x81000101)" = "ec-p256 " ] || fail "ours EC: $(codes tpm2:handle=0x81000101)"
[ "$(codes tpm2:handle=0x81000102)" = "rsa-2048 " ] || fail "ours RSA: $(codes tpm2:handle=0x81000102)"
[ "$(codes tpm2:handle=0x81000110)" = "ec-p256 duplicable duplicable" ] ||
  fail "duplicable key: $(codes tpm2:handle=0x81000110)"
[ "$(codes tpm2:handle=0x81000111)" = "ec-p256 extra-usage" ] ||
  fail "signing key: $(codes tpm2:handle=0x81000111)"
c=$(codes tpm2:handle=0x81000112)
case " $c " in *" once-extractable "*) ;; *) fail "imported key: '$c'" ;; esac
rc=0; "$cli" kek check tpm2:handle=0x81000110 >out 2>err || rc=$?
[ "$rc" = 6 ] || fail "duplicable key: exit $rc, wanted 6"
grep -q 'duplicable  *fixedTPM is clear' out || { cat out; fail "no fixedTPM line"; }
# every persistent key but the SRK
rc=0; "$cli" kek check tpm2: >all.out 2>all.err || rc=$?
[ "$rc" = 6 ] || { cat all.err; fail "tpm2: exit $rc, wanted 6"; }
grep -q '^envelope: 5 KEKs checked, 3 with findings$' all.err || { cat all.out all.err; fail "tpm2: summary"; }
! grep -q 0x81000001 all.out || fail "the SRK was checked"
[ "$(lockouts)" = "$before" ] || fail "checking moved the DA lockout counter"

rc=0; "$cli" kek check tpm2:handle=0x81000199 >out 2>err || rc=$?
{ [ "$rc" = 1 ] && grep -q 'no key at persistent handle 0x81000199' err; } ||
  { cat err; fail "missing handle: exit $rc"; }
rc=0; "$cli" kek check "tpm2:handle=0x81000101;pin-source=file:$work/x" >out 2>err || rc=$?
[ "$rc" = 0 ] || { cat err; fail "a pin-source in the URI is not used by a check: exit $rc"; }
rc=0; "$cli" kek check "tpm2:handle=zzz" >out 2>err || rc=$?
[ "$rc" = 1 ] || { cat err; fail "bad handle: exit $rc"; }
# the provider still refuses the keys check reports
rc=0; "$cli" encrypt --kek tpm2:handle=0x81000110 -o x.env wrong.pin 2>err || rc=$?
[ "$rc" != 0 ] && [ ! -e x.env ] || fail "encrypt with a duplicable TPM key worked"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "cli.swtpm.kek-check: ok"
