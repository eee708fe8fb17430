#!/usr/bin/python3
"""boto3_fidelity.py ENDPOINT CA-FILE STS-TOKEN - drives the AWS test server
with AWS's own SDK (Debian's python3-boto3): every operation the bridge uses,
the error shapes botocore must recognise, SigV4 refusals, throttling with and
without the SDK's retries, STS AssumeRoleWithWebIdentity (XML) and the
session credentials it issues. Exits non-zero on the first mismatch."""
import base64
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

endpoint, ca, web_token, ctl = sys.argv[1:5]
REGION = "eu-west-1"


def kms(akid="AKIDADMIN", secret="adminSecretKey/+0123456789abcdefghijklmno", token=None,
        retries=1):
    return boto3.client("kms", endpoint_url=endpoint, region_name=REGION, verify=ca,
                        aws_access_key_id=akid, aws_secret_access_key=secret,
                        aws_session_token=token,
                        config=botocore.config.Config(retries={"total_max_attempts": retries,
                                                               "mode": "standard"}))


def expect_error(code, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        if got != code:
            sys.exit("expected %s, got %s (%s)" % (code, got, e.response["Error"]))
        return e
    sys.exit("expected %s, got success" % code)


def control(path, body):
    import urllib.request
    req = urllib.request.Request(ctl + path, data=body.encode(), method="POST")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req) as r:
        r.read()


c = kms()
key = c.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT",
                   Description="fidelity")["KeyMetadata"]
assert key["KeySpec"] == "SYMMETRIC_DEFAULT" and key["Arn"].endswith(key["KeyId"]), key
c.create_alias(AliasName="alias/fidelity", TargetKeyId=key["KeyId"])
expect_error("AlreadyExistsException", c.create_alias, AliasName="alias/fidelity",
             TargetKeyId=key["KeyId"])
names = [a["AliasName"] for a in c.list_aliases()["Aliases"]]
assert "alias/fidelity" in names, names
d = c.describe_key(KeyId="alias/fidelity")["KeyMetadata"]
assert d["KeyId"] == key["KeyId"] and d["KeyState"] == "Enabled", d
ctx = {"tenant": "a", "purpose": "fidelity"}
enc = c.encrypt(KeyId="alias/fidelity", Plaintext=b"\x01" * 32, EncryptionContext=ctx)
assert enc["KeyId"] == key["Arn"], enc
dec = c.decrypt(KeyId=key["Arn"], CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)
assert dec["Plaintext"] == b"\x01" * 32 and dec["KeyId"] == key["Arn"], dec
expect_error("InvalidCiphertextException", c.decrypt, KeyId=key["Arn"],
             CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"tenant": "b"})
other = c.create_key()["KeyMetadata"]
expect_error("IncorrectKeyException", c.decrypt, KeyId=other["KeyId"],
             CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)
expect_error("NotFoundException", c.describe_key, KeyId="alias/nosuch")
expect_error("ValidationException", c.describe_key, KeyId="x" * 2049)

# RSA: the public key from GetPublicKey encrypts, the server decrypts (OAEP SHA-1 and SHA-256)
rk = c.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
pub = c.get_public_key(KeyId=rk["KeyId"])
assert pub["KeySpec"] == "RSA_3072" and "RSAES_OAEP_SHA_256" in pub["EncryptionAlgorithms"], pub
pk = serialization.load_der_public_key(pub["PublicKey"])
for alg, h in (("RSAES_OAEP_SHA_1", hashes.SHA1()), ("RSAES_OAEP_SHA_256", hashes.SHA256())):
    ct = pk.encrypt(b"dek" * 10, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
    out = c.decrypt(KeyId=rk["KeyId"], CiphertextBlob=ct, EncryptionAlgorithm=alg)
    assert out["Plaintext"] == b"dek" * 10, alg
expect_error("UnsupportedOperationException", c.get_public_key, KeyId=key["KeyId"])

# the key policy per access key
r = kms("AKIDREADER", "readerSecretKey/+0123456789abcdefghijklm")
r.describe_key(KeyId="alias/fidelity")
e = expect_error("AccessDeniedException", r.encrypt, KeyId="alias/fidelity", Plaintext=b"x")
assert "is not authorized to perform: kms:Encrypt" in e.response["Error"]["Message"], e.response

# SigV4 is checked: a wrong secret, an unknown key id
expect_error("InvalidSignatureException", kms(secret="wrong").describe_key, KeyId=key["KeyId"])
expect_error("UnrecognizedClientException", kms(akid="AKIDNOSUCH").describe_key,
             KeyId=key["KeyId"])

# key states
c.disable_key(KeyId=other["KeyId"])
expect_error("DisabledException", c.encrypt, KeyId=other["KeyId"], Plaintext=b"x")
c.schedule_key_deletion(KeyId=other["KeyId"], PendingWindowInDays=7)
expect_error("KMSInvalidStateException", c.encrypt, KeyId=other["KeyId"], Plaintext=b"x")

# throttling: seen as ThrottlingException without retries, absorbed by the SDK's retries
control("/_test/throttle", '{"count": 1}')
expect_error("ThrottlingException", c.describe_key, KeyId=key["KeyId"])
control("/_test/throttle", '{"count": 2}')
kms(retries=4).describe_key(KeyId=key["KeyId"])
control("/_test/fail", '{"status": 500, "count": 1}')
expect_error("KMSInternalException", c.describe_key, KeyId=key["KeyId"])

# STS (XML, as boto3 reads it) and its session credentials
sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION, verify=ca,
                   aws_access_key_id="unused", aws_secret_access_key="unused")
cr = sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::111122223333:role/envelope-kek",
                                       RoleSessionName="fidelity",
                                       WebIdentityToken=web_token)["Credentials"]
s = kms(cr["AccessKeyId"], cr["SecretAccessKey"], cr["SessionToken"])
s.describe_key(KeyId=key["KeyId"])
expect_error("UnrecognizedClientException",
             kms(cr["AccessKeyId"], cr["SecretAccessKey"], "forged").describe_key,
             KeyId=key["KeyId"])
expect_error("InvalidIdentityToken", sts.assume_role_with_web_identity,
             RoleArn="arn:aws:iam::111122223333:role/envelope-kek", RoleSessionName="xx",
             WebIdentityToken="forged")
control("/_test/expire", "{}")
expect_error("ExpiredTokenException", s.describe_key, KeyId=key["KeyId"])
print("boto3 fidelity: all operations and error shapes as the SDK expects")
