#!/bin/bash
# commit -p prints as qemu-img 7.2's run_block_job does: img_commit's own "0.00", one record each
# time its job loop polls (a do-while: at least once, 0.00 when there is nothing to commit), then
# "100.00" once more after the job. qemu's loop polls about once per I/O its job waits for, fewer
# when its thread pool completes several in one go, so how often a value repeats depends on
# timing; flatimg prints the fewest qemu can: once per committed request, once if there is none.
# The comparison is therefore byte-exact on everything but the repetition counts, and qemu's
# count of every record must be at least flatimg's.
. "$top_srcdir/tests/lib.sh"
need_qemu

chain2() { # chain2 BASEFMT: b.BASEFMT <- t.qcow2, 4M
    rm -f b.* t.qcow2 u.qcow2
    "$QEMU_IMG" create -q -f "$1" "b.$1" 4M
    "$QEMU_IMG" create -q -f qcow2 -b "b.$1" -F "$1" t.qcow2
}
chain3() { chain2 qcow2; "$QEMU_IMG" create -q -f qcow2 -b t.qcow2 -F qcow2 u.qcow2; }
setup_empty() { chain2 qcow2; }
setup_rawbase() { chain2 raw; }
setup_data() { chain2 qcow2; "$QEMU_IO" -c "write -P 7 64k 64k" t.qcow2 >/dev/null; }
setup_small() { chain2 qcow2; "$QEMU_IO" -c "write -P 7 8k 4k" t.qcow2 >/dev/null; }
setup_chain3() { chain3; }
setup_chain3_data() { chain3; "$QEMU_IO" -c "write -P 5 1M 64k" u.qcow2 >/dev/null; }
setup_big() { # grows the base: its truncate is part of the job
    rm -f b.qcow2 t.qcow2
    "$QEMU_IMG" create -q -f qcow2 b.qcow2 1M
    "$QEMU_IMG" create -q -f qcow2 -b b.qcow2 -F qcow2 t.qcow2 4M
    "$QEMU_IO" -c "write -P 3 3M 64k" t.qcow2 >/dev/null
}

records() { tr '\r' '\n' <"$1"; }
# run SETUP PROG ARGS...: fresh images, then PROG commit ARGS into $tag.{out,err,rc}
run() {
    local setup=$1 tag=$2; shift 2
    "$setup"
    "$@" >"$tag.out" 2>"$tag.err"
    echo $? >"$tag.rc"
}

