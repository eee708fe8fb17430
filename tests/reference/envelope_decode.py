#!/usr/bin/python3
"""Independent decoder for the envelope message format v1, written from
docs/FORMAT.md alone (Debian's python3-cryptography). It shares no code with
libenvelope: if the two disagree, one of them or the document is wrong.

usage:
  envelope_decode.py vectors FILE        check every vector in FILE
  envelope_decode.py decrypt KEK.pem MSG [OUT]   decrypt MSG with the RSA KEK
Exit status 0 when everything matched.
"""
import hashlib
import hmac
import os
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class EnvelopeError(Exception):
    def __init__(self, code, why=""):
        super().__init__(f"{code}: {why}")
        self.code = code


class Reader:
    """Bounded reader: every read is checked against the input length."""

    def __init__(self, data):
        self.data, self.off = data, 0

    def take(self, n, what):
        if n > len(self.data) - self.off:
            raise EnvelopeError("ENVELOPE_ERR_TRUNCATED", f"input ends inside {what}")
        b = self.data[self.off:self.off + n]
        self.off += n
        return b

    def u8(self, what):
        return self.take(1, what)[0]

    def u16(self, what):
        return struct.unpack(">H", self.take(2, what))[0]

    def u32(self, what):
        return struct.unpack(">I", self.take(4, what))[0]


def utf8_ok(b):
    if b"\x00" in b:
        return False
    try:
        b.decode("utf-8", errors="strict")  # rejects overlongs and surrogates
    except UnicodeDecodeError:
        return False
    return True


def parse_context(r):
    start = r.off
    count = r.u16("context")
    if count > 64:
        raise EnvelopeError("ENVELOPE_ERR_CONTEXT_LIMIT", "more than 64 pairs")
    pairs, total, prev = [], 0, None
    for _ in range(count):
        kl = r.u16("context")
        if kl < 1 or kl > 255:
            raise EnvelopeError("ENVELOPE_ERR_CONTEXT_LIMIT", "key length")
        k = r.take(kl, "context")
        vl = r.u16("context")
        if vl > 1024:
            raise EnvelopeError("ENVELOPE_ERR_CONTEXT_LIMIT", "value length")
        total += 4 + kl + vl
        if total > 8192:
            raise EnvelopeError("ENVELOPE_ERR_CONTEXT_LIMIT", "context over 8192 bytes")
        v = r.take(vl, "context")
        if not utf8_ok(k) or b"=" in k or not utf8_ok(v):
            raise EnvelopeError("ENVELOPE_ERR_CONTEXT_ENCODING", "not UTF-8")
        if prev is not None and not prev < k:
            raise EnvelopeError("ENVELOPE_ERR_CONTEXT_ENCODING", "keys not strictly sorted")
        prev = k
        pairs.append((k.decode(), v.decode()))
    return pairs, r.data[start:r.off]


def parse_header(data):
    r = Reader(data)
    h = {}
    if r.take(4, "header") != b"ENVL":
        raise EnvelopeError("ENVELOPE_ERR_BAD_MAGIC")
    h["version"] = r.u8("header")
    if h["version"] != 1:
        raise EnvelopeError("ENVELOPE_ERR_VERSION")
    h["suite"] = r.u16("header")
    if h["suite"] != 1:
        raise EnvelopeError("ENVELOPE_ERR_SUITE")
    h["flags"] = r.u8("header")
    if h["flags"] & ~0x01:  # 0x01: written under KEK policy "any"
        raise EnvelopeError("ENVELOPE_ERR_RESERVED", "flags")
    h["message_id"] = r.take(32, "header")
    h["frame_size"] = r.u32("header")
    if not 4096 <= h["frame_size"] <= 16777216:
        raise EnvelopeError("ENVELOPE_ERR_HDR_FRAME_SIZE")
    h["context"], h["context_bytes"] = parse_context(r)
    if r.u16("header") != 0:
        raise EnvelopeError("ENVELOPE_ERR_RESERVED", "extensions")
    h["commitment"] = r.take(32, "header")
    h["body"] = data[:r.off]
    h["tag"] = r.take(16, "header")
    count = r.u8("header")
    if count < 1 or count > 16:
        raise EnvelopeError("ENVELOPE_ERR_EDK_COUNT")
    edks = []
    for _ in range(count):
        kind = r.u8("EDK")
        if kind not in (1, 2):
            raise EnvelopeError("ENVELOPE_ERR_WRAP_KIND")
        if r.u8("EDK") != 0:
            raise EnvelopeError("ENVELOPE_ERR_RESERVED", "EDK reserved byte")
        rl = r.u16("EDK")
        if rl < 1 or rl > 1024:
            raise EnvelopeError("ENVELOPE_ERR_EDK_FIELD", "reference length")
        ref = r.take(rl, "EDK")
        if any(b < 0x21 or b > 0x7E for b in ref):
            raise EnvelopeError("ENVELOPE_ERR_EDK_FIELD", "reference not printable ASCII")
        il = r.u8("EDK")
        if il > 64:
            raise EnvelopeError("ENVELOPE_ERR_EDK_FIELD", "key id length")
        kid = r.take(il, "EDK")
        wl = r.u16("EDK")
        if wl < 1 or wl > 2048:
            raise EnvelopeError("ENVELOPE_ERR_EDK_FIELD", "wrapped length")
        edks.append({"kind": kind, "ref": ref, "key_id": kid, "wrapped": r.take(wl, "EDK")})
    h["edks"] = edks
    h["length"] = r.off
    return h


