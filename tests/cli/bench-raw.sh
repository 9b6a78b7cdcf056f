# bench on raw images: the "Sending ..." and "Run completed in X seconds." lines (the time
# masked), write tests with drained and undrained flushes, requests past the end, every option
# error; and with -d > 1 several requests are really in flight at once (seen with strace).
. "$top_srcdir/tests/lib.sh"
need_qemu

"$QEMU_IMG" create -q -f raw a.raw 4M
printf 'abc' >odd.raw && truncate -s 1000 odd.raw

# same_bench ARGS...: as `same`, with the run time masked.
same_bench() {
    checks=$((checks + 1))
    capture q "$QEMU_IMG" bench "$@"
    capture f "$FLATIMG" bench "$@"
    local bad=
    for s in out err rc; do
        diff -u <(normalise "q.$s" | sed 's/^Run completed in .* seconds\.$/Run completed/') \
            <(normalise "f.$s" | sed 's/^Run completed in .* seconds\.$/Run completed/') \
            >"diff.$s" || bad="$bad $s"
    done
    if [ -n "$bad" ]; then
        fail "differs from qemu-img ($bad ): bench $*"
        for s in $bad; do sed 's/^/    /' "diff.$s"; done
    else
        pass "bench $*"
    fi
}

same_bench -c 10 a.raw
same_bench -c 0x10 -d 1 a.raw
same_bench -c 1000 -d 8 -S 12345 a.raw
same_bench -c 100 -s 64k -S 0 a.raw
same_bench -c 3 -s 0 a.raw
same_bench -c 5 -U -f raw a.raw
same_bench -c 5 -q -o 1M --pattern 0x10 a.raw
same_bench -c 10 -n -t none a.raw
same_bench -c 10 -i threads a.raw
same_bench -c 10 -i io_uring a.raw
same_bench -c 10 --image-opts driver=raw,file.filename=a.raw
same_bench -w -c 5 a.raw
same_bench -w -f raw -c 5 -q --pattern 7 a.raw
same_bench -w -c 100 --flush-interval 64 a.raw
same_bench -w -c 100 -d 4 --flush-interval 4 a.raw
same_bench -w -c 100 -d 4 --flush-interval 10 --no-drain a.raw
same_bench -w -c 100 -t writethrough -d 2 a.raw
truncate -s 1M pat.raw
"$FLATIMG" bench -w -f raw -c 256 -d 8 --pattern 7 pat.raw >/dev/null
expect "the written pattern is on disk" cmp pat.raw <(head -c 1M /dev/zero | tr '\0' '\a')

# requests reaching past the end fail with EIO
same_bench -o 4M -c 2 a.raw
same_bench -o 4190000 -c 2 a.raw
same_bench -s 8M -c 1 a.raw
same_bench -c 3 -d 4 -S 1M odd.raw
same_bench -c 2 -s 1000 odd.raw

# errors
same_bench -c 10 -n a.raw
same_bench -c 10 -i native a.raw
same_bench -c 10 -i foo a.raw
same_bench -c 10 -t foo a.raw
same_bench -c x a.raw
same_bench -c -1 a.raw
same_bench -d x a.raw
same_bench -d 2147483648 a.raw
same_bench -s 1x a.raw
same_bench -s 4G a.raw
same_bench -S 1x a.raw
same_bench -o 1x a.raw
same_bench --pattern 256 a.raw
same_bench --flush-interval 10 a.raw
same_bench -w --flush-interval 10 a.raw
same_bench -w --flush-interval x a.raw
same_bench -U -w -c 5 a.raw
same_bench
same_bench a.raw a.raw
same_bench -x a.raw
same_bench -c
same_bench -c 3 nonexistent

# parallelism: with -d 4, more than one worker thread issues reads (the main thread, whose id
# is the first line's, only opens the image)
readers() { # TRACEFILE: how many threads other than the main one called pread64
    awk 'NR == 1 {main = $1} $2 ~ /^pread64/ && $1 != main {print $1}' "$1" | sort -u | wc -l
}
if command -v strace >/dev/null 2>&1; then
    strace -f -qq -e trace=pread64,execve -o trace.txt "$FLATIMG" bench -c 400 -d 4 -f raw a.raw >/dev/null
    tids=$(readers trace.txt)
    expect "-d 4 reads from several threads ($tids)" test "$tids" -gt 1
    strace -f -qq -e trace=pread64,execve -o trace1.txt "$FLATIMG" bench -c 50 -d 1 -f raw a.raw >/dev/null
    tids=$(readers trace1.txt)
    expect "-d 1 reads from one thread ($tids)" test "$tids" -eq 1
else
    echo "strace not installed: parallelism not checked"
fi
finish
