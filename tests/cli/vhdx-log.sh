# vhdx log replay as qemu-img 7.2: an image left with an active log (built by tests/gen-vhdx-log.py
# from a qemu-made image) is refused read-only with qemu's hint, replayed by a read-write open
# (check -r, which counts it as a repaired corruption, or a write), and logs that are not valid
# (checksum, GUID, stale or wrapped sequences, bad descriptors) are handled as qemu does.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
. "$top_srcdir/tests/formats4-lib.sh"
need_qemu
GEN="python3 $top_srcdir/tests/gen-vhdx-log.py"
M=1048576

"$QEMU_IMG" create -q -f vhdx -o block_size=1M a.vhdx 8M
qio a.vhdx 'write -P 0x11 0 64k' 'write -P 0x22 3M 64k'
# block 0 lies at 8 MiB, block 3 at 9 MiB; the file ends at 10 MiB
crash() { cp a.vhdx h.vhdx; $GEN h.vhdx "$1"; }
replay() { # the log is refused read-only and replayed by check -r
    same info h.vhdx
    same_fresh "cp ../h.vhdx x && \$IMG check -r all x; echo rc=\$?; \"\$QEMU_IMG\" check x;
        stat -c %s x; \"\$QEMU_IMG\" convert -O raw x x.raw && sha256sum x.raw"
}
replay_write() { # a write through flatimg's driver replays as qemu-io does
    cp h.vhdx w.vhdx && qio w.vhdx 'write -P 0x77 6M 4k'
    cp h.vhdx f.vhdx && flat_write f.vhdx $((6 * M)) 4096 0x77
    "$QEMU_IMG" convert -O raw w.vhdx w.raw; "$QEMU_IMG" convert -O raw f.vhdx f.raw
    expect "a write replays the log as qemu-io does" cmp w.raw f.raw
    same check f.vhdx
}
# data, zeros and a BAT update that allocates block 5 past the end (the file grows to 12 MiB)
crash "[{'ops': [('fill', 8*$M, 0x55), ('zero', 8*$M + 65536, 8192), ('bat', 5, 10*$M),
                 ('fill', 10*$M + 4096, 0x66)], 'last': 11*$M + 4096, 'flushed': 10*$M}]"
replay
same info -U --output=json h.vhdx
same map h.vhdx
same convert -O raw h.vhdx out.raw
same_check h.vhdx
same_fresh "cp ../h.vhdx x && \$IMG check -r leaks --output=json x"
replay_write
# a sequence of three entries that wraps around the end of the 1 MiB log
crash "[{'at': $M - 8192, 'ops': [('fill', 8*$M, 0x31)]},
        {'ops': [('fill', 8*$M + 4096, 0x32), ('fill', 8*$M + 8192, 0x32)]},
        {'ops': [('zero', 8*$M, 4096)]}]"
replay; replay_write
# two sequences: the one with the higher sequence number wins, wherever it lies
crash "[{'seq': 40, 'ops': [('fill', 8*$M, 0x41)]}, {'seq': 41, 'ops': [('fill', 8*$M, 0x42)]},
        {'at': 65536, 'seq': 7, 'ops': [('fill', 8*$M + 4096, 0x43)]}]"
replay
# sequence numbers that skip: qemu checks them only from the third entry of a sequence
crash "[{'seq': 5, 'ops': [('fill', 8*$M, 0x51)]}, {'seq': 9, 'ops': [('fill', 8*$M, 0x52)]},
        {'seq': 20, 'ops': [('fill', 8*$M, 0x53)]}]"
replay
# an entry with padding sectors after its data
crash "[{'pad': 2, 'ops': [('fill', 8*$M, 0x61)]}]"
replay
# logs that are not replayed: bad checksum, another GUID, an empty entry list
crash "[{'badcrc': True, 'ops': [('fill', 8*$M, 0x71)]}]"; replay
crash "[{'guid': b'x' * 16, 'ops': [('fill', 8*$M, 0x72)]}]"; replay
crash "[]"; replay
# logs that make the image unusable, as in qemu: bad descriptors, a file shorter than flushed
crash "[{'descsig': b'junk', 'ops': [('fill', 8*$M, 0x73)]}]"; same info h.vhdx; same check -r all h.vhdx
crash "[{'descseq': 99, 'ops': [('fill', 8*$M, 0x74)]}]"; same info h.vhdx; same check -r all h.vhdx
crash "[{'flushed': 100*$M, 'ops': [('fill', 8*$M, 0x75)]}]"; same info h.vhdx
same check -r all h.vhdx
finish
