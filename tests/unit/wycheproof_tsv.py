#!/usr/bin/python3
"""wycheproof_tsv.py AES_GCM.json HKDF_SHA512.json > vectors.tsv

The Wycheproof AES-GCM and HKDF-SHA-512 files (read in place, never copied
into the repository) as tab-separated lines for lib_wycheproof.c; hex
fields, "-" when empty:

    gcm   ID RESULT KEY IV AAD MSG CT TAG FLAGS
    hkdf  ID RESULT IKM SALT INFO SIZE OKM FLAGS
"""
import json
import sys


def h(v):
    return v if v else "-"


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        gcm = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        hkdf = json.load(f)
    out = []
    for g in gcm["testGroups"]:
        for t in g["tests"]:
            out.append("\t".join(["gcm", str(t["tcId"]), t["result"], h(t["key"]), h(t["iv"]),
                                  h(t["aad"]), h(t["msg"]), h(t["ct"]), h(t["tag"]),
                                  ",".join(t["flags"]) or "-"]))
    for g in hkdf["testGroups"]:
        for t in g["tests"]:
            out.append("\t".join(["hkdf", str(t["tcId"]), t["result"], h(t["ikm"]), h(t["salt"]),
                                  h(t["info"]), str(t["size"]), h(t["okm"]),
                                  ",".join(t["flags"]) or "-"]))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
