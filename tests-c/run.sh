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
    if [ "$(id -u)" -eq 0 ] && unshare --mount --propagation private true 2>/dev/null; then
        # A /dev/shm of the part's own (a private mount namespace): whatever is left there when
        # it ends, whatever its name, a test of this part left, and it fails the part; the
        # namespace takes it away. Other processes' objects are never looked at.
        unshare --mount --propagation private sh -c '
            log=$1; shift
            mount -t tmpfs -o mode=1777 tmpfs /dev/shm || exit 99
            "$@" > "$log" 2>&1; rc=$?
            left=$(ls -A /dev/shm)
            if [ -n "$left" ]; then
                echo "FAIL this part left in /dev/shm: $(echo $left)" >> "$log"
                [ "$rc" -eq 0 ] && rc=1
            fi
            exit $rc' sh "$log" "$@"
        rc=$?
    else
        # Without root: what appeared in /dev/shm during the part is named (it may be another
        # process's), and nothing is removed.
        shm_entries > "$log.before"
        "$@" > "$log" 2>&1; rc=$?
        left=$(shm_entries | comm -13 "$log.before" -)
        [ -z "$left" ] || echo "  # new in /dev/shm during this part (a test's, or another process's): $(echo $left)" >> "$log"
    fi
    cat "$log"
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
    part "the rtshm command" sh tests-cmd/run.sh
    part "docs/CONFORMANCE.md" sh tests-c/docs.sh
    part "CPython multiprocessing and the README recipes" sh tests-py/run.sh
fi
part "C suite with ASan+UBSan, linked -lrtshm" build/asan-shared
part "C suite with ASan+UBSan, linked librtshm.a" build/asan-static
part "C suite under valgrind memcheck, LD_PRELOAD" sh tests-c/valgrind.sh

echo "total: $total_p passed, $total_f failed, $total_s skipped"
exit $status
