#!/usr/bin/env bash
# Benchmark: unwraps per second through the envelope provider
# (EVP_PKEY_decapsulate) vs raw C_Decrypt on the same SoftHSM2 token, for an
# AES-256 and an RSA-3072 KEK, and vs libp11's engine for RSA; all in one run.
# Wall-clock figures swing on a shared machine, so instructions per unwrap
# are also counted with callgrind (difference of two runs of different
# length, which cancels setup): that ratio is the stable one.
#   bash bench/provider_bench.sh [BUILD_DIR]      (default build/bench)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$root/build/bench}")
if [ ! -x "$build/bench/bench_provider_unwrap" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DENVELOPE_WITH_BENCH=ON -DENVELOPE_WITH_TESTS=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
fi
bin=$build/bench/bench_provider_unwrap
# shellcheck source=../tests/integration/softhsm.sh
source "$root/tests/integration/softhsm.sh"
work=$(mktemp -d /tmp/envelope-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Every unwrap must reach the token: the unwrap cache (which would answer the
# repeats) is measured by bench/cache_bench.sh.
ENV_EXTRA_PROVIDER_CONF="cache-ttl = 0" softhsm_setup "$work" "$build/provider" bench >/dev/null
softhsm_keygen_aes bench-aes 0a 2>/dev/null
softhsm_keygen_rsa bench-rsa 0b 2>/dev/null
export BENCH_MODULE=$ENV_P11_MODULE BENCH_TOKEN=bench BENCH_PIN=$ENV_PIN
export BENCH_AES_URI="pkcs11:token=bench;object=bench-aes;type=secret-key"
export BENCH_RSA_URI="pkcs11:token=bench;object=bench-rsa;type=private"

rate() { "$bin" "$1" "$2" | awk '{print $4}'; }
instr() { # instructions per op: (I(n2) - I(n1)) / (n2 - n1)
  local mode=$1 n1=$2 n2=$3 a b
  a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$mode" "$n1" 2>&1 >/dev/null | awk '/Collected :/{print $4}')
  b=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$mode" "$n2" 2>&1 >/dev/null | awk '/Collected :/{print $4}')
  echo $(( (b - a) / (n2 - n1) ))
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }

aes_n=${BENCH_AES_N:-20000} rsa_n=${BENCH_RSA_N:-400}
echo "# provider unwrap benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(openssl version | cut -d' ' -f1-2), SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2))"
echo
pa=$(rate provider-aes "$aes_n"); ra=$(rate raw-aes "$aes_n")
# Two more AES floors (bench/provider_unwrap.c): the module initialised with
# CKF_OS_LOCKING_OK as the provider must, and the raw loop inside a process
# where the provider has loaded the module and unwrapped once.
ral=$(rate raw-aes-locking "$aes_n"); rai=$(rate raw-aes-inproc "$aes_n")
pr=$(rate provider-rsa "$rsa_n"); rr=$(rate raw-rsa "$rsa_n"); er=$(rate engine-rsa "$rsa_n")
ipa=$(instr provider-aes 100 600); ira=$(instr raw-aes 100 600)
iral=$(instr raw-aes-locking 100 600); irai=$(instr raw-aes-inproc 100 600)
ipr=$(instr provider-rsa 5 25); irr=$(instr raw-rsa 5 25); ier=$(instr engine-rsa 5 25)
echo "| KEK | path | unwraps/s | instructions/unwrap | vs raw (instructions) | vs raw (wall) |"
echo "|---|---|---|---|---|---|"
echo "| AES-256 | raw C_DecryptInit+C_Decrypt | $ra | $ira | 1 | 1 |"
echo "| AES-256 | envelope EVP_PKEY_decapsulate | $pa | $ipa | $(ratio "$ira" "$ipa")x | $(ratio "$pa" "$ra")x |"
echo "| AES-256 | raw, module initialised with CKF_OS_LOCKING_OK | $ral | $iral | 1 | 1 |"
echo "| AES-256 | envelope EVP_PKEY_decapsulate vs that | $pa | $ipa | $(ratio "$iral" "$ipa")x | $(ratio "$pa" "$ral")x |"
echo "| AES-256 | raw, in the provider's process on its module instance | $rai | $irai | 1 | 1 |"
echo "| AES-256 | envelope EVP_PKEY_decapsulate vs that | $pa | $ipa | $(ratio "$irai" "$ipa")x | $(ratio "$pa" "$rai")x |"
echo "| RSA-3072 OAEP | raw C_DecryptInit+C_Decrypt | $rr | $irr | 1 | 1 |"
echo "| RSA-3072 OAEP | envelope EVP_PKEY_decapsulate | $pr | $ipr | $(ratio "$irr" "$ipr")x | $(ratio "$pr" "$rr")x |"
echo "| RSA-3072 OAEP | libp11 engine EVP_PKEY_decrypt | $er | $ier | $(ratio "$irr" "$ier")x | $(ratio "$er" "$rr")x |"
echo
echo "\"vs raw\" is throughput relative to raw PKCS#11 (higher is better; 1 = no overhead)."
