#!/bin/sh
# The C suite as a plain glibc program under LD_PRELOAD, in valgrind's memcheck: any error or
# definite leak fails it.
cd "$(dirname "$0")/.." || exit 2
so=$PWD/target/release/librtshm.so
if ! command -v valgrind >/dev/null 2>&1; then
    echo "0 passed, 0 failed, 1 skipped (valgrind is not installed)"
    exit 0
fi
case " ${RUSTFLAGS:-} ${CARGO_ENCODED_RUSTFLAGS:-} " in
    *target-cpu*)
        echo "0 passed, 0 failed, 1 skipped (RUSTFLAGS sets target-cpu: valgrind cannot run every instruction that allows)"
        exit 0 ;;
esac
# Children are forked, not exec'd, so valgrind follows them without --trace-children.
RTSHM_UNDER_VALGRIND=1 LD_PRELOAD="$so" valgrind -q --error-exitcode=99 \
    --leak-check=full --errors-for-leak-kinds=definite build/suite-preload
