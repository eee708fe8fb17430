#!/usr/bin/python3
"""Independent decoder for the envelope message format v1, written from
docs/FORMAT.md alone (Debian's python3-cryptography). It shares no code with
libenvelope: if the two disagree, one of them or the document is wrong.

usage:
  envelope_decode.py vectors FILE        check every vector in FILE
  envelope_decode.py decrypt KEK.pem MSG [OUT]   decrypt MSG with the RSA KEK
  envelope_decode.py suite2 FILE         check every suite 2 vector in FILE (§10)
  envelope_decode.py suite2-write FILE   write suite 2 vectors (key blocks for the
                                         kek1.pem, kek2.pem next to FILE) for libenvelope
Exit status 0 when everything matched.
"""
import hashlib
import hmac
import os
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import cmac, hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import algorithms
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
    h["edks"] = parse_edks(r)
    h["length"] = r.off
    return h


def parse_edks(r):
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
    return edks


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

# ---- suite 2: key blocks and compact records (docs/FORMAT.md §10) ----

def suite2_keys(dek, context_bytes):
    """§10.1: K, M, C; the DEK id is C[0..16)."""
    info = b"ENVELOPE-V2-KEYS" + struct.pack(">H", 2) + hashlib.sha256(context_bytes).digest()
    okm = HKDF(algorithm=hashes.SHA512(), length=96, salt=None, info=info).derive(dek)
    return okm[:32], okm[32:64], okm[64:]


def parse_keyblock(data):
    """§10.2, every rule in its order."""
    if len(data) > 58557:
        raise EnvelopeError("ENVELOPE_ERR_TRAILING_DATA", "key block over 58 557 bytes")
    r = Reader(data)
    if r.take(4, "key block") != b"ENVK":
        raise EnvelopeError("ENVELOPE_ERR_BAD_MAGIC")
    if r.u8("key block") != 1:
        raise EnvelopeError("ENVELOPE_ERR_VERSION")
    kb = {"suite": r.u16("key block")}
    if kb["suite"] != 2:
        raise EnvelopeError("ENVELOPE_ERR_SUITE")
    if r.u8("key block") != 0:
        raise EnvelopeError("ENVELOPE_ERR_RESERVED", "flags")
    kb["dek_id"] = r.take(16, "key block")
    kb["context"], kb["context_bytes"] = parse_context(r)
    if r.u16("key block") != 0:
        raise EnvelopeError("ENVELOPE_ERR_RESERVED", "extensions")
    kb["commitment"] = r.take(32, "key block")
    kb["body"] = data[:r.off]
    kb["tag"] = r.take(16, "key block")
    kb["edks"] = parse_edks(r)
    if r.off != len(data):
        raise EnvelopeError("ENVELOPE_ERR_TRAILING_DATA")
    return kb


def suite2_kb_tag(m, body):
    return hmac.new(m, body, hashlib.sha256).digest()[:16]


def load_keyblock(data, keks):
    """§10.5: parse, unwrap (wrap AAD with suite 2), commitment, DEK id, tag."""
    kb = parse_keyblock(data)
    dek = unwrap(kb, keks)  # §5.3 with kb["suite"] == 2 and the key block's context
    k, m, c = suite2_keys(dek, kb["context_bytes"])
    if not (hmac.compare_digest(c, kb["commitment"]) and hmac.compare_digest(c[:16], kb["dek_id"])):
        raise EnvelopeError("ENVELOPE_ERR_AUTH", "commitment or DEK id")
    if not hmac.compare_digest(suite2_kb_tag(m, kb["body"]), kb["tag"]):
        raise EnvelopeError("ENVELOPE_ERR_AUTH", "key-block tag")
    kb["K"] = k
    return kb


def xaes_gcm_key(k, n):
    """c2sp.org/XAES-256-GCM as §10.3 states it: SP 800-108r1 counter KDF
    with CMAC-AES-256 (here through a real CMAC, not the one-block shortcut)."""
    out = b""
    for i in (1, 2):
        c = cmac.CMAC(algorithms.AES(k))
        c.update(struct.pack(">H", i) + b"X" + b"\x00" + n[:12])
        out += c.finalize()
    return out


