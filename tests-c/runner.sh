#!/bin/sh
# The suite's own interface: --list names every test, a name that is no test is an error (not
# a run of nothing), and a named test runs alone.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.." || exit 2
suite=build/suite-shared
first=$("$suite" --list | head -n 1)
check runner_lists_tests sh -c "[ \$($suite --list | wc -l) -gt 100 ]"
check runner_refuses_an_unknown_test_name sh -c "$suite no_such_test 2>/dev/null; [ \$? -eq 2 ]"
check runner_runs_a_named_test_alone sh -c "$suite $first | grep -qx '1 passed, 0 failed, 0 skipped'"
finish