# case EXPECTED SETUP ARGS...: flatimg's stdout is exactly EXPECTED (printf format); qemu's equals
# it once repeated records are merged; qemu repeats every record at least as often.
case_() {
    local expected=$1 setup=$2; shift 2
    run "$setup" f "$FLATIMG" commit "$@"
    expect "flatimg commit $* ($setup) prints its records once per poll" \
        test "$(cat -A f.out)" = "$(printf "$expected" | cat -A)"
    for i in 1 2 3; do
        run "$setup" q "$QEMU_IMG" commit "$@"
        checks=$((checks + 1))
        if diff <(records q.out | uniq) <(records f.out | uniq) >/dev/null &&
            diff <(normalise q.err) <(normalise f.err) >/dev/null && diff q.rc f.rc >/dev/null; then
            pass "qemu-img commit $* ($setup, run $i) prints the same records"
        else
            fail "qemu-img commit $* ($setup, run $i) differs: $(cat -A q.out q.err q.rc | tr '\n' ' ')"
        fi
        records q.out | uniq -c >q.counts
        records f.out | uniq -c >f.counts
        fewer=$(paste q.counts f.counts | awk -F'\t' '{ split($1, q, " "); split($2, f, " ") }
            q[1] + 0 < f[1] + 0')
        expect "qemu-img repeats no record less often than flatimg prints it (run $i) $fewer" \
            test -z "$fewer"
    done
}

R0='    (0.00/100%%)\r' R100='    (100.00/100%%)\r'
case_ "$R0$R0$R100\nImage committed.\n" setup_empty -p t.qcow2
case_ "$R0$R0$R100\nImage committed.\n" setup_rawbase -p t.qcow2
case_ "$R0$R0$R100\nImage committed.\n" setup_empty -p -d t.qcow2
case_ "$R0$R100$R100\nImage committed.\n" setup_data -p t.qcow2
case_ "$R0$R100$R100\nImage committed.\n" setup_small -p -t unsafe t.qcow2
case_ "$R0$R0$R100\nImage committed.\n" setup_chain3 -p -b b.qcow2 u.qcow2
case_ "$R0$R100$R100\nImage committed.\n" setup_chain3_data -p -b b.qcow2 u.qcow2
case_ "$R0$R100$R100\nImage committed.\n" setup_big -p t.qcow2
case_ "" setup_data -p -q t.qcow2

# before the job starts there is only img_commit's own record, then the message
setup_empty
same commit -p -b nope t.qcow2
rm -f t.qcow2
"$QEMU_IMG" create -q -f qcow2 t.qcow2 4M
same commit -p t.qcow2

# several requests: the values step by committed granules (the base's clusters, at most 1M per
# request) and qemu's (whichever its polls saw) are among flatimg's
mk() {
    rm -f b.qcow2 m.qcow2 t.qcow2
    "$QEMU_IMG" create -q -f qcow2 b.qcow2 4M
    "$QEMU_IO" -c "write -P 1 0 1M" b.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 -b b.qcow2 -F qcow2 m.qcow2
    "$QEMU_IO" -c "write -P 2 512k 1M" m.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 -b m.qcow2 -F qcow2 t.qcow2 6M
    "$QEMU_IO" -c "write -P 3 1M 64k" -c "write -z 3M 4k" -c "write -P 4 5M 64k" t.qcow2 >/dev/null
}
values() { tr '\r' '\n' | grep -o '[0-9.]*/100%' | LC_ALL=C sort -u; }
mk
"$FLATIMG" commit -p t.qcow2 >f.out || fail "commit -p"
values <f.out >f.values
expect "flatimg steps by committed clusters" \
    test "$(tr '\n' ' ' <f.values)" = "0.00/100% 100.00/100% 33.33/100% 66.67/100% "
expect "flatimg ends with the message" grep -q "Image committed." f.out
for i in 1 2 3; do
    mk
    "$QEMU_IMG" commit -p t.qcow2 | values >q.values
    expect "qemu-img's values ($(tr '\n' ' ' <q.values)) are among flatimg's" \
        test -z "$(LC_ALL=C comm -23 q.values f.values)"
done

# progress counts the base's granules (64k for a raw base), not the top's 4k clusters: three
# small ranges are a third each
mk_gran() {
    rm -f b.raw t.qcow2
    "$QEMU_IMG" create -q -f raw b.raw 4M
    "$QEMU_IMG" create -q -f qcow2 -o cluster_size=4k -b b.raw -F raw t.qcow2
    "$QEMU_IO" -c "write -P 1 0 4k" -c "write -P 2 1M 4k" -c "write -P 3 2M 60k" t.qcow2 >/dev/null
}
mk_gran
"$FLATIMG" commit -p t.qcow2 >f.out
R33='    (33.33/100%%)\r' R67='    (66.67/100%%)\r'
expect "flatimg counts 64k granules" \
    test "$(cat -A f.out)" = "$(printf "$R0$R33$R67$R100$R100\nImage committed.\n" | cat -A)"
values <f.out >f.values
for i in 1 2 3; do
    mk_gran
    "$QEMU_IMG" commit -p t.qcow2 | values >q.values
    expect "qemu-img's values ($(tr '\n' ' ' <q.values)) are among flatimg's" \
        test -z "$(LC_ALL=C comm -23 q.values f.values)"
done
finish
