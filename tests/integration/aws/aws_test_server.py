#!/usr/bin/python3
"""aws_test_server.py - a loopback AWS-KMS-compatible test server (not a KMS).

It speaks the AWS JSON 1.1 protocol of KMS (X-Amz-Target: TrentService.<Op>)
over TLS, holds its keys in a JSON state file, does real AES-256-GCM and
RSA-OAEP (python3-cryptography), enforces a key policy per access key, returns
the service's error shapes ({"__type", "message"}), can throttle or fail on
demand, and verifies every request's SigV4 signature with botocore's own
signer (botocore.auth.SigV4Auth: the canonical request, string to sign and
signature are recomputed from the request as received and the secret the
server knows, then compared in constant time).

Next to it, on the same TLS port, an STS endpoint
(AssumeRoleWithWebIdentity, JSON or XML answers), and on a plain-HTTP port a
container credentials endpoint (/container/creds) and an EC2 instance
metadata endpoint with IMDSv2 (/latest/...), plus the test controls
(/_test/...: throttle, fail, stats, expire), all on 127.0.0.1.

Usage: aws_test_server.py --dir DIR --config CONFIG.json
  DIR receives cert.pem/key.pem/ca.pem (made on first start), ports.json
  ({"tls": N, "http": M}) once listening, state.json (the keys), log.txt.

CONFIG.json:
  {"account": "111122223333", "region": "eu-west-1",
   "principals": {"AKID": {"secret": "...", "name": "alice",
                  "allow": [{"resource": "*" | "alias/x" | key id, "actions": ["kms:Encrypt", ...],
                             "context": {"k": "v"}}]}},
   "roles": {"arn:aws:iam::111122223333:role/r": {"allow": [...]}},
   "web_identity_token": "...", "container_token": "...", "role_for_container": "arn...",
   "role_for_imds": "arn...", "session_seconds": 900}
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import secrets
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

BLOB_MAGIC = b"ETS1"  # this test server's ciphertext blob: magic, key id, IV, GCM output
LOCK = threading.RLock()


class KmsError(Exception):
    def __init__(self, type_, message, status=400):
        super().__init__(message)
        self.type = type_
        self.message = message
        self.status = status


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- certificates ----------------------------------------------------------

def make_certs(d, name):
    """A CA and a server certificate for 127.0.0.1/localhost/::1 (prefix name)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "envelope AWS test server CA " + name)])
    t0 = now_utc() - datetime.timedelta(minutes=5)
    ca = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(t0).not_valid_after(t0 + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kms.test")]))
            .issuer_name(subj).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(t0).not_valid_after(t0 + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    with open(os.path.join(d, name + "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(d, name + "cert.pem"), "wb") as f:
        f.write(cert.public_bytes(pem))
    fd = os.open(os.path.join(d, name + "key.pem"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


# ---- state -----------------------------------------------------------------

class State:
    """Keys and aliases, saved to state.json after every change (restarts keep them)."""

    def __init__(self, path, cfg):
        self.path = path
        self.cfg = cfg
        self.keys = {}
        self.aliases = {}
        if os.path.exists(path):
            with open(path) as f:
                s = json.load(f)
            self.keys, self.aliases = s["keys"], s["aliases"]
        self.sessions = {}  # temporary access key id -> {secret, token, expires, role}
        self.counts = {}
        self.throttle = 0  # answer the next N KMS calls with ThrottlingException
        self.fail_status = 0  # ... or with this 5xx
        self.fail_count = 0
        self.wrong_key_answers = 0  # answer the next N Decrypts naming another key
        self.delay_s = 0.0  # sleep before every KMS answer

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"keys": self.keys, "aliases": self.aliases}, f)
        os.replace(tmp, self.path)

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def arn(self, key_id):
        return "arn:aws:kms:%s:%s:key/%s" % (self.cfg["region"], self.cfg["account"], key_id)

    def resolve(self, key_ref):
        """KeyId forms: key id, key ARN, alias/name, alias ARN."""
        if not isinstance(key_ref, str) or not 1 <= len(key_ref) <= 2048:
            raise KmsError("ValidationException", "1 validation error detected: Value at 'keyId' "
                           "failed to satisfy constraint: Member must have length between 1 and 2048")
        prefix = "arn:aws:kms:%s:%s:" % (self.cfg["region"], self.cfg["account"])
        ref = key_ref[len(prefix):] if key_ref.startswith(prefix) else key_ref
        if ref.startswith("alias/"):
            kid = self.aliases.get(ref)
            if kid is None:
                raise KmsError("NotFoundException", "Alias %s%s is not found." % (prefix, ref))
        elif ref.startswith("key/"):
            kid = ref[4:]
        else:
            kid = ref
        k = self.keys.get(kid)
        if k is None:
            raise KmsError("NotFoundException", "Key '%s' does not exist" % self.arn(kid))
        return kid, k


# ---- SigV4 verification (botocore's signer) ---------------------------------

def verify_sigv4(state, method, path, headers, body, service):
    """Returns the principal (its policy) or raises the service's error."""
    auth = headers.get("authorization")
    if not auth:
        raise KmsError("MissingAuthenticationTokenException", "Missing Authentication Token")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise KmsError("IncompleteSignatureException", "Unsupported signature algorithm")
    fields = {}
    for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    try:
        akid, date, region, svc, term = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        got_sig = fields["Signature"]
    except (KeyError, ValueError):
        raise KmsError("IncompleteSignatureException", "Authorization header requires "
                       "'Credential', 'SignedHeaders' and 'Signature'")
    amz_date = headers.get("x-amz-date", "")
    if "host" not in signed or "x-amz-date" not in signed or term != "aws4_request" \
            or svc != service or region != state.cfg["region"] or amz_date[:8] != date:
        raise KmsError("InvalidSignatureException", "Credential should be scoped to a valid "
                       "region and service, and sign host and x-amz-date")
    try:
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise KmsError("InvalidSignatureException", "X-Amz-Date is malformed")
    if abs((now_utc() - t).total_seconds()) > 300:
        raise KmsError("InvalidSignatureException", "Signature expired: %s is now earlier than "
                       "the allowed window" % amz_date)
    token = headers.get("x-amz-security-token")
    principal = state.cfg["principals"].get(akid)
    secret = None
    if principal is not None:
        secret = principal["secret"]
    else:
        sess = state.sessions.get(akid)
        if sess is None:
            raise KmsError("UnrecognizedClientException", "The security token included in the "
                           "request is invalid.")
        if token is None or not hmac.compare_digest(token, sess["token"]):
            raise KmsError("UnrecognizedClientException", "The security token included in the "
                           "request is invalid.")
        if time.time() >= sess["expires"]:
            raise KmsError("ExpiredTokenException", "The security token included in the request "
                           "is expired")
        secret = sess["secret"]
        principal = dict(state.cfg["roles"][sess["role"]], name=sess["role"])
    # What botocore signs: exactly the headers the client says it signed.
    hdrs = {h: headers[h] for h in signed if h in headers}
    if len(hdrs) != len(signed):
        raise KmsError("InvalidSignatureException", "A signed header is missing from the request")
    req = AWSRequest(method=method, url="https://%s%s" % (headers["host"], path), data=body,
                     headers=hdrs)
    req.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(akid, secret, token), service, region)
    canonical = signer.canonical_request(req)
    want = signer.signature(signer.string_to_sign(req, canonical), req)
    if not hmac.compare_digest(want, got_sig):
        raise KmsError("InvalidSignatureException", "The request signature we calculated does not "
                       "match the signature you provided. Check your AWS Secret Access Key and "
                       "signing method. Consult the service documentation for details.")
    return akid, principal


def allowed(state, principal, action, kid, context):
    for rule in principal.get("allow", []):
        res = rule.get("resource", "*")
        if res != "*":
            rk = state.aliases.get(res) if res.startswith("alias/") else res
            if rk != kid:
                continue
        if action not in rule.get("actions", []) and "kms:*" not in rule.get("actions", []):
            continue
        need = rule.get("context")  # kms:EncryptionContext:<k> conditions
        if need is not None and any((context or {}).get(k) != v for k, v in need.items()):
            continue
        return True
    return False


def deny(state, principal, action, kid):
    raise KmsError("AccessDeniedException", "User: arn:aws:iam::%s:user/%s is not authorized to "
                   "perform: %s on resource: %s because no identity-based policy allows the %s "
                   "action" % (state.cfg["account"], principal.get("name", "?"), action,
                               state.arn(kid) if kid else "*", action))


# ---- KMS operations --------------------------------------------------------

def b64(data):
    return base64.b64encode(data).decode()


def unb64(s, what):
    try:
        return base64.b64decode(s, validate=True)
    except Exception:
        raise KmsError("SerializationException", "%s is not base64" % what)


def aad_of(context):
    if context is None:
        return b""
    if not isinstance(context, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in context.items()):
        raise KmsError("ValidationException", "EncryptionContext must map strings to strings")
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


def check_state(state, kid, k):
    st = k["state"]
    if st == "Disabled":
        raise KmsError("DisabledException", "%s is disabled." % state.arn(kid))
    if st != "Enabled":
        raise KmsError("KMSInvalidStateException", "%s is pending deletion." % state.arn(kid)
                       if st == "PendingDeletion" else "%s is %s." % (state.arn(kid), st))


def key_metadata(state, kid, k):
    md = {"AWSAccountId": state.cfg["account"], "KeyId": kid, "Arn": state.arn(kid),
          "CreationDate": k["created"], "Enabled": k["state"] == "Enabled",
          "Description": k.get("description", ""), "KeyUsage": "ENCRYPT_DECRYPT",
          "KeyState": k["state"], "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
          "CustomerMasterKeySpec": k["spec"], "KeySpec": k["spec"], "MultiRegion": False}
    md["EncryptionAlgorithms"] = (["SYMMETRIC_DEFAULT"] if k["spec"] == "SYMMETRIC_DEFAULT"
                                  else ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
    if k["state"] == "PendingDeletion":
        md["DeletionDate"] = k.get("deletion", k["created"])
    return md


def rsa_key(k):
    return serialization.load_pem_private_key(k["material"].encode(), None)


def oaep(alg):
    h = {"RSAES_OAEP_SHA_1": hashes.SHA1(), "RSAES_OAEP_SHA_256": hashes.SHA256()}.get(alg)
    if h is None:
        raise KmsError("InvalidKeyUsageException", "EncryptionAlgorithm %s is not supported for "
                       "this key" % alg)
    return padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)


def op_create_key(state, p, body):
    spec = body.get("KeySpec", body.get("CustomerMasterKeySpec", "SYMMETRIC_DEFAULT"))
    if body.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        raise KmsError("ValidationException", "this test server makes ENCRYPT_DECRYPT keys only")
    if not allowed(state, p, "kms:CreateKey", None, None):
        deny(state, p, "kms:CreateKey", None)
    kid = str(uuid.uuid4())
    k = {"spec": spec, "state": "Enabled", "created": time.time(),
         "description": body.get("Description", "")}
    if spec == "SYMMETRIC_DEFAULT":
        k["material"] = b64(secrets.token_bytes(32))
    elif spec in ("RSA_2048", "RSA_3072", "RSA_4096"):
        priv = rsa.generate_private_key(65537, int(spec[4:]))
        k["material"] = priv.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()).decode()
    else:
        raise KmsError("ValidationException", "KeySpec %s is not supported here" % spec)
    state.keys[kid] = k
    state.save()
    return {"KeyMetadata": key_metadata(state, kid, k)}


def op_create_alias(state, p, body):
    name, target = body.get("AliasName", ""), body.get("TargetKeyId", "")
    if not name.startswith("alias/") or name.startswith("alias/aws/") or len(name) > 256:
        raise KmsError("ValidationException", "AliasName must begin with alias/ (not alias/aws/)")
    kid, _ = state.resolve(target)
    if not allowed(state, p, "kms:CreateAlias", kid, None):
        deny(state, p, "kms:CreateAlias", kid)
    if name in state.aliases:
        raise KmsError("AlreadyExistsException", "An alias with the name %s already exists"
                       % state.arn(name).replace("key/", ""))
    state.aliases[name] = kid
    state.save()
    return {}


def op_list_aliases(state, p, body):
    if not allowed(state, p, "kms:ListAliases", None, None):
        deny(state, p, "kms:ListAliases", None)
    limit = int(body.get("Limit", 100))
    names = sorted(state.aliases)
    start = int(body.get("Marker", "0") or 0)
    page = names[start:start + limit]
    out = {"Aliases": [{"AliasName": n, "AliasArn": "arn:aws:kms:%s:%s:%s" % (
        state.cfg["region"], state.cfg["account"], n), "TargetKeyId": state.aliases[n]}
        for n in page], "Truncated": start + limit < len(names)}
    if out["Truncated"]:
        out["NextMarker"] = str(start + limit)
    return out


def op_describe_key(state, p, body):
    kid, k = state.resolve(body.get("KeyId"))
    if not allowed(state, p, "kms:DescribeKey", kid, None):
        deny(state, p, "kms:DescribeKey", kid)
    return {"KeyMetadata": key_metadata(state, kid, k)}


def op_get_public_key(state, p, body):
    kid, k = state.resolve(body.get("KeyId"))
    if not allowed(state, p, "kms:GetPublicKey", kid, None):
        deny(state, p, "kms:GetPublicKey", kid)
    check_state(state, kid, k)
    if k["spec"] == "SYMMETRIC_DEFAULT":
        raise KmsError("UnsupportedOperationException", "%s key usage is not supported for this "
                       "operation: it is a symmetric key" % state.arn(kid))
    der = rsa_key(k).public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"KeyId": state.arn(kid), "PublicKey": b64(der), "KeySpec": k["spec"],
            "CustomerMasterKeySpec": k["spec"], "KeyUsage": "ENCRYPT_DECRYPT",
            "EncryptionAlgorithms": ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]}


