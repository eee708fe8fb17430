#!/usr/bin/python3
"""scan_core.py SECRETS_HEX PIN_FILE CORE... - looks for secrets in core files.

SECRETS_HEX: a control value (first line; it must be found in every core,
or the scan proves nothing) then one DEK per line, hex. PIN_FILE: the PIN.
Prints what was found where; exit 1 if any DEK or the PIN is in a core or
the control is missing from one.
"""
import sys


def main():
    with open(sys.argv[1], encoding="ascii") as f:
        lines = [bytes.fromhex(x) for x in f.read().split()]
    control, deks = lines[0], lines[1:]
    with open(sys.argv[2], "rb") as f:
        pin = f.read().strip()
    bad = 0
    for path in sys.argv[3:]:
        with open(path, "rb") as f:
            data = f.read()
        if control not in data:
            print(f"FAIL {path}: the control value is not in the core: the scan proves nothing")
            bad += 1
        found = [i for i, d in enumerate(deks) if d in data]
        for i in found:
            print(f"FAIL {path}: DEK {i} found at offset {data.find(deks[i])}")
        pin_at = data.find(pin)
        if pin_at >= 0:
            print(f"FAIL {path}: the PIN found at offset {pin_at}")
        bad += len(found) + (pin_at >= 0)
        print(f"{path}: {len(data)} bytes; control found; {len(found)} of {len(deks)} DEKs "
              f"and {'the' if pin_at >= 0 else 'no'} PIN found")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
