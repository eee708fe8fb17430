#!/usr/bin/python3
"""fault_injector_replay.py - a FAULT INJECTOR, not a KMS.

A tiny mutual-TLS server that answers the bridge's KMIP requests with bytes
chosen to be wrong in one specific way (oversized, truncated, too deeply
nested, no tag, a short tag, another batch id, KMIP 1.2, silence, a
message-level error, ...), which a real PyKMIP server cannot be made to send on
demand. Locate and Get Attributes get well-formed answers (one Active AES-256
key "kek-a", id "1"; the key-state cases change its State) so that the fault
lands on Encrypt/Decrypt; Create and Activate answer for a new key "2". The
"ok" case answers correctly, proving that the encoding here is right and that
every other case fails for its own reason.

The case is read from CASE_FILE before each request. Every accepted TCP
connection appends "accept" to DIR/connections, every completed TLS handshake
"tls", so a test can count how often the bridge reconnected; every Locate
request is appended there too ("locate HEX"), so a test can see its bytes.
"locate-endless" answers a full page for every Offset Items, "locate-shifting"
pages that do not line up; "name-utf8" names the key "clé" (UTF-8).
TLS 1.2 and 1.3 are offered (Python's default maximum: 1.3 is negotiated).
usage: fault_injector_replay.py PORT DIR CASE_FILE   (DIR holds server.pem/key, ca.pem)
"""
import socket
import ssl
import struct
import sys
import threading
import time

STRUCT, INT, ENUM, BYTES, TEXT, DATETIME = 1, 2, 5, 8, 7, 9


def item(tag, typ, value):
    if typ == STRUCT:
        body = b"".join(value)
    elif typ in (INT, ENUM):
        body = struct.pack(">I", value & 0xFFFFFFFF)
    elif typ == DATETIME:
        body = struct.pack(">q", value)
    elif typ == TEXT:
        body = value.encode()
    else:
        body = value
    pad = (8 - len(body) % 8) % 8
    return struct.pack(">I", (tag << 8) | typ) + struct.pack(">I", len(body)) + body + b"\0" * pad


def parse(buf):
    """Flat list of (tag, type, value bytes) for a whole message, depth-first."""
    out, i = [], 0
    while i + 8 <= len(buf):
        tag, typ = buf[i] << 16 | buf[i + 1] << 8 | buf[i + 2], buf[i + 3]
        (ln,) = struct.unpack(">I", buf[i + 4:i + 8])
        val = buf[i + 8:i + 8 + ln]
        out.append((tag, typ, val))
        if typ == STRUCT:
            out.extend(parse(val))
        i += 8 + ln + (8 - ln % 8) % 8
    return out


def find(items, tag):
    for t, _, v in items:
        if t == tag:
            return v
    return None


def response(op, batch_id, payload, minor=4, status=0, reason=None, count=1, message="injected failure"):
    """op/batch_id None: left out, as in a message-level error."""
    hdr = item(0x42007A, STRUCT, [
        item(0x420069, STRUCT, [item(0x42006A, INT, 1), item(0x42006B, INT, minor)]),
        item(0x420092, DATETIME, int(time.time())),
        item(0x42000D, INT, count)])
    bi = []
    if op is not None:
        bi.append(item(0x42005C, ENUM, op))
    if batch_id is not None:
        bi.append(item(0x420093, BYTES, batch_id))
    bi.append(item(0x42007F, ENUM, status))
    if reason is not None:
        bi.append(item(0x42007E, ENUM, reason))
        bi.append(item(0x42007D, TEXT, message))
    if payload is not None:
        bi.append(item(0x42007C, STRUCT, payload))
    return item(0x42007B, STRUCT, [hdr, item(0x42000F, STRUCT, bi)])


def attr(name, value):
    return item(0x420008, STRUCT, [item(0x42000A, TEXT, name), value])


# What PyKMIP's session.py sends when it will not read the request (client
# certificate without clientAuth, unparseable request): engine.build_error_response,
# protocol version 1.0, no Operation, no Unique Batch Item ID.
def message_level(reason, text):
    return response(None, None, None, minor=0, status=1, reason=reason, message=text)


STATES = {"pre-active": 1, "deactivated": 3, "compromised": 4}