def op_encrypt(state, p, body):
    kid, k = state.resolve(body.get("KeyId"))
    ctx = body.get("EncryptionContext")
    aad = aad_of(ctx)
    if not allowed(state, p, "kms:Encrypt", kid, ctx):
        deny(state, p, "kms:Encrypt", kid)
    check_state(state, kid, k)
    pt = unb64(body.get("Plaintext", ""), "Plaintext")
    if not 1 <= len(pt) <= 4096:
        raise KmsError("ValidationException", "Plaintext must be 1..4096 bytes")
    alg = body.get("EncryptionAlgorithm", "SYMMETRIC_DEFAULT")
    if k["spec"] == "SYMMETRIC_DEFAULT":
        if alg != "SYMMETRIC_DEFAULT":
            raise KmsError("InvalidKeyUsageException", "EncryptionAlgorithm %s is not supported "
                           "for this key" % alg)
        iv = secrets.token_bytes(12)
        head = BLOB_MAGIC + kid.encode()
        blob = head + iv + AESGCM(base64.b64decode(k["material"])).encrypt(iv, pt, head + aad)
    else:
        blob = rsa_key(k).public_key().encrypt(pt, oaep(alg))
    return {"CiphertextBlob": b64(blob), "KeyId": state.arn(kid), "EncryptionAlgorithm": alg}