def parse_record(rec):
    """§10.4's key-less checks, in its check order; returns the DEK id."""
    if len(rec) < 4 or rec[:4] != b"ENVR":
        raise EnvelopeError("ENVELOPE_ERR_TRUNCATED" if len(rec) < 4 else "ENVELOPE_ERR_BAD_MAGIC")
    if len(rec) < 63:
        raise EnvelopeError("ENVELOPE_ERR_TRUNCATED")
    if rec[4] != 1:
        raise EnvelopeError("ENVELOPE_ERR_VERSION")
    if struct.unpack(">H", rec[5:7])[0] != 2:
        raise EnvelopeError("ENVELOPE_ERR_SUITE")
    if len(rec) - 63 > 1 << 30:
        raise EnvelopeError("ENVELOPE_ERR_FRAME_LENGTH")
    return rec[7:23]


def parse_any(data):
    """What a key-less reader (an inspector) reads: the form the magic names
    (§1 message, §10.2 key block, §10.4 record)."""
    if data[:4] == b"ENVK":
        return parse_keyblock(data)
    if data[:4] == b"ENVR":
        return parse_record(data)
    return parse_header(data)


def record_open(rec, kb, ad):
    if parse_record(rec) != kb["dek_id"]:
        raise EnvelopeError("ENVELOPE_ERR_DEK_UNKNOWN")
    n = rec[23:47]
    try:
        return AESGCM(xaes_gcm_key(kb["K"], n)).decrypt(n[12:], rec[47:], rec[:23] + ad)
    except InvalidTag:
        raise EnvelopeError("ENVELOPE_ERR_AUTH", "record tag")


def record_seal(kb, ad, pt, n=None):
    n = os.urandom(24) if n is None else n
    prefix = b"ENVR" + bytes([1]) + struct.pack(">H", 2) + kb["dek_id"]
    return prefix + n + AESGCM(xaes_gcm_key(kb["K"], n)).encrypt(n[12:], pt, prefix + ad)


def suite2_check_one(v, folder):
    f = {k: bytes.fromhex(v.get(k, "")) for k in ("keyblock", "ad", "plaintext", "record")}
    if "dek" in v:  # the known answer: derivation and record bytes, no KEK
        ctx = bytes.fromhex(v["context_bytes"])
        k, m, c = suite2_keys(bytes.fromhex(v["dek"]), ctx)
        if (k.hex(), m.hex(), c.hex(), c[:16].hex()) != (v["K"], v["M"], v["C"], v["dek_id"]):
            return "derivation-differs"
        body = bytes.fromhex(v["kb_body"])
        if body != b"ENVK\x01\x00\x02\x00" + c[:16] + ctx + bytes(2) + c:
            return "kb-body-differs"
        if suite2_kb_tag(m, body).hex() != v["kb_tag"]:
            return "kb-tag-differs"
        kb = {"K": k, "dek_id": c[:16]}
        if record_seal(kb, f["ad"], f["plaintext"], bytes.fromhex(v["nonce"])) != f["record"]:
            return "record-differs"
        return "ok" if record_open(f["record"], kb, f["ad"]) == f["plaintext"] else "wrong-plaintext"
    keks = [load_kek(os.path.join(folder, p)) for p in v["keks"].split()]
    kb = load_keyblock(f["keyblock"], keks)
    pt = record_open(f["record"], kb, f["ad"])
    if pt != f["plaintext"]:
        return "ok-but-wrong-plaintext"
    if " ".join(f"{k}={val}" for k, val in kb["context"]) != v.get("context", ""):
        return "ok-but-other-context"
    return "ok"


