#!/usr/bin/python3
"""edk_tool.py - edits the EDK list of an envelope message (docs/FORMAT.md
section 4.2) the way an attacker can: the list is not covered by the header
tag, so EDKs can be added, removed or changed without touching the rest.

  edk_tool.py graft MSG DONOR OUT        prepend DONOR's first EDK to MSG's list
  edk_tool.py set-ref MSG I REF OUT      replace EDK I's KEK reference
  edk_tool.py corrupt MSG I OUT          flip a byte of EDK I's wrapped DEK
  edk_tool.py refs MSG                   print each EDK's reference
  edk_tool.py same-data A B              exit 0 if A and B have the same authenticated
                                         header and the same body, byte for byte (their
                                         EDK lists may differ), else 1 saying which part differs
"""
import struct
import sys


def split(data):
    """(header bytes up to the EDK count, [edk tuples], rest of the message)"""
    ctx_count = struct.unpack(">H", data[44:46])[0]
    off = 46
    for _ in range(ctx_count):
        kl = struct.unpack(">H", data[off:off + 2])[0]
        off += 2 + kl
        vl = struct.unpack(">H", data[off:off + 2])[0]
        off += 2 + vl
    off += 2 + 32 + 16  # extensions length, commitment, header tag
    head = data[:off]
    count = data[off]
    off += 1
    edks = []
    for _ in range(count):
        kind, res = data[off], data[off + 1]
        rl = struct.unpack(">H", data[off + 2:off + 4])[0]
        ref = data[off + 4:off + 4 + rl]
        p = off + 4 + rl
        il = data[p]
        kid = data[p + 1:p + 1 + il]
        p += 1 + il
        wl = struct.unpack(">H", data[p:p + 2])[0]
        wrapped = data[p + 2:p + 2 + wl]
        off = p + 2 + wl
        edks.append([kind, res, ref, kid, bytearray(wrapped)])
    return head, edks, data[off:]


def join(head, edks, rest):
    out = bytearray(head) + bytes([len(edks)])
    for kind, res, ref, kid, wrapped in edks:
        out += bytes([kind, res]) + struct.pack(">H", len(ref)) + ref
        out += bytes([len(kid)]) + kid + struct.pack(">H", len(wrapped)) + wrapped
    return bytes(out + rest)


def main(argv):
    cmd = argv[1]
    data = open(argv[2], "rb").read()
    head, edks, rest = split(data)
    if cmd == "same-data":
        head_b, _, rest_b = split(open(argv[3], "rb").read())
        if head != head_b:
            print("authenticated headers differ", file=sys.stderr)
            return 1
        if rest != rest_b:
            print("bodies differ (%d and %d bytes)" % (len(rest), len(rest_b)), file=sys.stderr)
            return 1
        return 0
    if cmd == "refs":
        for e in edks:
            print(e[2].decode("ascii"))
        return 0
    if cmd == "graft":
        _, donor, _ = split(open(argv[3], "rb").read())
        edks.insert(0, donor[0])
        out = argv[4]
    elif cmd == "set-ref":
        edks[int(argv[3])][2] = argv[4].encode("ascii")
        out = argv[5]
    elif cmd == "corrupt":
        edks[int(argv[3])][4][-1] ^= 0x01
        out = argv[4]
    else:
        print(__doc__, file=sys.stderr)
        return 1
    open(out, "wb").write(join(head, edks, rest))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