def op_decrypt(state, p, body):
    blob = unb64(body.get("CiphertextBlob", ""), "CiphertextBlob")
    ctx = body.get("EncryptionContext")
    aad = aad_of(ctx)
    alg = body.get("EncryptionAlgorithm", "SYMMETRIC_DEFAULT")
    if "KeyId" in body:
        kid, k = state.resolve(body["KeyId"])
    elif blob[:4] == BLOB_MAGIC and len(blob) > 40:
        kid, k = state.resolve(blob[4:40].decode(errors="replace"))
    else:
        raise KmsError("InvalidCiphertextException", "")
    if not allowed(state, p, "kms:Decrypt", kid, ctx):
        deny(state, p, "kms:Decrypt", kid)
    check_state(state, kid, k)
    if k["spec"] == "SYMMETRIC_DEFAULT":
        if alg != "SYMMETRIC_DEFAULT":
            raise KmsError("InvalidKeyUsageException", "EncryptionAlgorithm %s is not supported "
                           "for this key" % alg)
        if len(blob) < 4 + 36 + 12 + 16 or blob[:4] != BLOB_MAGIC:
            raise KmsError("InvalidCiphertextException", "")
        if blob[4:40].decode(errors="replace") != kid:
            raise KmsError("IncorrectKeyException", "The key ID in the request does not identify "
                           "a CMK that can perform this operation.")
        head, iv = blob[:40], blob[40:52]
        try:
            pt = AESGCM(base64.b64decode(k["material"])).decrypt(iv, blob[52:], head + aad)
        except Exception:
            raise KmsError("InvalidCiphertextException", "")
    else:
        try:
            pt = rsa_key(k).decrypt(blob, oaep(alg))
        except KmsError:
            raise
        except Exception:
            raise KmsError("InvalidCiphertextException", "")
    return {"KeyId": state.arn(kid), "Plaintext": b64(pt), "EncryptionAlgorithm": alg}