def wrap_aad(h, e):
    m = hashlib.sha256()
    m.update(b"ENVELOPE-V1-WRAP" + bytes([1]) + struct.pack(">H", h["suite"]))
    m.update(h["context_bytes"])
    m.update(bytes([e["kind"]]) + struct.pack(">H", len(e["ref"])) + e["ref"])
    m.update(bytes([len(e["key_id"])]) + e["key_id"])
    return m.digest()


def key_id(priv):
    spki = priv.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


def unwrap(h, keks):
    """First EDK whose key id matches a KEK and which unwraps decides."""
    tried = False
    for e in h["edks"]:
        for k in keks:
            if e["kind"] != 1 or e["key_id"] != key_id(k):
                continue
            tried = True
            try:
                dek = k.decrypt(e["wrapped"], padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                           algorithm=hashes.SHA256(),
                                                           label=wrap_aad(h, e)))
            except ValueError:
                continue
            if len(dek) == 32:
                return dek
    if not tried:
        raise EnvelopeError("ENVELOPE_ERR_NO_KEK")
    raise EnvelopeError("ENVELOPE_ERR_AUTH", "no EDK unwrapped")


def decrypt(data, keks):
    h = parse_header(data)
    dek = unwrap(h, keks)
    okm = HKDF(algorithm=hashes.SHA512(), length=64, salt=h["message_id"],
               info=b"ENVELOPE-V1-KEYS" + struct.pack(">H", h["suite"])).derive(dek)
    data_key, commitment = okm[:32], okm[32:]
    if not hmac.compare_digest(commitment, h["commitment"]):
        raise EnvelopeError("ENVELOPE_ERR_AUTH", "commitment")
    gcm = AESGCM(data_key)
    try:
        gcm.decrypt(bytes(12), h["tag"], h["body"])  # empty plaintext, tag only
    except InvalidTag:
        raise EnvelopeError("ENVELOPE_ERR_AUTH", "header tag")
    r = Reader(data)
    r.off = h["length"]
    out, n, fs = [], 1, h["frame_size"]
    while True:
        if n > 0xFFFFFFFF:
            raise EnvelopeError("ENVELOPE_ERR_TOO_MANY_FRAMES")
        t = r.u8("frame")
        if t == 0:
            ln = fs
        elif t == 1:
            ln = r.u32("frame")
            if ln > fs or (ln == 0 and n != 1):
                raise EnvelopeError("ENVELOPE_ERR_FRAME_LENGTH")
        else:
            raise EnvelopeError("ENVELOPE_ERR_FRAME_TYPE")
        ct = r.take(ln, "frame")
        tag = r.take(16, "frame")
        nonce = bytes(4) + struct.pack(">Q", n)
        aad = h["message_id"] + struct.pack(">QBI", n, t, ln)
        try:
            out.append(gcm.decrypt(nonce, ct + tag, aad))
        except InvalidTag:
            raise EnvelopeError("ENVELOPE_ERR_AUTH", f"frame {n}")
        n += 1
        if t == 1:
            break
    if r.off != len(data):
        raise EnvelopeError("ENVELOPE_ERR_TRAILING_DATA")
    return b"".join(out), h


def load_kek(path):
    with open(path, "rb") as f:
        k = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(k, rsa.RSAPrivateKey):
        raise SystemExit(f"{path}: not an RSA private key")
    return k


def read_vectors(path):
    vecs, cur = [], {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            if not line:
                if cur:
                    vecs.append(cur)
                cur = {}
                continue
            k, _, v = line.partition(": ")
            cur[k.rstrip(":")] = v
    if cur:
        vecs.append(cur)
    return vecs


def check_vectors(path):
    folder = os.path.dirname(os.path.abspath(path))
    fails = 0
    vecs = read_vectors(path)
    for v in vecs:
        keks = [load_kek(os.path.join(folder, p)) for p in v["keks"].split()]
        msg = bytes.fromhex(v["message"])
        want = v["expect"]
        try:
            pt, h = decrypt(msg, keks)
            got = "ok"
            ctx = " ".join(f"{k}={val}" for k, val in h["context"])
            if pt != bytes.fromhex(v["plaintext"]):
                got = "ok-but-wrong-plaintext"
            want_ctx = " ".join(sorted(v.get("context", "").split(), key=lambda s: s.split("=")[0].encode()))
            if got == "ok" and ctx != want_ctx:
                got = f"ok-but-context {ctx!r} != {want_ctx!r}"
        except EnvelopeError as e:
            got = e.code
        status = "PASS" if got == want else "FAIL"
        if got != want:
            fails += 1
        print(f"{status} {v['name']}: expected {want}, got {got}")
    print(f"{len(vecs) - fails}/{len(vecs)} vectors passed")
    if len(vecs) == 0:
        return 1
    return 1 if fails else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "vectors":
        return check_vectors(argv[2])
    if len(argv) >= 4 and argv[1] == "decrypt":
        with open(argv[3], "rb") as f:
            data = f.read()
        try:
            pt, _ = decrypt(data, [load_kek(argv[2])])
        except EnvelopeError as e:
            print(f"envelope_decode: {e}", file=sys.stderr)
            return 2
        if len(argv) >= 5:
            with open(argv[4], "wb") as f:
                f.write(pt)
        else:
            sys.stdout.buffer.write(pt)
        return 0
    print(__doc__, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
