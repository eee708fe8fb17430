#!/usr/bin/env bash
# cli_large.sh ENVELOPE_BIN
# 256 MiB through stdin/stdout both ways in constant memory (peak RSS is
# checked), compared by hash. Under ASan (ENVELOPE_SANITIZED=1, set by the
# CMake registration of sanitized builds) the size is scaled down to 32 MiB
# so the suite stays within CI time; the code path is the same.
set -euo pipefail
ENV=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/envlarge.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
: >empty.cnf
export OPENSSL_CONF=$work/empty.cnf
mib=256
[ "${ENVELOPE_SANITIZED:-0}" = 1 ] && mib=32
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out k.pem 2>/dev/null
K=file:$work/k.pem
# A deterministic stream (no 256 MiB file on disk): AES-CTR of zeros.
gen() { head -c $((mib << 20)) /dev/zero | openssl enc -aes-128-ctr -K 00112233445566778899aabbccddeeff -iv 0 2>/dev/null; }
want=$(gen | sha256sum | cut -d' ' -f1)
# GNU time (package "time") reports the peak RSS of each side.
start=$(date +%s%N)
got=$(gen | /usr/bin/time -f '%M' -o enc.rss "$ENV" encrypt --kek "$K" \
        | /usr/bin/time -f '%M' -o dec.rss "$ENV" decrypt --kek "$K" | sha256sum | cut -d' ' -f1)
end=$(date +%s%N)
[ "$got" = "$want" ] || { echo "FAIL: $mib MiB round trip differs"; exit 1; }
enc_kb=$(tail -1 enc.rss) dec_kb=$(tail -1 dec.rss)
echo "cli_large: $mib MiB through stdin/stdout ok in $(( (end - start) / 1000000 )) ms; peak RSS encrypt ${enc_kb} KiB, decrypt ${dec_kb} KiB"
# Constant memory: far below the data size (ASan's shadow memory aside).
limit=$((64 * 1024))
[ "${ENVELOPE_SANITIZED:-0}" = 1 ] && limit=$((512 * 1024))
if [ "$enc_kb" -gt "$limit" ] || [ "$dec_kb" -gt "$limit" ]; then
  echo "FAIL: peak RSS over $limit KiB: not constant memory"; exit 1
fi