def op_set_state(new):
    def op(state, p, body):
        kid, k = state.resolve(body.get("KeyId"))
        action = {"Enabled": "kms:EnableKey", "Disabled": "kms:DisableKey",
                  "PendingDeletion": "kms:ScheduleKeyDeletion"}[new]
        if not allowed(state, p, action, kid, None):
            deny(state, p, action, kid)
        k["state"] = new
        if new == "PendingDeletion":
            k["deletion"] = time.time() + 86400 * int(body.get("PendingWindowInDays", 30))
        state.save()
        if new == "PendingDeletion":
            return {"KeyId": state.arn(kid), "DeletionDate": k["deletion"],
                    "KeyState": "PendingDeletion", "PendingWindowInDays":
                    int(body.get("PendingWindowInDays", 30))}
        return {}
    return op


OPS = {"CreateKey": op_create_key, "CreateAlias": op_create_alias, "ListAliases": op_list_aliases,
       "DescribeKey": op_describe_key, "GetPublicKey": op_get_public_key, "Encrypt": op_encrypt,
       "Decrypt": op_decrypt, "EnableKey": op_set_state("Enabled"),
       "DisableKey": op_set_state("Disabled"),
       "ScheduleKeyDeletion": op_set_state("PendingDeletion")}


# ---- STS and the credential endpoints --------------------------------------

