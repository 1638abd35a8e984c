#!/bin/sh
# docs/CONFORMANCE.md stays true: every test it cites exists, every test is cited, no gaps.
. "$(dirname "$0")/lib.sh"
doc=docs/CONFORMANCE.md
tests=$(grep -ohE '^TEST\([a-z0-9_]+' tests-c/*.c | sed 's/TEST(//'; grep -ohE '^ *fn [a-z0-9_]+\(\)' src/*.rs | sed -E 's/ *fn ([a-z0-9_]+).*/\1/'; grep -ohE '(check|fails_with|ok|bad|skip) "?[a-z0-9_]+' tests-c/*.sh tests-py/*.sh | sed -E 's/^[a-z_]+ "?//')
cited=$(grep -oE '`[a-z][a-z0-9_]*(_\*)?`' "$doc" | tr -d '`' | sort -u)
missing=""
for c in $cited; do
    case $c in
        *_\*) prefix=${c%\*}; echo "$tests" | grep -q "^$prefix" || missing="$missing $c" ;;
        *) echo "$tests" | grep -qx "$c" || missing="$missing $c" ;;
    esac
done
check conformance_cites_only_existing_tests sh -c "[ -z '$missing' ] || { echo 'cited but not found:$missing'; exit 1; }"
uncited=""
for t in $(grep -ohE '^TEST\([a-z0-9_]+' tests-c/*.c | sed 's/TEST(//'); do
    echo "$cited" | grep -qx "$t" || uncited="$uncited $t"
done
check conformance_cites_every_c_test sh -c "[ -z '$uncited' ] || { echo 'not cited:$uncited'; exit 1; }"
check conformance_has_no_gap sh -c "! grep -q '| \*\*gap\*\*' $doc"
finish
