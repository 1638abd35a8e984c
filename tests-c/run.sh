#!/bin/sh
# make test: every test, then one closing line that adds up all the parts.
# Each part prints "N passed, N failed[, N skipped]" last; cargo prints its own summary.
cd "$(dirname "$0")/.." || exit 2
so=$PWD/target/release/librtshm.so
log=$(mktemp); trap 'rm -f "$log" "$log.before"' EXIT
total_p=0 total_f=0 total_s=0 status=0

# What /dev/shm holds: each part must leave it as it found it.
shm_entries() { ls -A /dev/shm 2>/dev/null | sort; }

part() {
    title=$1; shift
    echo "== $title"
    shm_entries > "$log.before"
    "$@" > "$log" 2>&1; rc=$?
    cat "$log"
    # Anything new in /dev/shm was left by this part (a crashed test, whatever the name): it
    # fails the part. This user's rtshm-* and sem.* entries are removed; others are only named.
    left=$(shm_entries | comm -13 "$log.before" -)
    if [ -n "$left" ]; then
        echo "FAIL $title left in /dev/shm: $(echo "$left" | tr '\n' ' ')"
        echo "$left" | while IFS= read -r name; do
            case $name in
                rtshm-*|sem.*) [ -O "/dev/shm/$name" ] && rm -f -- "/dev/shm/$name" ;;
            esac
        done
        rc=1
    fi
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    cargo_line=$(grep -E '^test result: ' "$log" | tail -n 1)
    if [ -n "$cargo_line" ]; then
        p=$(echo "$cargo_line" | sed -E 's/.* ([0-9]+) passed.*/\1/')
        f=$(echo "$cargo_line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
        s=$(echo "$cargo_line" | sed -E 's/.* ([0-9]+) ignored.*/\1/')
    elif [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
        s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    else
        p=0 f=1 s=0
        echo "FAIL $title printed no count (exit $rc)"
    fi
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { f=1; echo "FAIL $title exited $rc"; }
    total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + ${s:-0}))
    [ "$f" -eq 0 ] || status=1
}

valgrind_suite() {
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "0 passed, 0 failed, 1 skipped (valgrind is not installed)"
        return 0
    fi
    case " ${RUSTFLAGS:-} ${CARGO_ENCODED_RUSTFLAGS:-} " in
        *target-cpu*)
            echo "0 passed, 0 failed, 1 skipped (RUSTFLAGS sets target-cpu: valgrind cannot run every instruction that allows)"
            return 0 ;;
    esac
    # Children are forked, not exec'd, so valgrind follows them without --trace-children.
    RTSHM_UNDER_VALGRIND=1 LD_PRELOAD="$so" valgrind -q --error-exitcode=99 \
        --leak-check=full --errors-for-leak-kinds=definite build/suite-preload
}

if [ "${1:-}" != sanitizers ]; then
    part "Rust unit tests (cargo test)" cargo test --release --lib --quiet
    part "header" sh tests-c/header.sh
    part "footprint and ABI" sh tests-c/abi.sh
    part "C suite, linked -lrtshm" build/suite-shared
    part "the suite's runner (--list, test names)" sh tests-c/runner.sh
    part "C suite, linked librtshm.a" build/suite-static
    part "C suite, glibc program under LD_PRELOAD" env LD_PRELOAD="$so" build/suite-preload
    part "linking: libraries, plugins, Python extensions, old and new binaries" sh tests-c/linking.sh
    part "install" sh tests-c/install.sh
    part "docs/CONFORMANCE.md" sh tests-c/docs.sh
    part "CPython multiprocessing and the README recipes" sh tests-py/run.sh
fi
part "C suite with ASan+UBSan, linked -lrtshm" build/asan-shared
part "C suite with ASan+UBSan, linked librtshm.a" build/asan-static
part "C suite under valgrind memcheck, LD_PRELOAD" valgrind_suite

echo "total: $total_p passed, $total_f failed, $total_s skipped"
exit $status