def issue_session(state, role):
    akid = "ASIA" + secrets.token_hex(8).upper()
    sess = {"secret": b64(secrets.token_bytes(30)), "token": b64(secrets.token_bytes(96)),
            "expires": time.time() + int(state.cfg.get("session_seconds", 900)), "role": role}
    state.sessions[akid] = sess
    return akid, sess


def sts_answer(state, form, want_json):
    action = form.get("Action")
    if action != "AssumeRoleWithWebIdentity" or form.get("Version") != "2011-06-15":
        raise KmsError("InvalidAction", "Could not find operation %s for version %s"
                       % (action, form.get("Version")))
    role = form.get("RoleArn", "")
    if role not in state.cfg.get("roles", {}):
        raise KmsError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    tok = form.get("WebIdentityToken", "")
    if not hmac.compare_digest(tok, state.cfg.get("web_identity_token", "\0")):
        raise KmsError("InvalidIdentityToken", "Couldn't retrieve verification key from your "
                       "identity provider")
    state.count("sts")
    akid, s = issue_session(state, role)
    exp = datetime.datetime.fromtimestamp(s["expires"], datetime.timezone.utc)
    if want_json:
        return json.dumps({"AssumeRoleWithWebIdentityResponse": {
            "AssumeRoleWithWebIdentityResult": {
                "Credentials": {"AccessKeyId": akid, "SecretAccessKey": s["secret"],
                                "SessionToken": s["token"], "Expiration": s["expires"]},
                "AssumedRoleUser": {"Arn": role + "/" + form.get("RoleSessionName", ""),
                                    "AssumedRoleId": "AROA:" + form.get("RoleSessionName", "")},
                "SubjectFromWebIdentityToken": "system:serviceaccount:test"},
            "ResponseMetadata": {"RequestId": str(uuid.uuid4())}}}), "application/json"
    xml = ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
           "<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>%s</AccessKeyId>"
           "<SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken>"
           "<Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>%s</Arn>"
           "<AssumedRoleId>AROA:%s</AssumedRoleId></AssumedRoleUser>"
           "<SubjectFromWebIdentityToken>system:serviceaccount:test</SubjectFromWebIdentityToken>"
           "</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>%s</RequestId>"
           "</ResponseMetadata></AssumeRoleWithWebIdentityResponse>"
           % (akid, s["secret"], s["token"], iso(exp), role, form.get("RoleSessionName", ""),
              uuid.uuid4()))
    return xml, "text/xml"


