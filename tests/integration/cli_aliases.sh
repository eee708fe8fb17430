#!/usr/bin/env bash
# cli_aliases.sh ENVELOPE_BIN PROVIDER_DIR
# KEK aliases, versions and retirement (docs/PROVIDER.md, "KEK aliases and
# rotation") on a real SoftHSM2 token with four AES KEKs v0..v3:
#   kek.payments = v3, kek.payments.previous = v2, v1, kek.payments.retired = v0
# encrypt --kek alias:payments records v3; data made under v1 and v2
# decrypts with --kek alias:payments and from its own references; v0 is
# refused (exit 4) without --allow-retired, by alias and by reference; new
# wraps under a previous or retired version are refused; bad alias
# settings are refused with their names.
set -euo pipefail
ENV=$1
PROVDIR=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/envalias.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=softhsm.sh
. "$here/softhsm.sh"
softhsm_setup "$work" "$PROVDIR" prod
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect() { # WANT_RC "description" "text stderr must contain" CMD...
  local want=$1 desc=$2 text=$3 rc=0
  shift 3
  envelope_run_own "$@" >"$work/last.out" 2>"$work/last.err" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$desc: exit $rc, wanted $want"
    sed 's/^/  | /' "$work/last.err" >&2
  elif [ -n "$text" ] && ! grep -qF -- "$text" "$work/last.err"; then
    fail "$desc: stderr lacks \"$text\""
    sed 's/^/  | /' "$work/last.err" >&2
  fi
}
v() { echo "pkcs11:token=prod;object=payments-v$1"; }
for i in 0 1 2 3; do softhsm_keygen_aes "payments-v$i" "1$i"; done
printf 'rotating\n' >pt
# data made before the aliases existed, one file per version
for i in 0 1 2 3; do expect 0 "encrypt under v$i" "" "$ENV" encrypt --kek "$(v $i)" -o "v$i.env" pt; done

ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "kek.payments = $(v 3)" \
  "kek.payments.previous = $(v 2), $(v 1)" "kek.payments.retired = $(v 0)") softhsm_write_conf

expect 0 "encrypt --kek alias:payments" "" "$ENV" encrypt --kek alias:payments -o new.env pt
expect 0 "inspect" "" "$ENV" inspect new.env
grep -q 'object=payments-v3' last.out || fail "alias:payments did not record v3: $(cat last.out)"
if grep -q 'alias:' last.out; then fail "a message records the alias, not the key"; fi
for i in 1 2; do
  expect 4 "new wrap under previous v$i" "is a previous version of alias payments" \
    "$ENV" encrypt --kek "$(v $i)" -o x pt
done
expect 4 "new wrap under retired v0" "is a retired version of alias payments" \
  "$ENV" encrypt --kek "$(v 0)" -o x pt
[ ! -e x ] || fail "a refused encrypt left output"
for f in new v3 v2 v1; do
  expect 0 "decrypt $f with --kek alias:payments" "" "$ENV" decrypt --kek alias:payments -o "$f.out" "$f.env"
  cmp -s pt "$f.out" || fail "$f round trip"
  expect 0 "keyless decrypt of $f" "" "$ENV" decrypt -o "$f.kl" "$f.env"
done
expect 4 "retired v0 by alias" "is retired (kek.payments.retired)" "$ENV" decrypt --kek alias:payments v0.env
expect 4 "retired v0 by its own reference" "is retired" "$ENV" decrypt v0.env
expect 4 "retired v0 named directly" "is retired" "$ENV" decrypt --kek "$(v 0)" v0.env
expect 0 "retired v0 with --allow-retired" "" "$ENV" decrypt --allow-retired --kek alias:payments -o v0.out v0.env
cmp -s pt v0.out || fail "v0 round trip with the override"
expect 1 "unknown alias" 'no alias "nope"' "$ENV" encrypt --kek alias:nope -o x pt

# an entry written with attributes a key's reference does not carry (serial=,
# as docs/SECURITY.md advises for tokens) still names the key: v0 stays retired
serial=$(pkcs11-tool --module "$ENV_P11_MODULE" -L 2>/dev/null | awk -F': *' '/serial num/ {print $2; exit}' | tr -d ' ')
ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "kek.payments = $(v 3)" \
  "kek.payments.retired = pkcs11:token=prod;serial=${serial:-0000};object=payments-v0") softhsm_write_conf
expect 4 "retired entry with serial=" "is retired" "$ENV" decrypt --kek "$(v 0)" v0.env
ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "kek-aliases = payments" "kek.payments = $(v 3)") softhsm_write_conf
expect 0 "kek-aliases names the alias" "" "$ENV" encrypt --kek alias:payments -o x2 pt
rm -f x2

# bad alias settings: refused with the setting's name
bad() { # "description" "text" SETTINGS...
  local desc=$1 text=$2; shift 2
  ENV_EXTRA_PROVIDER_CONF=$(printf '%s\n' "$@") softhsm_write_conf
  expect 1 "$desc" "$text" "$ENV" encrypt --kek "$(v 3)" -o x pt
}
bad "previous without current" "kek.orphan.previous: has no current version" "kek.orphan.previous = $(v 1)"
bad "two current keys" "kek.two: the current version is one key" "kek.two = $(v 1), $(v 2)"
bad "alias of an alias" "an alias names keys, not other aliases" "kek.loop = alias:payments"
bad "unknown scheme" "no backend of this build serves" "kek.odd = vault:x"
bad "listed alias without kek.NAME" "kek-aliases lists an alias, but kek.ghost is not set" "kek-aliases = ghost"
bad "misspelt role" 'unknown setting "kek.payments.previos"' "kek.payments = $(v 3)" "kek.payments.previos = $(v 2)"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "cli aliases: all checks passed"
