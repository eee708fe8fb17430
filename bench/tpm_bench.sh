#!/usr/bin/env bash
# tpm_bench.sh TPM_BENCH TPM_IT PROVIDER_DIR [N] [ROUNDS] [BASE_PROVIDER_DIR] - the TPM
# benchmark of bench/README.md on a private swtpm: provider unwrap vs raw ESYS (same session
# settings, and without a session) vs tpm2-openssl 1.1.1 (PKCS#1 v1.5, no session), in one run.
# With BASE_PROVIDER_DIR (another build's provider folder, e.g. of main) the same benchmark runs
# with that provider and then with PROVIDER_DIR, alternating ROUNDS times, on the same swtpm and
# keys: a before/after in one run.
set -euo pipefail
bench=$1 it=$2 provdir=$3 n=${4:-200} rounds=${5:-3} baseprov=${6:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/swtpm.sh
. "$here/../tests/integration/swtpm.sh"
# shellcheck source=../tests/integration/softhsm.sh
. "$here/../tests/integration/softhsm.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/envtpm-bench.XXXXXX")
ENV_CLEANUP="rm -rf '$work'"
swtpm_start "$work/tpm"
cd "$work"
"$it" create ec tpm2:handle=0x81000101
"$it" create rsa tpm2:handle=0x81000102
# a tpm2-tools key with scheme null, so tpm2-openssl can do PKCS#1 v1.5
tpm2_create -C 0x81000001 -G rsa2048 -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|decrypt' \
  -u r.pub -r r.priv >/dev/null
tpm2_encodeobject -C 0x81000001 -u r.pub -r r.priv -p -o tools-rsa.pem # -p: emptyAuth (5.4 quirk)
tpm2_flushcontext -t; tpm2_flushcontext -l
TPM_BENCH_TPM2_PROVIDER=$(pkg-config --variable=modulesdir libcrypto)/tpm2.so
export TPM_BENCH_TPM2_PROVIDER
run() { # run PROVIDER_DIR ROUNDS
  export OPENSSL_CONF=$work/openssl.cnf
  envelope_write_conf "$1" "cache-ttl = 0" # every unwrap reaches the TPM (no unwrap cache)
  "$bench" "$n" "$2" 0x81000101 0x81000102 "$work/tools-rsa.pem"
}
if [ -z "$baseprov" ]; then
  run "$provdir" "$rounds"
  exit 0
fi
for r in $(seq 1 "$rounds"); do
  echo "== round $r: before ($baseprov)"
  run "$baseprov" 1
  echo "== round $r: after ($provdir)"
  run "$provdir" 1
done
