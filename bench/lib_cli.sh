#!/usr/bin/env bash
# lib_cli.sh ENVELOPE_BIN [MiB]
# Benchmark (c) of bench/README.md: the envelope CLI on a 256 MiB file vs
# `openssl cms -encrypt -aes-256-gcm` (RSA-3072 recipient) and `age`
# (X25519 recipient). Wall-clock seconds, best of 3, same machine, same run.
set -euo pipefail
ENV=${1:?usage: lib_cli.sh ENVELOPE_BIN [MiB]}
# The script works in a scratch directory: a relative binary path would break.
ENV=$(realpath -e "$ENV") || { echo "lib_cli.sh: $1: no such file" >&2; exit 1; }
mib=${2:-256}
work=$(mktemp -d "${TMPDIR:-/tmp}/envbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
: >empty.cnf
export OPENSSL_CONF=$work/empty.cnf
head -c $((mib << 20)) /dev/zero | openssl enc -aes-128-ctr -K 00 -iv 00 -nosalt 2>/dev/null >in
openssl req -x509 -newkey rsa:3072 -nodes -keyout k.pem -out k.crt -subj /CN=bench -days 1 2>/dev/null
age-keygen -o age.key 2>/dev/null
agepub=$(age-keygen -y age.key)
best() { # best WALLCLOCK of 3 runs of "$@"
  local b=999999 s e t
  for _ in 1 2 3; do
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    t=$(( (e - s) / 1000000 )); [ "$t" -lt "$b" ] && b=$t
  done
  echo "$b"
}
"$ENV" encrypt --quiet --kek "file:$work/k.pem" -o in.env in
openssl cms -encrypt -binary -aes-256-gcm -in in -out in.cms -outform DER k.crt
age -r "$agepub" -o in.age in
e1=$(best "$ENV" encrypt --quiet --force --kek "file:$work/k.pem" -o out.env in)
d1=$(best "$ENV" decrypt --quiet --force --kek "file:$work/k.pem" -o out.dec in.env)
e2=$(best openssl cms -encrypt -binary -aes-256-gcm -in in -out out.cms -outform DER k.crt)
d2=$(best openssl cms -decrypt -binary -inform DER -in in.cms -inkey k.pem -out out.cmsdec)
e3=$(best age -r "$agepub" -o out.age in)
d3=$(best age -d -i age.key -o out.agedec in.age)
{ cmp -s in out.dec && cmp -s in out.cmsdec && cmp -s in out.agedec; } || { echo "round trips differ"; exit 1; }
printf '(c) %d MiB file, wall-clock ms (best of 3)\n' "$mib"
printf '    %-34s encrypt %6d  decrypt %6d\n' "envelope (RSA-3072 file: KEK)" "$e1" "$d1" \
  "openssl cms -aes-256-gcm (RSA-3072)" "$e2" "$d2" "age (X25519)" "$e3" "$d3"
