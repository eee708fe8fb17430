#!/usr/bin/env bash
# cli.aws.*: the envelope CLI through the provider and envelope-kms-pkcs11.so
# with an AWS KMS key (alias/payments) on the loopback AWS test server:
#  - round trip; the AAD is bound by the KMS (an EDK moved into another
#    message is refused by the KMS: InvalidCiphertextException, exit 2); a
#    changed wrapped key: exit 2;
#  - another access key without kms:Decrypt: exit 4 (policy);
#  - throttling is retried (the server counts the throttled calls), and
#    throttling until the timeout is exit 3; a 5xx likewise retried;
#  - the server killed mid-call: exit 3 and no output file; after a
#    restart the next run succeeds;
#  - an answer naming another key, and a server certificate from another
#    CA, are refused.
set -euo pipefail
# shellcheck source=aws/harness.sh
source "$AWS_HARNESS"
# shellcheck source=softhsm.sh
source "$(dirname "$AWS_HARNESS")/../softhsm.sh"
aws_setup
aws_server_start
aws_keys alias/payments SYMMETRIC_DEFAULT >/dev/null
aws_module_conf "$AWS_DIR/kms.conf"
aws_clean_env
aws_admin_env
export ENVELOPE_KMS_CONF=$AWS_DIR/kms.conf
export ENVELOPE_KMS_DEBUG=file:$AWS_DIR/debug.log
echo unused >"$AWS_DIR/pin"
aws_openssl_cnf "$AWS_DIR/openssl.cnf" "$KMS_MODULE" aws
export OPENSSL_CONF=$AWS_DIR/openssl.cnf
KEK='pkcs11:token=aws;object=alias%2Fpayments'
cd "$AWS_DIR"
head -c 100000 /dev/urandom >pt
py() { env -u LD_PRELOAD -u OPENSSL_CONF -u OPENSSL_MODULES /usr/bin/python3 "$@"; }

run 0 "encrypt with alias/payments" envelope_run_own "$ENVELOPE_CLI" encrypt --kek "$KEK" --context tenant=a -o ct pt
run 0 "decrypt" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" --context tenant=a -o back ct
cmp -s pt back || bad "round trip differs"
if [ "$(aws_stat kms:Encrypt)" -lt 1 ] || [ "$(aws_stat kms:Decrypt)" -lt 1 ]; then bad "the KMS saw no Encrypt/Decrypt"; fi
run 2 "wrong context" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" --context tenant=b -o back.bad ct
[ ! -e back.bad ] || bad "wrong context left an output file"

# The AAD travels as the encryption context: a message whose context was
# changed in its header (wrap AAD changed, EDK intact) is refused by the
# KMS itself, before the header tag could be checked; a changed wrapped key
# likewise.
run 0 "encrypt with a context to change" envelope_run_own "$ENVELOPE_CLI" encrypt --kek "$KEK" --context tenant=tenant-aaaa -o ct.c pt
py -c 'import sys; d=open(sys.argv[1],"rb").read(); assert d.count(b"tenant-aaaa")==1; open(sys.argv[2],"wb").write(d.replace(b"tenant-aaaa", b"tenant-bbbb"))' ct.c ct.ctx
aws_ctl /_test/reset-stats
run 2 "the context changed in the header" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.x ct.ctx
[ "$(aws_stat error:InvalidCiphertextException)" -eq 1 ] || bad "the KMS did not refuse the changed AAD (InvalidCiphertextException)"
[ ! -e back.x ] || bad "a refused message left an output file"
py "$EDK_TOOL" corrupt ct 0 ct.corrupt
run 2 "a changed wrapped key" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.g ct.corrupt
[ "$(aws_stat error:InvalidCiphertextException)" -eq 2 ] || bad "the KMS did not refuse the changed ciphertext"

# Policy per access key: AKIDREADER may describe but not decrypt.
AWS_ACCESS_KEY_ID=AKIDREADER AWS_SECRET_ACCESS_KEY=readerSecretKey/+0123456789abcdefghijklm \
  run 4 "another access key without kms:Decrypt" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.r ct
grep -q "access denied" last.err || bad "the policy refusal does not say so: $(cat last.err)"
grep -q "not authorized to perform: kms:Decrypt" debug.log || bad "the debug log lacks the service's reason"
AWS_SECRET_ACCESS_KEY=wrongSecret run 4 "a wrong secret key (the server checks SigV4)" \
  envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.w ct
grep -q "InvalidSignatureException" last.err || bad "a bad signature was not reported: $(cat last.err)"

# Throttling and 5xx: retried within timeout-ms.
aws_ctl /_test/reset-stats
aws_ctl /_test/throttle '{"count": 2}'
run 0 "throttled twice, then answered" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.t ct
[ "$(aws_stat throttled)" -eq 2 ] || bad "expected 2 throttled calls, the server saw $(aws_stat throttled)"
aws_ctl /_test/fail '{"status": 503, "count": 1}'
run 0 "a 503, then answered" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.f ct
AWS_TIMEOUT_MS=1500 aws_module_conf "$AWS_DIR/kms-short.conf"
aws_ctl /_test/throttle '{"count": 100000}'
ENVELOPE_KMS_CONF=$AWS_DIR/kms-short.conf run 3 "throttled until the timeout" \
  envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.tt ct
[ ! -e back.tt ] || bad "a throttled decrypt left an output file"
aws_ctl /_test/throttle '{"count": 0}'

