#!/usr/bin/env bash
# Build flatimg and run the whole test suite twice: a normal build, then one with
# AddressSanitizer and UBSan. Prints "N passed, N failed" at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
autoreconf -fi >/dev/null 2>&1 || { echo "autoreconf failed"; autoreconf -fi; exit 1; }
passed=0; failed=0; status=0
run_build() { # DIR CONFIGURE-ARGS...
    local dir=$1; shift
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$dir" && "$top/configure" -q "$@" && make -j"$(nproc)" >/dev/null) || { echo "build in $dir failed"; status=1; return; }
    (cd "$dir" && make -j"$(nproc)" check) || status=1
    for log in $(find "$dir/tests" -name '*.trs'); do
        case "$(sed -n 's/^:test-result: //p' "$log")" in
            PASS|SKIP) passed=$((passed + 1)) ;;
            *) failed=$((failed + 1)); echo "failed: ${log%.trs}"; sed 's/^/    /' "${log%.trs}.log" | grep -E '^    (FAIL|    [-+])' | head -40 ;;
        esac
    done
}
run_build build-ci
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_build build-ci-asan --enable-sanitizers
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
