#!/usr/bin/python3
"""in_token_rewrap.py [PKCS11_MODULE] - can a token rewrap a DEK without
it ever leaving the token? Measured, not assumed: for each wrapped-DEK form
the envelope provider writes (docs/WRAP-BLOB.md: kind 1 AES-256-GCM made
with C_Encrypt, kind 2 RSA-OAEP with the AAD as label or, binding 2, the AAD
hash inside the payload), it asks the token to C_UnwrapKey the blob into a
session object and to C_WrapKey that object under a second KEK, and prints
each call's return value. A step "works" only if the result is right: an
unwrapped value is compared with the DEK (a test-only extractable copy) and
a wrong AAD must be refused.

Default module: SoftHSM2 (/usr/lib/softhsm/libsofthsm2.so), in a private
token under a temp folder. Needs python3-pykcs11 and python3-cryptography.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import PyKCS11
from PyKCS11 import LowLevel as LL
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MODULE = sys.argv[1] if len(sys.argv) > 1 else "/usr/lib/softhsm/libsofthsm2.so"
PIN = "1234"


def rv_name(e):
    return PyKCS11.CKR[e.value] if isinstance(e, PyKCS11.PyKCS11Error) else repr(e)


def attempt(what, fn):
    try:
        out = fn()
        return out, "ok"
    except PyKCS11.PyKCS11Error as e:
        return None, rv_name(e)


def main():
    work = tempfile.mkdtemp(prefix="intoken.")
    try:
        if "softhsm" in MODULE:
            os.mkdir(os.path.join(work, "tokens"))
            conf = os.path.join(work, "softhsm2.conf")
            with open(conf, "w") as f:
                f.write("directories.tokendir = %s/tokens\nobjectstore.backend = file\n" % work)
            os.environ["SOFTHSM2_CONF"] = conf
            subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "intoken",
                            "--so-pin", "12345678", "--pin", PIN], check=True,
                           stdout=subprocess.DEVNULL)
            version = subprocess.run(["softhsm2-util", "--version"], capture_output=True,
                                     text=True).stdout.strip()
            print("token: SoftHSM2 %s (%s)" % (version, MODULE))
        lib = PyKCS11.PyKCS11Lib()
        lib.load(MODULE)
        slot = lib.getSlotList(tokenPresent=True)[0]
        s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
        s.login(PIN)
        run(s)
    finally:
        shutil.rmtree(work)


def aes_kek(s, label):
    return s.generateKey([
        (LL.CKA_CLASS, LL.CKO_SECRET_KEY), (LL.CKA_KEY_TYPE, LL.CKK_AES),
        (LL.CKA_VALUE_LEN, 32), (LL.CKA_LABEL, label), (LL.CKA_TOKEN, False),
        (LL.CKA_SENSITIVE, True), (LL.CKA_EXTRACTABLE, False),
        (LL.CKA_ENCRYPT, True), (LL.CKA_DECRYPT, True), (LL.CKA_WRAP, True),
        (LL.CKA_UNWRAP, True)], PyKCS11.MechanismAESGENERATEKEY)


def dek_template(length=32, key_type=LL.CKK_AES, unwrap=False):
    # Extractable only so that this measurement can check the value the
    # token produced; a real in-token path would make it sensitive.
    t = [(LL.CKA_CLASS, LL.CKO_SECRET_KEY), (LL.CKA_KEY_TYPE, key_type),
         (LL.CKA_TOKEN, False), (LL.CKA_SENSITIVE, False), (LL.CKA_EXTRACTABLE, True),
         (LL.CKA_ENCRYPT, True)]
    if not unwrap:  # an unwrap's length comes from the blob (PKCS#11 §5.18.1)
        t.append((LL.CKA_VALUE_LEN, length))
    return t


def value(s, h):
    return bytes(s.getAttributeValue(h, [LL.CKA_VALUE], allAsBinary=True)[0])


def report(step, result):
    print("  %-68s %s" % (step, result))


def run(s):
    dek = os.urandom(32)
    aad = os.urandom(32)
    kek_a = aes_kek(s, "kek-a")
    kek_b = aes_kek(s, "kek-b")
    pub, priv = s.generateKeyPair(
        [(LL.CKA_CLASS, LL.CKO_PUBLIC_KEY), (LL.CKA_KEY_TYPE, LL.CKK_RSA), (LL.CKA_TOKEN, False),
         (LL.CKA_MODULUS_BITS, 3072), (LL.CKA_PUBLIC_EXPONENT, (0x01, 0x00, 0x01)),
         (LL.CKA_ENCRYPT, True), (LL.CKA_WRAP, True)],
        [(LL.CKA_CLASS, LL.CKO_PRIVATE_KEY), (LL.CKA_KEY_TYPE, LL.CKK_RSA), (LL.CKA_TOKEN, False),
         (LL.CKA_SENSITIVE, True), (LL.CKA_EXTRACTABLE, False), (LL.CKA_DECRYPT, True),
         (LL.CKA_UNWRAP, True)],
        PyKCS11.MechanismRSAGENERATEKEYPAIR)
    n, e = s.getAttributeValue(pub, [LL.CKA_MODULUS, LL.CKA_PUBLIC_EXPONENT], allAsBinary=True)
    soft_pub = rsa.RSAPublicNumbers(int.from_bytes(bytes(e), "big"),
                                    int.from_bytes(bytes(n), "big")).public_key()

    print("kind 1, AES-256-GCM (the blob is C_Encrypt of the DEK, AAD = wrap AAD):")
    iv = os.urandom(12)
    gcm = PyKCS11.AES_GCM_Mechanism(iv, aad, 128)
    blob = bytes(s.encrypt(kek_a, dek, gcm))
    back = bytes(s.decrypt(kek_a, blob, PyKCS11.AES_GCM_Mechanism(iv, aad, 128)))
    report("C_Decrypt (what the provider does today)", "ok" if back == dek else "WRONG VALUE")
    h, rv = attempt("unwrap", lambda: s.unwrapKey(kek_a, blob, dek_template(unwrap=True),
                                                   PyKCS11.AES_GCM_Mechanism(iv, aad, 128)))
    report("C_UnwrapKey(CKM_AES_GCM) into a session object", rv)
    if h is not None:
        report("  unwrapped value is the DEK", value(s, h) == dek)
    # whatever unwrapped, can the token wrap a session secret under AES-GCM?
    probe = s.generateKey(dek_template(), PyKCS11.MechanismAESGENERATEKEY)
    _, rv = attempt("wrap", lambda: s.wrapKey(kek_b, probe,
                                              PyKCS11.AES_GCM_Mechanism(os.urandom(12), aad, 128)))
    report("C_WrapKey(CKM_AES_GCM) of a session AES key under a second KEK", rv)
    _, rv = attempt("wrap", lambda: s.wrapKey(kek_b, probe,
                                              PyKCS11.Mechanism(LL.CKM_AES_KEY_WRAP_PAD, None)))
    report("C_WrapKey(CKM_AES_KEY_WRAP_PAD) (for comparison: no AAD, not our form)", rv)

    print("kind 2, RSA-OAEP (encrypted in software with the public half):")
    for name, md, mech_hash, mgf, label, payload in (
            ("OAEP-SHA-256, label = AAD (binding 1)", hashes.SHA256(), LL.CKM_SHA256,
             LL.CKG_MGF1_SHA256, aad, dek),
            ("OAEP-SHA-1, label = AAD (binding 1)", hashes.SHA1(), LL.CKM_SHA_1,
             LL.CKG_MGF1_SHA1, aad, dek),
            ("OAEP-SHA-1, no label, DEK || SHA-256(AAD) (binding 2)", hashes.SHA1(),
             LL.CKM_SHA_1, LL.CKG_MGF1_SHA1, None,
             dek + hashlib.sha256(b"envelope rsa-oaep aad v1" + aad).digest())):
        ct = soft_pub.encrypt(payload, padding.OAEP(mgf=padding.MGF1(md), algorithm=md,
                                                    label=label))
        mech = PyKCS11.RSAOAEPMechanism(mech_hash, mgf, label)
        tmpl = dek_template(len(payload), LL.CKK_GENERIC_SECRET if len(payload) != 32
                            else LL.CKK_AES, unwrap=True)
        h, rv = attempt("unwrap", lambda: s.unwrapKey(priv, ct, tmpl, mech))
        report("C_UnwrapKey(%s)" % name, rv)
        if h is None:
            continue
        got = value(s, h)
        report("  unwrapped value is the payload", got == payload)
        if label is not None:
            wrong = PyKCS11.RSAOAEPMechanism(mech_hash, mgf, os.urandom(32))
            h2, rv = attempt("unwrap", lambda: s.unwrapKey(priv, ct, tmpl, wrong))
            report("  same blob, wrong label: refused?", "yes (%s)" % rv if h2 is None
                   else "NO: the label is ignored")
        else:
            report("  the AAD hash is inside the object: checking it needs the bytes "
                   "on the host", "n/a")
    probe = s.generateKey(dek_template(), PyKCS11.MechanismAESGENERATEKEY)
    _, rv = attempt("wrap", lambda: s.wrapKey(
        pub, probe, PyKCS11.RSAOAEPMechanism(LL.CKM_SHA256, LL.CKG_MGF1_SHA256, aad)))
    report("C_WrapKey(OAEP-SHA-256, label) of a session AES key under the RSA key", rv)
    _, rv = attempt("wrap", lambda: s.wrapKey(
        pub, probe, PyKCS11.RSAOAEPMechanism(LL.CKM_SHA_1, LL.CKG_MGF1_SHA1)))
    report("C_WrapKey(OAEP-SHA-1, no label) of a session AES key under the RSA key", rv)


if __name__ == "__main__":
    main()
