#!/usr/bin/python3
"""Writes the hand-made seeds of the fuzz targets into tests/fuzz/corpus/.

The seeds of fuzz_decrypt_stream are the committed vectors (messages made by
tests/vectors/gen_vectors.c with libenvelope), each behind a few chunk
programs. The others are the real forms: the conf/ examples, URIs as the
tests and docs use them, answers as AWS and its test server give them, and
edge cases. Rerunning rewrites only the files named here (seed-*); corpus
files grown by fuzzing are left alone.

usage: make_seeds.py [REPO_ROOT]
"""
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "..")
corpus = os.path.join(root, "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def vectors():
    path = os.path.join(root, "tests", "vectors", "vectors.txt")
    cur = {}
    with open(path, encoding="utf-8") as f:
        for line in list(f) + [""]:
            line = line.rstrip("\n")
            if not line:
                if "message" in cur:
                    yield cur["name"], bytes.fromhex(cur["message"])
                cur = {}
                continue
            k, _, v = line.partition(": ")
            cur[k] = v


def suite2_vectors():
    """The key blocks and records of tests/vectors/suite2.txt (gen_suite2.c,
    made with libenvelope), the valid ones and each one-field mutation."""
    path = os.path.join(root, "tests", "vectors", "suite2.txt")
    cur = {}
    with open(path, encoding="utf-8") as f:
        for line in list(f) + [""]:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                if "name" in cur:
                    for field in ("keyblock", "record"):
                        if cur.get(field):
                            yield f"{cur['name']}-{field}", bytes.fromhex(cur[field])
                cur = {}
                continue
            k, _, v = line.partition(": ")
            cur[k] = v


def header_seeds():
    """fuzz_header reads the three forms: messages (grown from the vectors'
    headers) and here the key blocks (ENVK) and records (ENVR)."""
    for name, data in suite2_vectors():
        put("header", "s2-" + name, data)
    put("header", "s2-kb-ends-after-suite", b"ENVK\x01\x00\x02")

    # a context encoding alone (the harness also decodes the raw input as
    # one): 65 pairs, one over ENVELOPE_MAX_CONTEXT_PAIRS, and 8 pairs of
    # 1,030 encoded bytes, over ENVELOPE_MAX_CONTEXT_BYTES; every pair valid
    def context(pairs):
        out = len(pairs).to_bytes(2, "big")
        for k, v in pairs:
            out += len(k).to_bytes(2, "big") + k + len(v).to_bytes(2, "big") + v
        return out

    put("header", "context-65-pairs", context([(b"k%02d" % i, b"v") for i in range(65)]))
    put("header", "context-over-8k", context([(b"k%d" % i, b"v" * 1024) for i in range(8)]))
    # one byte over the key block limit (ENVELOPE_MAX_KEYBLOCK_BYTES), whole
    put("header", "s2-kb-over-limit", b"ENVK\x01\x00\x02\x00" + bytes(58557 - 7))


def der_len(n):
    return bytes([n]) if n < 0x80 else b"\x82" + n.to_bytes(2, "big")


def tpm_keyfile_seeds():
    """A TSS2 key file (the committed rsa.pem, written by our writer) with
    the optional secret [2] (an importable key's), which the reader refuses."""
    import base64

    with open(os.path.join(corpus, "tpm_keyfile", "rsa.pem"), encoding="ascii") as f:
        lines = [l.strip() for l in f if l.strip() and not l.startswith("-----")]
    der = base64.b64decode("".join(lines))
    assert der[0] == 0x30 and der[1] == 0x82
    body, out, off = der[4:], [], 0
    while off < len(body):  # TPMKey's fields: type, emptyAuth [0], parent, ...
        n = body[off + 1]
        hl = 2
        if n & 0x80:
            hl, n = 2 + (n & 0x7F), int.from_bytes(body[off + 2 : off + 2 + (n & 0x7F)], "big")
        out.append(body[off : off + hl + n])
        off += hl + n
    at = 1
    while out[at][0] in (0xA0, 0xA1):  # after emptyAuth [0] and policy [1]
        at += 1
    secret = b"\x04\x04\xde\xad\xbe\xef"
    out.insert(at, b"\xa2" + der_len(len(secret)) + secret)
    inner = b"".join(out)
    pem = base64.encodebytes(b"\x30" + der_len(len(inner)) + inner).decode()
    put("tpm_keyfile", "secret.pem", "-----BEGIN TSS2 PRIVATE KEY-----\n" + pem + "-----END TSS2 PRIVATE KEY-----\n")


def stream_seeds():
    programs = {"whole": [], "bytes": [1], "odd": [3, 7, 13, 200], "mixed": [16, 0], "five": [5, 1]}
    for name, msg in vectors():
        for pname, prog in programs.items():
            if len(msg) > 20000 and pname in ("bytes", "five"):
                continue
            put("decrypt_stream", f"{name}-{pname}", bytes([len(prog)] + prog) + msg)
        put("decrypt_stream", f"{name}-refused", b"\x80" + msg)  # bit 7: the sink refuses
        put("decrypt_stream", f"{name}-threads", b"\x42\x07\x00" + msg)  # bit 6: two workers
        put("decrypt_stream", f"{name}-threads-refused", b"\xc0" + msg)


def uri_seeds():
    uris = [
        "pkcs11:token=envtest;object=hsm-kek;type=secret-key",
        "pkcs11:token=prod;object=payments-v3",
        "pkcs11:token=kms;object=bulk-3;type=private",
        "pkcs11:token=aws;object=alias%2Fpayments",
        "pkcs11:token=kms;id=%01%02%03",
        "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=0123456789abcdef;token=envelope-fuzz;object=k;type=public",
        "pkcs11:token=envtest;object=kek?pin-source=file:/etc/envelope/softhsm.pin",
        "pkcs11:token=envtest;object=kek?pin-value=1234&module-path=/usr/lib/softhsm/libsofthsm2.so",
        "pkcs11:token=envtest;object=kek?module-name=softhsm2",
        "pkcs11:slot-id=3;object=kek",
        "pkcs11:slot-description=SoftHSM%20slot%20ID%200x1;library-manufacturer=SoftHSM;library-version=2.6;object=k",
        "pkcs11:library-description=x;slot-manufacturer=y;object=k",
        "pkcs11:token=envtest;object=kek;type=cert",
        "pkcs11:token=envtest;objekt=kek",
        "pkcs11:token=envtest;object=kek?pin-sorce=file:/x",
        "pkcs11:object=%00",
        "pkcs11:object=%zz",
        "pkcs11:",
        "PKCS11:token=T;object=o",
        "tpm2:handle=0x81000001",
        "tpm2:handle=0x81000002;pcrs=sha256:0,7",
        "tpm2:file=/etc/envelope/kek.tss",
        "file:/etc/envelope/kek.pem",
        "alias:payments",
        "/etc/envelope/kek.pem",
    ]
    for i, u in enumerate(uris):
        other = uris[(i + 1) % len(uris)]
        put("pkcs11_uri", f"{i:02d}", f"{u}\n{other}\nprod, pkcs11:token=kms?pin-source=file:/etc/envelope/kms.pin")
    put("pkcs11_uri", "match-self", "pkcs11:token=prod;object=payments-v3\npkcs11:token=prod;object=payments-v3;type=secret-key\nprod")
    put("pkcs11_uri", "tokens-bad", "pkcs11:token=x;object=y\npkcs11:object=y\npkcs11:object=z, , pkcs11:token=a;object=b")
    put("pkcs11_uri", "long", "pkcs11:token=" + "a" * 1100 + ";object=k\npkcs11:object=k\n")


def settings_seeds():
    sets = {
        "softhsm2": "pkcs11-module=/usr/lib/softhsm/libsofthsm2.so\npkcs11-pin-source=file:/etc/envelope/softhsm.pin\n",
        "hsm-and-kms": "pkcs11-module=/usr/lib/softhsm/libsofthsm2.so, /usr/lib/x86_64-linux-gnu/pkcs11/envelope-kms-pkcs11.so\n"
                       "pkcs11-pin-source=file:/etc/envelope/softhsm.pin\n"
                       "pkcs11-tokens=prod, pkcs11:token=kms?pin-source=file:/etc/envelope/kms.pin\nactivate=1\n",
        "tpm2": "tpm2-tcti=swtpm:host=127.0.0.1,port=2321\ntpm2-srk-name=000b1234\ntpm2-pin-source=env:TPM_PIN\n"
                "tpm2-handles=0x81000001, 0x81000002?pin-source=file:/etc/envelope/tpm.pin\n",
        "cache": "cache-ttl=300s\ncache-capacity=1000\nbreaker-window=5m\nrsa-pkcs1-v15=no\n",
        "durations": "cache-ttl=500ms\nbreaker-window=1h\ncache-capacity=0\n",
        "bad-duration": "cache-ttl=25h\nbreaker-window=-1\n",
        "bad-bool": "rsa-pkcs1-v15=maybe\nallow-extractable-kek=yes\n",
        "reuse": "dek-reuse-messages=1000\ndek-reuse-bytes=1073741824\ndek-reuse-seconds=300\ndek-partition-key=tenant\n",
        "reuse-bad": "dek-reuse-messages=4294967297\ndek-reuse-bytes=0\ndek-reuse-seconds=86401\n",
        "aliases": "pkcs11-module=/usr/lib/softhsm/libsofthsm2.so\n"
                   "kek.payments=pkcs11:token=prod;object=payments-v3\n"
                   "kek.payments.previous=pkcs11:token=prod;object=payments-v2, pkcs11:token=prod;object=payments-v1\n"
                   "kek.payments.retired=pkcs11:token=prod;object=payments-v0\n"
                   "kek.tpm=tpm2:handle=0x81000001\nkek-aliases=payments, tpm\n",
        "alias-missing": "kek-aliases=ghost\n",
        "alias-bad": "kek.pay ments=pkcs11:object=x\nkek.x.older=pkcs11:object=y\nkek.y=file:/etc/k.pem\n",
        "typo": "pkcs11-modul=/usr/lib/softhsm/libsofthsm2.so\n",
        "unknown": "frobnicate=1\n",
        "preference": "kek-preference=pkcs11:token=prod, tpm2:handle=0x81000001\n",
        "tokens-bad": "pkcs11-tokens=pkcs11:object=x, pkcs11:token=a?pin-value=1\n",
        "handles-bad": "tpm2-handles=0x80000001, 12, 0x81000001?foo=bar\n",
        "handles-each": "tpm2-pin-source=file:/etc/envelope/tpm.pin\n"
                        "tpm2-handles=0x81000002, tpm2:handle=0x81000003;pin-source=env:PIN3, 0x81000002, "
                        "0x81000001, tpm2:file=/k.tss, tpm2:handle=0x81000004;pcrs=sha256:7\n",
        "tokens-each": "pkcs11-pin-source=file:/etc/envelope/pin\n"
                       "pkcs11-tokens=prod, my token, pkcs11:serial=0123456789abcdef, bad;label, "
                       "pkcs11:token=a b, pkcs11:token=x;object=y, pkcs11:token=x?pin-value=1, "
                       "pkcs11:token=x?module-path=/m.so, pkcs11:model=M, pkcs11:token=x;frob=1, "
                       "pkcs11:token=%zz, pkcs11:token=kms?pin-source=file:/etc/envelope/kms.pin\n",
        "aliases-each": "kek-aliases=pay, ,tpm,bad name!\nkek.pay=pkcs11:token=prod;object=p3\n"
                        "kek.pay.previous=pkcs11:token=prod;object=p2,,pkcs11:token=prod;object=p1\n"
                        "kek.pay.retired=file:/etc/k.pem\nkek.tpm.retired=tpm2:handle=0x81000002\n"
                        "kek.x.previous=pkcs11:object=orphan\nkek.=pkcs11:object=z\n",
    }
    for k, v in sets.items():
        put("settings", k, v)


def kms_config_seeds():
    # the files fuzz_kms_config.c makes; /etc/envelope/... in the missing-* seeds
    fx = "/dev/shm/envelope-fuzz-kms"
    put("kms_config", "missing-files", "slots = kms\n[kms]\nlabel = kms\nendpoints = 127.0.0.1:5696\n"
        "ca-file = /etc/envelope/kms-ca.pem\ncert-file = /etc/envelope/client.pem\n"
        "key-file = /etc/envelope/client.key\n")
    base = ("slots = kms\n[kms]\nlabel = kms\nendpoints = 127.0.0.1:5696, 127.0.0.1:5697\n"
            f"ca-file = {fx}/ca.pem\ncert-file = {fx}/cert.pem\n"
            f"key-file = {fx}/key.pem\ntimeout-ms = 5000\n")
    put("kms_config", "example", base)
    put("kms_config", "full", base + "server-name = kms.example.com\npool-size = 4\nretries = 2\n")
    put("kms_config", "ipv6", "slots = a\n[a]\nlabel = a\nendpoints = [::1]:5696\n"
        f"ca-file = {fx}/ca.pem\ncert-file = {fx}/cert.pem\nkey-file = {fx}/key.pem\n")
    put("kms_config", "key-file-open", base.replace(f"{fx}/key.pem", f"{fx}/key-open.pem") + "\n")
    put("kms_config", "aws-full", "slots = aws\n[aws]\nprotocol = aws-kms\nlabel = aws\nregion = eu-west-1\n"
        f"endpoint = https://kms.eu-west-1.amazonaws.com\nca-file = {fx}/ca.pem\n"
        "keys = alias/payments,arn:aws:kms:eu-west-1:111122223333:alias/x, 1234abcd-12ab-34cd-56ef-1234567890ab\n"
        "profile = prod\ntimeout-ms = 3000\nretries = 3\npool-size = 2\n")
    put("kms_config", "aws-bad", "slots = aws\n[aws]\nprotocol = aws-kms\nlabel = aws\nregion = EU_WEST\n"
        "endpoint = http://kms.example.com\nkeys = ,alias/, arn:aws:kms:x\n")
    put("kms_config", "aws-endpoints", "slots = a, b, c\n[a]\nprotocol = aws-kms\nlabel = a\nregion = us-east-1\n"
        "endpoint = http://[::1]:4566\nkeys = alias/a\n[b]\nprotocol = aws-kms\nlabel = b\n"
        "region = us-east-1\nendpoint = https://\nkeys = alias/b\n[c]\nprotocol = smoke\nlabel = c\n")
    put("kms_config", "aws", "slots = aws\n[aws]\nprotocol = aws-kms\nlabel = aws\nregion = eu-west-1\n"
        "keys = alias/payments, arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\n"
        "profile = prod\ntimeout-ms = 3000\n")
    put("kms_config", "aws-endpoint", "slots = aws\n[aws]\nprotocol = aws-kms\nlabel = aws\nregion = us-east-1\n"
        f"endpoint = http://127.0.0.1:4566\nkeys = alias/a\nca-file = {fx}/ca.pem\n")
    put("kms_config", "two", base.replace("slots = kms", "slots = kms, aws") +
        "[aws]\nprotocol = aws-kms\nlabel = aws\nregion = eu-west-1\nkeys = alias/x\n")
    put("kms_config", "missing-slots", "[kms]\nlabel = kms\n")
    put("kms_config", "bad-endpoint", "slots = k\n[k]\nlabel = k\nendpoints = host:99999, :1, [::1\n")
    put("kms_config", "bad-number", base + "timeout-ms = -5\npool-size = 100000\n")
    put("kms_config", "unknown-key", base + "endpoint-list = x\n")
    put("kms_config", "syntax", "slots = k\n[k\nlabel\n")
    put("kms_config", "nine-slots", "slots = a b c d e f g h i\n")


def aws_creds_seeds():
    put("aws_creds_file", "default", "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    put("aws_creds_file", "session", "\x01[fuzz]\naws_access_key_id=ASIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\naws_session_token=IQoJb3JpZ2luX2VjEA==\n")
    put("aws_creds_file", "config", "# none here\n\n#--config--\n[profile other]\nregion = eu-west-1\n"
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = s3cr3t\n")
    put("aws_creds_file", "config-profile", "\x01\n#--config--\n[sso-session x]\naws_access_key_id = A\n"
        "[profile fuzz]\naws_access_key_id = AKIAFUZZ\naws_secret_access_key = k\n")
    put("aws_creds_file", "half", "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n; comment\n")
    put("aws_creds_file", "bad-akid", "[default]\naws_access_key_id = AKIA-not/alnum\naws_secret_access_key = k\n")
    put("aws_creds_file", "region-only", "[default]\nregion = eu-west-1\n")
    put("aws_creds_file", "unclosed", "[default\naws_access_key_id = A\n[default]  \n  aws_secret_access_key=\t k \n")


def aws_json_seeds():
    kid = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    answers = {
        "encrypt": '{"CiphertextBlob":"AQICAHh0ZXN0","KeyId":"%s","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}' % kid,
        "decrypt": '{"KeyId":"%s","Plaintext":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}' % kid,
        "create": '{"KeyMetadata":{"AWSAccountId":"111122223333","KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Arn":"%s","KeyState":"Enabled","KeyUsage":"ENCRYPT_DECRYPT","KeySpec":"SYMMETRIC_DEFAULT","Enabled":true}}' % kid,
        "describe-rsa": '{"KeyMetadata":{"KeyId":"k","KeyState":"PendingDeletion","KeyUsage":"ENCRYPT_DECRYPT","CustomerMasterKeySpec":"RSA_3072","EncryptionAlgorithms":["RSAES_OAEP_SHA_256"]}}',
        "public-key": '{"KeyId":"k","PublicKey":"MIIBojANBgkqhkiG9w0BAQEFAAOCAY8AMIIBigKCAYEA","KeySpec":"RSA_3072"}',
        "aliases": '{"Aliases":[{"AliasName":"alias/payments","TargetKeyId":"k1","AliasArn":"arn:aws:kms:eu-west-1:111122223333:alias/payments"},{"AliasName":"alias/aws/ebs","TargetKeyId":"k2"},{"AliasName":"alias/nokey"}],"Truncated":true,"NextMarker":"bWFya2Vy"}',
        "aliases-end": '{"Aliases":[],"Truncated":false}',
        "error-throttle": '{"__type":"com.amazonaws.kms#ThrottlingException","message":"Rate exceeded"}',
        "error-disabled": '{"__type":"DisabledException","Message":"key is disabled"}',
        "error-notfound": '{"__type":"NotFoundException:http://internal.amazon.com/coral/com.amazon.kms/","message":"Key not found"}',
        "error-access": '{"__type":"AccessDeniedException","message":"User is not authorized"}',
        "error-expired": '{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}',
        "error-invalid-ct": '{"__type":"InvalidCiphertextException"}',
        "sts": '{"AssumeRoleWithWebIdentityResponse":{"AssumeRoleWithWebIdentityResult":{"Credentials":{"AccessKeyId":"ASIAFUZZ","SecretAccessKey":"s","SessionToken":"t","Expiration":1.7e9}}}}',
        "sts-error": '{"Error":{"Code":"InvalidIdentityToken","Message":"no"}}',
        "container": '{"AccessKeyId":"ASIAFUZZ","SecretAccessKey":"s","Token":"t","Expiration":"2026-12-05T01:00:00Z"}',
        "imds-fraction": '{"Code":"Success","LastUpdated":"2026-12-04T22:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIA","SecretAccessKey":"s","Token":"t","Expiration":"2026-12-05T01:00:00.123+00:00"}',
        "imds-fail": '{"Code":"Failure","Message":"no role"}',
        "deep": "[" * 20 + "]" * 20,
        "trailing": '{"KeyId":"k"} x',
        "nul": '{"KeyId":"a\\u0000b"}',
    }
    for k, v in answers.items():
        put("aws_json", k, v)


header_seeds()
tpm_keyfile_seeds()
stream_seeds()
uri_seeds()
settings_seeds()
kms_config_seeds()
aws_creds_seeds()
aws_json_seeds()
