#!/usr/bin/python3
"""kms_pykmip_bench.py - the baseline for bench/kms_bench.c: PyKMIP's own
Python client (KMIPProxy, KMIP 1.4, one persistent mutual-TLS connection)
doing the same AES-GCM wrap/unwrap of a 32-byte DEK with AAD against the same
server and key.

usage: kms_pykmip_bench.py HOST PORT CERT KEY CA UID SECONDS
"""
import os
import sys
import time

from kmip.core import attributes, enums
from kmip.core.messages import payloads
from kmip.services.kmip_client import KMIPProxy


def main():
    host, port, cert, key, ca, uid, secs = sys.argv[1:8]
    c = KMIPProxy(host=host, port=int(port), certfile=cert, keyfile=key, ca_certs=ca,
                  ssl_version="PROTOCOL_TLSv1_2", kmip_version=enums.KMIPVersion.KMIP_1_4,
                  config_file="/dev/null")
    c.open()
    params = attributes.CryptographicParameters(
        block_cipher_mode=enums.BlockCipherMode.GCM,
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES, tag_length=16)
    dek, aad = os.urandom(32), b"bench=1"
    blob = None
    for direction in ("wrap", "unwrap"):
        lat, end = [], time.monotonic() + float(secs)
        while time.monotonic() < end:
            iv = os.urandom(12)
            t0 = time.monotonic()
            if direction == "wrap":
                r = c.send_request_payload(enums.Operation.ENCRYPT, payloads.EncryptRequestPayload(
                    unique_identifier=uid, cryptographic_parameters=params, data=dek,
                    iv_counter_nonce=iv, auth_additional_data=aad))
                assert r.auth_tag is not None and len(r.auth_tag) == 16
                blob = (iv, r.data, r.auth_tag)
            else:
                r = c.send_request_payload(enums.Operation.DECRYPT, payloads.DecryptRequestPayload(
                    unique_identifier=uid, cryptographic_parameters=params, data=blob[1],
                    iv_counter_nonce=blob[0], auth_additional_data=aad, auth_tag=blob[2]))
                assert r.data == dek
            lat.append((time.monotonic() - t0) * 1e3)
        lat.sort()
        el = float(secs)
        print("pykmip   %-6s threads=1 ops=%d errors=0 ops/s=%.1f median_ms=%.2f p99_ms=%.2f" % (
            direction, len(lat), len(lat) / el, lat[len(lat) // 2], lat[len(lat) * 99 // 100]))
    c.close()


if __name__ == "__main__":
    main()
