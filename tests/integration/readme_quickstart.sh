#!/usr/bin/env bash
# cli.softhsm.readme-quickstart: the README's quick start works when copied.
# Every fenced block that follows a `<!-- quickstart -->` line in README.md
# is run, in order, as one bash script (set -euo pipefail) in an empty
# folder with an empty HOME, so the SoftHSM2 token, PIN file and
# openssl.cnf it makes are scratch ones.
#   readme_quickstart.sh README.md [BIN_DIR PROVIDER_DIR]
# BIN_DIR goes first on PATH (the envelope CLI), PROVIDER_DIR is where
# OpenSSL loads envelope.so from (OPENSSL_MODULES); without them the
# installed envelope and libcrypto's modulesdir are used (scripts/deb-test.sh).
set -euo pipefail
readme=$1
bindir=${2:+$(realpath "$2")}
provdir=${3:+$(realpath "$3")}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home" "$tmp/work"

# the marked blocks, in order
awk '
  /^<!-- quickstart -->$/ { want = 1; next }
  want && /^```/ && !inside { inside = 1; n++; printf "# --- quickstart block %d\n", n; next }
  inside && /^```$/ { inside = 0; want = 0; next }
  inside { print }
' "$readme" >"$tmp/quickstart.sh"
blocks=$(grep -c '^# --- quickstart block' "$tmp/quickstart.sh" || true)
[ "$blocks" -ge 5 ] || fail "found $blocks quickstart blocks in $readme (mark each with <!-- quickstart -->)"
# the SoftHSM2 part is five lines, as the README says
first=$(awk '/^# --- quickstart block 1$/ {on = 1; next} /^# --- quickstart block/ {on = 0} on' "$tmp/quickstart.sh")
[ "$(grep -c . <<<"$first")" -eq 5 ] || fail "the SoftHSM2 quick start is not five lines: $first"
for tool in softhsm2-util openssl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh)"
done

env_args=(HOME="$tmp/home" PATH="${bindir:+$bindir:}$PATH")
[ -z "$provdir" ] || env_args+=(OPENSSL_MODULES="$provdir")
# the sanitizer build's runtime settings (tests/CMakeLists.txt), passed through
for v in LD_PRELOAD ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
  [ -z "${!v:-}" ] || env_args+=("$v=${!v}")
done
if ! (cd "$tmp/work" && env -i "${env_args[@]}" bash -euo pipefail "$tmp/quickstart.sh") \
  >"$tmp/out.log" 2>&1; then
  cat -n "$tmp/quickstart.sh" >&2
  cat "$tmp/out.log" >&2
  fail "the README quick start failed (script and output above)"
fi
cat "$tmp/out.log"
# what the quick start promises
[ "$(stat -c %a "$tmp/home/.envelope/softhsm.pin")" = 600 ] || fail "the PIN file is not mode 0600"
for f in file.out dek.out file.cms.out archive-rsa.crt; do
  [ -s "$tmp/work/$f" ] || fail "the quick start made no $f"
done
grep -q '^  envelope$' "$tmp/out.log" || fail "openssl list -providers did not show envelope"
echo "cli.softhsm.readme-quickstart: ok ($blocks blocks)"
