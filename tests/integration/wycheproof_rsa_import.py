#!/usr/bin/python3
"""wycheproof_rsa_import.py MODULE TOKEN PIN OUT VECTORS.json TAG [VECTORS.json TAG ...]

Imports every test key of the Wycheproof RSA decryption files (read in
place) into the SoftHSM2 token as a token private key (CKA_SENSITIVE, not
CKA_EXTRACTABLE, CKA_DECRYPT only) with its public key, and writes OUT: one
line per test vector, tab-separated, for provider_wycheproof.c:

    URI  PADDING  ID  RESULT  CT  MSG  LABEL  FLAGS

PADDING is "oaep-sha1" or "pkcs1"; CT, MSG and LABEL are hex ("-" when
empty); URI names the key by its label (wp-TAG-GROUP).
"""
import json
import sys

import PyKCS11
from PyKCS11 import LowLevel as LL


def b(h):
    """hex -> bytes, without the sign byte Wycheproof prefixes."""
    v = bytes.fromhex(h)
    while len(v) > 1 and v[0] == 0:
        v = v[1:]
    return v


def main():
    module, token, pin, out = sys.argv[1:5]
    files = sys.argv[5:]
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    slot = next(s for s in lib.getSlotList(tokenPresent=True)
                if lib.getTokenInfo(s).label.strip() == token)
    sess = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    sess.login(pin)
    lines = []
    keys = 0
    for path, tag in zip(files[0::2], files[1::2]):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        for gi, group in enumerate(doc["testGroups"]):
            if group["type"] == "RsaesOaepDecrypt":
                if group["sha"] != "SHA-1" or group["mgfSha"] != "SHA-1":
                    continue
                padding = "oaep-sha1"
            elif group["type"] == "RsaesPkcs1Decrypt":
                padding = "pkcs1"
            else:
                continue
            k = group["privateKey"]
            label = f"wp-{tag}-{gi}"
            kid = f"{tag}-{gi}".encode()
            common = [
                (LL.CKA_TOKEN, True), (LL.CKA_KEY_TYPE, LL.CKK_RSA),
                (LL.CKA_LABEL, label), (LL.CKA_ID, kid),
                (LL.CKA_MODULUS, b(k["modulus"])),
                (LL.CKA_PUBLIC_EXPONENT, b(k["publicExponent"])),
            ]
            sess.createObject(common + [
                (LL.CKA_CLASS, LL.CKO_PRIVATE_KEY), (LL.CKA_PRIVATE, True),
                (LL.CKA_SENSITIVE, True), (LL.CKA_EXTRACTABLE, False),
                (LL.CKA_DECRYPT, True), (LL.CKA_SIGN, False), (LL.CKA_UNWRAP, False),
                (LL.CKA_PRIVATE_EXPONENT, b(k["privateExponent"])),
                (LL.CKA_PRIME_1, b(k["prime1"])), (LL.CKA_PRIME_2, b(k["prime2"])),
                (LL.CKA_EXPONENT_1, b(k["exponent1"])), (LL.CKA_EXPONENT_2, b(k["exponent2"])),
                (LL.CKA_COEFFICIENT, b(k["coefficient"])),
            ])
            sess.createObject(common + [
                (LL.CKA_CLASS, LL.CKO_PUBLIC_KEY), (LL.CKA_ENCRYPT, True),
                (LL.CKA_VERIFY, False), (LL.CKA_WRAP, False),
            ])
            keys += 1
            uri = f"pkcs11:token={token};object={label};type=private"
            for t in group["tests"]:
                lines.append("\t".join([
                    uri, padding, str(t["tcId"]), t["result"], t["ct"] or "-",
                    t["msg"] or "-", t.get("label", "") or "-",
                    ",".join(t.get("flags", [])) or "-"]))
    sess.logout()
    sess.closeSession()
    with open(out, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    print(f"imported {keys} keys, {len(lines)} vectors")


if __name__ == "__main__":
    main()