def suite2_check_file(path):
    folder = os.path.dirname(os.path.abspath(path))
    vecs, fails = read_vectors(path), 0
    for v in vecs:
        try:
            got = suite2_check_one(v, folder)
        except EnvelopeError as e:
            got = e.code
        ok = got == v["expect"]
        fails += not ok
        print(f"{'PASS' if ok else 'FAIL'} {v['name']}: expected {v['expect']}, got {got}")
    print(f"{len(vecs) - fails}/{len(vecs)} vectors passed")
    return 1 if fails or not vecs else 0


def encode_context(pairs):
    pairs = sorted(pairs, key=lambda kv: kv[0].encode())
    out = struct.pack(">H", len(pairs))
    for k, v in pairs:
        out += struct.pack(">H", len(k.encode())) + k.encode()
        out += struct.pack(">H", len(v.encode())) + v.encode()
    return out


def make_keyblock(keks, pairs):
    """§10.4 steps 1-2, with RSA-OAEP-SHA256 EDKs (§5.3)."""
    dek = os.urandom(32)
    ctx = encode_context(pairs)
    k, m, c = suite2_keys(dek, ctx)
    body = b"ENVK" + bytes([1]) + struct.pack(">H", 2) + b"\x00" + c[:16] + ctx + b"\x00\x00" + c
    kb = {"suite": 2, "context_bytes": ctx}
    edks = bytes([len(keks)])
    for i, kek in enumerate(keks):
        e = {"kind": 1, "ref": f"file:kek{i + 1}.pem".encode(), "key_id": key_id(kek)}
        wrapped = kek.public_key().encrypt(dek, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                             algorithm=hashes.SHA256(),
                                                             label=wrap_aad(kb, e)))
        edks += bytes([1, 0]) + struct.pack(">H", len(e["ref"])) + e["ref"]
        edks += bytes([len(e["key_id"])]) + e["key_id"] + struct.pack(">H", len(wrapped)) + wrapped
    return body + suite2_kb_tag(m, body) + edks, {"K": k, "dek_id": c[:16]}


def suite2_write_file(path):
    folder = os.path.dirname(os.path.abspath(path))
    k1, k2 = (load_kek(os.path.join(folder, f"kek{i}.pem")) for i in (1, 2))
    out = ["# suite 2 vectors written by envelope_decode.py suite2-write"]

    def emit(name, keks, ctx, kb, ad, pt, rec, expect):
        out.append("")
        out.extend([f"name: {name}", f"keks: {keks}", f"context: {ctx}", f"keyblock: {kb.hex()}",
                f"ad: {ad.hex()}", f"plaintext: {pt.hex()}", f"record: {rec.hex()}",
                f"expect: {expect}"])

    a, ka = make_keyblock([k1], [("tenant", "acme"), ("a", "1")])
    b, kb = make_keyblock([k1, k2], [])
    for n in (0, 1, 1024):
        pt = bytes((i * 5 + 1) & 0xFF for i in range(n))
        ad = b"row/7" if n else b""
        emit(f"py-record-{n}", "kek1.pem", "a=1 tenant=acme", a, ad, pt, record_seal(ka, ad, pt), "ok")
    rec = record_seal(kb, b"", b"two")
    emit("py-two-edks-second", "kek2.pem", "", b, b"", b"two", rec, "ok")
    bad = bytearray(record_seal(ka, b"", b"tampered"))
    bad[-1] ^= 1
    emit("py-record-tag", "kek1.pem", "a=1 tenant=acme", a, b"", b"tampered", bytes(bad),
         "ENVELOPE_ERR_AUTH")
    bad = bytearray(a)
    bad[-1] ^= 1
    emit("py-keyblock-wrapped", "kek1.pem", "a=1 tenant=acme", bytes(bad), b"", b"", rec,
         "ENVELOPE_ERR_AUTH")
    emit("py-record-other-block", "kek1.pem", "a=1 tenant=acme", a, b"", b"two", rec,
         "ENVELOPE_ERR_DEK_UNKNOWN")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "vectors":
        return check_vectors(argv[2])
    if len(argv) >= 3 and argv[1] == "suite2":
        return suite2_check_file(argv[2])
    if len(argv) >= 3 and argv[1] == "suite2-write":
        return suite2_write_file(argv[2])
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
