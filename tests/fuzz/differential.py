#!/usr/bin/python3
"""Differential check: libenvelope and the Python reference decoder
(tests/reference/envelope_decode.py, written from docs/FORMAT.md alone) must
agree, on every input of the header and frame fuzz corpora, on

  * open:   accept or reject the message, with the KEKs of tests/vectors/;
  * header: whether the key-less reader reads it: a message header, a
            key block or a record, by its magic (the C side is
            envelope_inspector, which reads all three).

usage: differential.py DRIVER [--codes] [header=DIR | stream=DIR]...
  DRIVER   the C side (tests/fuzz/differential_driver.c, built with
           libenvelope)
  --codes  also list inputs where both reject but name different errors
           (informational: the two readers may check in another order)
  header=DIR, stream=DIR
           other folders of inputs (a fuzzing run's grown corpus) instead
           of the committed ones; stream= inputs start with a chunk program
Exit status 1 on any accept/reject disagreement, listing each.
"""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
tests = os.path.dirname(here)
sys.path.insert(0, os.path.join(tests, "reference"))
import envelope_decode as ref  # noqa: E402

VECTORS = os.path.join(tests, "vectors")
KEKS = [os.path.join(VECTORS, "kek1.pem"), os.path.join(VECTORS, "kek2.pem")]
CORPORA = [  # (folder, inputs start with fuzz_decrypt_stream's chunk program)
    ("corpus/header", False), ("regressions/header", False),
    ("corpus/decrypt_stream", True), ("regressions/decrypt_stream", True),
]


def py_verdicts(data, keks):
    try:
        ref.decrypt(data, keks)
        opened = "ok"
    except ref.EnvelopeError as e:
        opened = e.code
    try:
        ref.parse_any(data)
        header = "ok"
    except ref.EnvelopeError as e:
        header = e.code
    return opened, header


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    driver, codes = argv[1], "--codes" in argv[2:]
    extra = [(a.split("=", 1)[1], a.startswith("stream=")) for a in argv[2:]
             if a.startswith(("header=", "stream="))]
    keks = [ref.load_kek(p) for p in KEKS]
    checked, disagree, differ = 0, [], []
    for folder, strip in extra or CORPORA:
        d = os.path.join(here, folder)
        if not os.path.isdir(d):
            continue
        files = sorted(os.path.join(d, f) for f in os.listdir(d)
                       if os.path.isfile(os.path.join(d, f)))
        if not files:
            continue
        cmd = [driver] + (["--strip-chunk-program"] if strip else []) + KEKS + ["--"] + files
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            path, c_open, c_header = line.split("\t")
            with open(path, "rb") as f:
                data = f.read()
            if strip:
                data = data[1 + data[0] % 16:]
            p_open, p_header = py_verdicts(data, keks)
            checked += 1
            name = os.path.relpath(path, here)
            for what, c, p in (("open", c_open, p_open), ("header", c_header, p_header)):
                if (c == "ok") != (p == "ok"):
                    disagree.append(f"{name}: {what}: C {c}, Python {p}")
                elif c != p:
                    differ.append(f"{name}: {what}: C {c}, Python {p}")
    for d in disagree:
        print("DISAGREE " + d)
    if codes:
        for d in differ:
            print("codes differ " + d)
    print(f"differential: {checked} inputs, {len(disagree)} accept/reject disagreements, "
          f"{len(differ)} with different error names")
    if checked == 0:
        print("differential: no corpus found", file=sys.stderr)
        return 1
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
