#!/usr/bin/env python3
# qcow2-crash.py CRASHED.raw OLD.raw NEW: every 512-byte sector of CRASHED holds what OLD or NEW
# holds there (NEW is a raw file, or a byte value: every written sector filled with it). Prints
# the first bad sector and exits 1 otherwise.
import sys
crashed = open(sys.argv[1], 'rb').read()
old = open(sys.argv[2], 'rb').read()
new_arg = sys.argv[3]
new = None if new_arg.isdigit() else open(new_arg, 'rb').read()
fill = bytes([int(new_arg)]) * 512 if new is None else None
if len(crashed) != len(old):
    sys.exit('size %d, expected %d' % (len(crashed), len(old)))
for off in range(0, len(old), 512):
    c = crashed[off:off + 512]
    if c == old[off:off + 512]:
        continue
    if c == (fill if new is None else new[off:off + 512]):
        continue
    sys.exit('sector at %d is neither old nor new' % off)