def creds_json(state, role, what):
    state.count(what)
    akid, s = issue_session(state, role)
    exp = datetime.datetime.fromtimestamp(s["expires"], datetime.timezone.utc)
    return json.dumps({"Code": "Success", "LastUpdated": iso(now_utc()), "Type": "AWS-HMAC",
                       "AccessKeyId": akid, "SecretAccessKey": s["secret"], "Token": s["token"],
                       "Expiration": iso(exp), "RoleArn": role})


# ---- HTTP ------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as AWS endpoints do
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle and
    # the client's delayed ACK add 40 ms to every answer.
    disable_nagle_algorithm = True
    server_version = "envelope-aws-test-server"

    def log_message(self, fmt, *args):
        with LOCK:
            self.server.log.write("%s %s\n" % (iso(now_utc()), fmt % args))
            self.server.log.flush()

    def reply(self, status, body, ctype="application/x-amz-json-1.1"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def error(self, e):
        with LOCK:
            self.server.state.count("error:" + e.type)
        self.reply(e.status, json.dumps({"__type": e.type, "message": e.message}))

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        if n > (1 << 20):
            raise KmsError("SerializationException", "request too large", 413)
        return self.rfile.read(n)

    def lower_headers(self):
        return {k.lower(): v for k, v in self.headers.items()}

    def do_POST(self):
        st = self.server.state
        try:
            body = self.body()
            if self.server.tls:
                self.tls_post(st, body)
            else:
                self.control(st, body)
        except KmsError as e:
            self.error(e)

    def tls_post(self, st, body):
        h = self.lower_headers()
        target = h.get("x-amz-target", "")
        if not target:  # STS: form-encoded query protocol, unsigned for this action
            form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
            want_json = "application/json" in h.get("accept", "")
            try:
                with LOCK:
                    out, ctype = sts_answer(st, form, want_json)
                self.reply(200, out, ctype)
            except KmsError as e:
                if want_json:
                    self.reply(400, json.dumps({"Error": {"Code": e.type, "Message": e.message,
                                                          "Type": "Sender"}}), "application/json")
                else:
                    self.reply(400, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code>"
                               "<Message>%s</Message></Error></ErrorResponse>"
                               % (e.type, e.message), "text/xml")
            return
        if not target.startswith("TrentService."):
            raise KmsError("UnknownOperationException", "")
        op = target[len("TrentService."):]
        if h.get("content-type") != "application/x-amz-json-1.1":
            raise KmsError("SerializationException", "Content-Type must be "
                           "application/x-amz-json-1.1")
        delay = st.delay_s  # answer late on demand (the test kills the server meanwhile)
        if delay > 0:
            time.sleep(delay)
        with LOCK:
            akid, principal = verify_sigv4(st, "POST", self.path, h, body, "kms")
            st.count("kms")
            st.count("kms:" + op)
            if st.throttle > 0:
                st.throttle -= 1
                st.count("throttled")
                raise KmsError("ThrottlingException", "Rate exceeded")
            if st.fail_count > 0:
                st.fail_count -= 1
                st.count("failed")
                raise KmsError("KMSInternalException", "internal error (injected by the test)",
                               st.fail_status)
            fn = OPS.get(op)
            if fn is None:
                raise KmsError("UnknownOperationException", "")
            try:
                req = json.loads(body or b"{}")
            except ValueError:
                raise KmsError("SerializationException", "Start of structure or map found where "
                               "not expected")
            if not isinstance(req, dict):
                raise KmsError("SerializationException", "the body is not a JSON object")
            out = fn(st, principal, req)
            if op == "Decrypt" and st.wrong_key_answers > 0:
                # fault injection: an answer that names another key
                st.wrong_key_answers -= 1
                out["KeyId"] = st.arn(str(uuid.uuid4()))
        self.reply(200, json.dumps(out))

    def control(self, st, body):
        """Plain-HTTP port: test controls."""
        args = json.loads(body or b"{}")
        with LOCK:
            if self.path == "/_test/throttle":
                st.throttle = int(args.get("count", 0))
            elif self.path == "/_test/fail":
                st.fail_status, st.fail_count = int(args.get("status", 500)), int(args.get("count", 0))
            elif self.path == "/_test/expire":  # every temporary credential expires now
                for s in st.sessions.values():
                    s["expires"] = 0
            elif self.path == "/_test/delay":
                st.delay_s = float(args.get("seconds", 0))
            elif self.path == "/_test/wrong-key-answer":
                st.wrong_key_answers = int(args.get("count", 1))
            elif self.path == "/_test/reset-stats":
                st.counts = {}
            else:
                raise KmsError("NotFound", self.path, 404)
        self.reply(200, "{}", "application/json")

    def do_PUT(self):
        st = self.server.state
        if self.server.tls or self.path != "/latest/api/token":
            return self.reply(404, "", "text/plain")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400, "", "text/plain")
        self.body()
        tok = b64(secrets.token_bytes(40))
        with LOCK:
            st.imds_tokens = getattr(st, "imds_tokens", {})
            st.imds_tokens[tok] = time.time() + int(ttl)
            st.count("imds-token")
        self.reply(200, tok, "text/plain")

    def do_GET(self):
        st = self.server.state
        if self.server.tls:
            return self.reply(404, "", "text/plain")
        with LOCK:
            if self.path == "/_test/stats":
                return self.reply(200, json.dumps(st.counts), "application/json")
            if self.path == "/container/creds":
                want = st.cfg.get("container_token")
                got = self.headers.get("Authorization", "")
                if want is None or not hmac.compare_digest(got, want):
                    return self.reply(401, json.dumps({"code": "AccessDenied"}), "application/json")
                return self.reply(200, creds_json(st, st.cfg["role_for_container"], "container"),
                                  "application/json")
            if self.path.startswith("/latest/"):
                tok = self.headers.get("X-aws-ec2-metadata-token", "")
                if getattr(st, "imds_tokens", {}).get(tok, 0) < time.time():
                    return self.reply(401, "", "text/plain")  # IMDSv1 refused
                role = st.cfg.get("role_for_imds", "")
                name = role.rsplit("/", 1)[-1]
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    return self.reply(200, name, "text/plain")
                if self.path == base + name:
                    return self.reply(200, creds_json(st, role, "imds"), "text/plain")
        self.reply(404, "", "text/plain")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Server6(Server):
    address_family = socket.AF_INET6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--tls-port", type=int, default=0)
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--cert-prefix", default="", help="serve the certificate DIR/PREFIXcert.pem")
    ap.add_argument("--tls-host", default="127.0.0.1", help="127.0.0.1, or ::1 for IPv6")
    a = ap.parse_args()
    with open(a.config) as f:
        cfg = json.load(f)
    if not os.path.exists(os.path.join(a.dir, a.cert_prefix + "cert.pem")):
        make_certs(a.dir, a.cert_prefix)
    state = State(os.path.join(a.dir, "state.json"), cfg)
    log = open(os.path.join(a.dir, "log.txt"), "a")
    if ":" in a.tls_host:
        tls = Server6((a.tls_host, a.tls_port), Handler)
    else:
        tls = Server((a.tls_host, a.tls_port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(a.dir, a.cert_prefix + "cert.pem"),
                        os.path.join(a.dir, a.cert_prefix + "key.pem"))
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    plain = Server(("127.0.0.1", a.http_port), Handler)
    for s, is_tls in ((tls, True), (plain, False)):
        s.state, s.log, s.tls = state, log, is_tls
        threading.Thread(target=s.serve_forever, daemon=True).start()
    ports = {"tls": tls.server_address[1], "http": plain.server_address[1]}
    tmp = os.path.join(a.dir, "ports.json.tmp")
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.replace(tmp, os.path.join(a.dir, "ports.json"))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
