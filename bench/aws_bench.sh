#!/usr/bin/env bash
# aws_bench.sh BUILD_DIR [SECONDS] - wraps and unwraps per second of a
# 32-byte DEK through the provider -> envelope-kms-pkcs11.so -> the loopback
# AWS KMS test server (tests/integration/aws/harness.sh), on 1 and 4
# threads (bench/kms_bench.c); then how many KMS calls 100,000 records
# make: streamed as one message, and written as separate messages (counted
# by the server, extrapolated from 1,000). The server is Python: the figures
# measure it and the HTTPS + SigV4 path, not AWS (tens of ms per call there).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$1" && pwd)
secs=${2:-5}
KMS_MODULE=$build/kms-bridge/envelope-kms-pkcs11.so
ENV_PROVIDER_DIR=$build/provider
# shellcheck source=../tests/integration/aws/harness.sh
source "$root/tests/integration/aws/harness.sh"
aws_setup
aws_server_start
aws_keys alias/bench SYMMETRIC_DEFAULT >/dev/null
aws_module_conf "$AWS_DIR/kms.conf"
aws_clean_env
aws_admin_env
export ENVELOPE_KMS_CONF=$AWS_DIR/kms.conf
printf 'unused' >"$AWS_DIR/pin"
# every unwrap reaches the KMS here; the cache and DEK reuse are measured below
aws_openssl_cnf "$AWS_DIR/openssl.cnf" "$KMS_MODULE" aws "cache-ttl = 0"
export OPENSSL_CONF=$AWS_DIR/openssl.cnf
URI='pkcs11:token=aws;object=alias%2Fbench'
echo "# aws bench: botocore $(dpkg-query -W -f='${Version}' python3-botocore) test server, ${secs}s per run, $(nproc) CPUs"
for threads in 1 4; do
  aws_ctl /_test/reset-stats
  "$build/bench/kms_bench" "$URI" "$secs" "$threads"
  echo "threads=$threads kms_calls=$(aws_stat kms) throttled=$(aws_stat throttled)"
done

cd "$AWS_DIR"
seq -f 'record %06g: some payload of a typical size for one row' 1 100000 >records
aws_ctl /_test/reset-stats
"$build/cli/envelope" encrypt --kek "$URI" --context app=bench -o records.env records
"$build/cli/envelope" decrypt --kek "$URI" -o records.out records.env
cmp -s records records.out || aws_fail "records round trip"
echo "100000 records in one streamed message: Encrypt=$(aws_stat kms:Encrypt) Decrypt=$(aws_stat kms:Decrypt) DescribeKey=$(aws_stat kms:DescribeKey)"
head -n 1000 records | split -l 1 -a 4 - rec.
aws_ctl /_test/reset-stats
for f in rec.*; do
  "$build/cli/envelope" encrypt --kek "$URI" -o "$f.env" "$f"
done
e=$(aws_stat kms:Encrypt)
for f in rec.*.env; do
  "$build/cli/envelope" decrypt --kek "$URI" -o "$f.out" "$f"
done
d=$(aws_stat kms:Decrypt)
echo "1000 records as 1000 messages: Encrypt=$e Decrypt=$d (100000 records: $((e * 100)) + $((d * 100)) calls without DEK reuse or the unwrap cache)"

# 100,000 records as 100,000 messages over 10 tenants, through libenvelope,
# with DEK reuse and the unwrap cache on (bench/records_bench.c)
if [ -x "$build/bench/bench_records" ]; then
  aws_openssl_cnf "$AWS_DIR/openssl.cnf" "$KMS_MODULE" aws "dek-reuse-messages = 100000" "cache-ttl = 5m"
  aws_ctl /_test/reset-stats
  out=$("$build/bench/bench_records" "$URI" 100000 10)
  echo "100000 records as messages over 10 tenants, DEK reuse + unwrap cache: $out Encrypt=$(aws_stat kms:Encrypt) Decrypt=$(aws_stat kms:Decrypt)"
fi