# An answer for another key is refused (fault injection in the server).
aws_ctl /_test/wrong-key-answer '{"count": 10}'
run 2 "a Decrypt answer naming another key" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.k ct
grep -q "the answer is for another key" debug.log || bad "the refusal is not in the debug log"
aws_ctl /_test/wrong-key-answer '{"count": 0}'

# A key disabled (or pending deletion) after the message was written: a
# specific message, not "denied" and not "authentication failed".
aws_keys alias/retired SYMMETRIC_DEFAULT >/dev/null
run 0 "encrypt with alias/retired" envelope_run_own "$ENVELOPE_CLI" encrypt --kek 'pkcs11:token=aws;object=alias%2Fretired' -o ct.r pt
aws_keys disable alias/retired
run 1 "a disabled key" envelope_run_own "$ENVELOPE_CLI" decrypt --kek 'pkcs11:token=aws;object=alias%2Fretired' -o back.r ct.r
grep -q "key alias/retired is Disabled" last.err || bad "the disabled key's reason is not given: $(cat last.err)"
aws_keys alias/doomed SYMMETRIC_DEFAULT >/dev/null
run 0 "encrypt with alias/doomed" envelope_run_own "$ENVELOPE_CLI" encrypt --kek 'pkcs11:token=aws;object=alias%2Fdoomed' -o ct.d pt
aws_keys schedule-deletion alias/doomed
run 1 "a key pending deletion" envelope_run_own "$ENVELOPE_CLI" decrypt --kek 'pkcs11:token=aws;object=alias%2Fdoomed' -o back.d ct.d
grep -q "key alias/doomed is PendingDeletion" last.err || bad "the pending deletion is not given: $(cat last.err)"
run 1 "a key that does not exist" envelope_run_own "$ENVELOPE_CLI" encrypt --kek 'pkcs11:token=aws;object=alias%2Fnosuch' -o ct.n pt
grep -q "not found" last.err || bad "a missing key is not reported as not found: $(cat last.err)"

# envelope kek create: CreateKey + CreateAlias; listed; a second create of
# the same alias is refused.
NEW='pkcs11:token=aws;object=alias%2Fcli-kek'
run 0 "envelope kek create --type aes-256 alias/cli-kek" envelope_run_own "$ENVELOPE_CLI" kek create --type aes-256 "$NEW"
run 0 "envelope kek list" envelope_run_own "$ENVELOPE_CLI" kek list 'pkcs11:token=aws'
grep -q "object=alias%2Fcli-kek" last.out || bad "kek list does not show alias/cli-kek: $(cat last.out)"
# kek check: the key is clean (usage mask Encrypt|Decrypt, never extractable);
# the slot asks for no PIN (its gate is the AWS credentials): exit 6
run 6 "envelope kek check" envelope_run_own "$ENVELOPE_CLI" kek check --json "$NEW"
/usr/bin/python3 -c '
import json
e = [json.loads(l) for l in open("last.out")]
assert [x["findings"] for x in e if x["kind"] != "token"] == [[]], e
assert [[f["code"] for f in x["findings"]] for x in e if x["kind"] == "token"] == [["token-without-pin"]], e' ||
  bad "kek check of an AWS KEK: $(cat last.out)"
run 0 "encrypt with the new KEK" envelope_run_own "$ENVELOPE_CLI" encrypt --kek "$NEW" -o ct.new pt
run 0 "decrypt with the new KEK" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$NEW" -o back.new ct.new
cmp -s pt back.new || bad "new KEK round trip differs"
created=$(aws_stat kms:CreateKey)
rc=0
envelope_run_own "$ENVELOPE_CLI" kek create --type aes-256 "$NEW" >last.out 2>last.err || rc=$?
if [ "$rc" -ne 0 ] && grep -q 'already exists' last.err; then
  echo "ok: second create refused (exit $rc)"
else
  bad "second create: exit $rc $(cat last.err)"
fi
[ "$(aws_stat kms:CreateKey)" -eq "$created" ] || bad "a second create made another key"

# The server killed in the middle of a call (it answers late): no output;
# after the restart it works again.
aws_ctl /_test/delay '{"seconds": 3}'
rc=0
envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.mid ct >mid.out 2>mid.err &
cli=$!
for _ in $(seq 1 100); do
  [ "$(aws_stat kms:DescribeKey)" -gt 0 ] && grep -q "DescribeKey: ok" debug.log && break
  sleep 0.1
done
sleep 0.5 # the Decrypt is in flight: the server sleeps before answering
aws_server_stop
wait "$cli" || rc=$?
[ "$rc" -eq 3 ] || bad "server killed mid-call: exit $rc, wanted 3: $(cat mid.err)"
[ ! -e back.mid ] || bad "server killed mid-call left an output file"
echo "ok: server killed mid-call (exit $rc)"
run 3 "server down" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.down ct
[ ! -e back.down ] || bad "server down left an output file"
aws_server_start
run 0 "after the restart" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.up ct
cmp -s pt back.up || bad "after restart: plaintext differs"

# A server whose certificate another CA signed: the TLS peer check refuses it.
aws_server_stop
aws_server_start other
run 3 "a server certificate from another CA" envelope_run_own "$ENVELOPE_CLI" decrypt --kek "$KEK" -o back.ca ct
grep -qi "certificate" last.err || bad "the TLS refusal does not say why: $(cat last.err)"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "cli.aws: all passed"
