#!/usr/bin/python3
"""aws_keys.py ENDPOINT CA-FILE ALIAS SPEC... - creates KMS keys on the AWS
test server with boto3 (as the admin principal) and names them: each
ALIAS SPEC pair (SPEC: SYMMETRIC_DEFAULT, RSA_3072, RSA_4096) makes one key.
Prints "ALIAS KEYID" per key. Also: `disable ALIAS`, `schedule-deletion ALIAS`,
`public-key ALIAS PEM-FILE`."""
import sys

import boto3
from cryptography.hazmat.primitives import serialization

endpoint, ca = sys.argv[1:3]
c = boto3.client("kms", endpoint_url=endpoint, region_name="eu-west-1", verify=ca,
                 aws_access_key_id="AKIDADMIN",
                 aws_secret_access_key="adminSecretKey/+0123456789abcdefghijklmno")
args = sys.argv[3:]
if args[0] == "disable":
    c.disable_key(KeyId=args[1])
elif args[0] == "schedule-deletion":
    c.schedule_key_deletion(KeyId=args[1], PendingWindowInDays=7)
elif args[0] == "public-key":
    der = c.get_public_key(KeyId=args[1])["PublicKey"]
    pem = serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(args[2], "wb") as f:
        f.write(pem)
else:
    for alias, spec in zip(args[0::2], args[1::2]):
        kid = c.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
        c.create_alias(AliasName=alias, TargetKeyId=kid)
        print(alias, kid)