def answer(req, case):
    items = parse(req)
    op = struct.unpack(">I", find(items, 0x42005C))[0]
    bid = find(items, 0x420093) or b""
    if op == 0x08:  # Locate
        n = 65 if case == "locate-65" else 1
        first = 1
        off = find(items, 0x4200D4)  # Offset Items
        off = struct.unpack(">I", off)[0] if off else 0
        if case == "locate-endless":  # a full page for every offset: never ends by itself
            n, first = 64, off + 1
        if case == "locate-shifting":  # every page starts elsewhere: the list "moves"
            n, first = 64, off + 1000 * (off + 1)
        return response(op, bid, [item(0x420094, TEXT, str(first + i)) for i in range(n)])
    if op == 0x0B:  # Get Attributes
        uid = find(items, 0x420094).decode()
        return response(op, bid, [
            item(0x420094, TEXT, uid),
            attr("Object Type", item(0x42000B, ENUM, 2)),
            attr("Cryptographic Algorithm", item(0x42000B, ENUM, 3)),
            attr("Cryptographic Length", item(0x42000B, INT, 256)),
            attr("State", item(0x42000B, ENUM, STATES.get(case, 2))),
            attr("Name", item(0x42000B, STRUCT, [item(0x420055, TEXT, "clé" if case == "name-utf8" else "kek-a"),
                                                  item(0x420054, ENUM, 1)]))])
    if op == 0x01:  # Create
        return response(op, bid, [item(0x420057, ENUM, 2), item(0x420094, TEXT, "2")])
    if op == 0x12:  # Activate
        return response(op, bid, [item(0x420094, TEXT, find(items, 0x420094).decode())])
    if case == "msg-auth":
        return message_level(0x03, "Error verifying the client certificate. See server logs")
    if case == "msg-invalid":
        return message_level(0x04, "Error parsing request message. See server logs")
    if case == "msg-success":  # no operation, no batch id, yet "success": refused
        return response(None, None, None, minor=0, status=0)
    if case == "zeros":  # a frame header that checks out around a body of zeros
        return struct.pack(">II", 0x42007B01, 64) + b"\0" * 64
    data = find(items, 0x4200C2) or b""
    our_iv = find(items, 0x42003D) or b""
    uid = item(0x420094, TEXT, "1")
    tag16 = item(0x4200FF, BYTES, b"T" * 16)
    out = item(0x4200C2, BYTES, data)
    if op == 0x20:  # Decrypt
        if case in ("ok", "deactivated"):
            return response(op, bid, [uid, out])
        if case == "bad-tag":  # what PyKMIP says for a tag mismatch
            return response(op, bid, None, status=1, reason=0x100)
        if case == "crypto-failure":  # what the spec suggests for one
            return response(op, bid, None, status=1, reason=0x0A)
        if case == "invalid-field":  # not about the data: not "tag invalid"
            return response(op, bid, None, status=1, reason=0x07)
        if case == "not-supported":
            return response(op, bid, None, status=1, reason=0x05)
        if case == "truncated":
            return response(op, bid, [uid, out])[:40]
        raise SystemExit("case %s not for Decrypt" % case)
    good = [uid, out, tag16]
    cases = {
        "ok": response(op, bid, good),
        "no-tag": response(op, bid, [uid, out]),
        "short-tag": response(op, bid, [uid, out, item(0x4200FF, BYTES, b"TTT")]),
        "other-iv": response(op, bid, [uid, out, item(0x42003D, BYTES, b"I" * 16), tag16]),
        "server-iv-12": response(op, bid, [uid, out, item(0x42003D, BYTES, b"S" * 12), tag16]),
        "same-iv": response(op, bid, [uid, out, item(0x42003D, BYTES, our_iv), tag16]),
        "wrong-batch-id": response(op, b"\x01" * 8, good),
        "kmip-1.2": response(op, bid, good, minor=2),
        "wrong-op": response(0x20, bid, good),
        "two-items": response(op, bid, good, count=2),
        "wrong-uid": response(op, bid, [item(0x420094, TEXT, "2"), out, tag16]),
        "data-len": response(op, bid, [uid, item(0x4200C2, BYTES, data + b"x"), tag16]),
        "oversized": struct.pack(">II", 0x42007B01, 0x7FFFFFF8) + b"\0" * 64,
        "not-kmip": b"HTTP/1.1 400 Bad Request\r\n\r\n\0\0\0\0",
        "bad-inner-length": bytearray(response(op, bid, good)),
        "deep": None,
        "truncated": response(op, bid, good)[:60],
        "permission-denied": response(op, bid, None, status=1, reason=0x0C),
        "not-found": response(op, bid, None, status=1, reason=0x01),
    }
    if case == "bad-inner-length":
        b = cases[case]
        b[16 + 4:16 + 8] = struct.pack(">I", 0x7FFFFF00)  # Protocol Version claims 2 GiB
        return bytes(b)
    if case == "deep":
        inner = item(0x420094, TEXT, "1")
        for _ in range(40):
            inner = item(0x42007C, STRUCT, [inner])
        return response(op, bid, [uid, out, tag16, inner])
    return cases[case]


def read_request(conn):
    hdr = b""
    while len(hdr) < 8:
        chunk = conn.recv(8 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    (ln,) = struct.unpack(">I", hdr[4:8])
    body = b""
    while len(body) < ln:
        chunk = conn.recv(ln - len(body))
        if not chunk:
            return None
        body += chunk
    return hdr + body


def main():
    port, d, case_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(d + "/server.pem", d + "/server.key")
    ctx.load_verify_locations(d + "/ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    while True:
        raw, _ = srv.accept()
        threading.Thread(target=serve, args=(ctx, raw, case_file), daemon=True).start()


def note(d, what):
    with open(d + "/connections", "a") as f:
        f.write(what + "\n")


def serve(ctx, raw, case_file):
    d = case_file.rsplit("/", 1)[0]
    note(d, "accept")
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    note(d, "tls")
    try:
        while True:
            req = read_request(conn)
            if req is None:
                break
            case = open(case_file).read().strip()
            op = struct.unpack(">I", find(parse(req), 0x42005C))[0]
            if op == 0x08:  # Locate requests (no key material) for the text checks
                note(d, "locate " + req.hex())
            if case == "silent" and op in (0x1F, 0x20):
                time.sleep(30)
                break
            conn.sendall(answer(req, case))
            if case in ("truncated", "oversized") and op in (0x1F, 0x20):
                break
    except (ssl.SSLError, OSError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


if __name__ == "__main__":
    main()
