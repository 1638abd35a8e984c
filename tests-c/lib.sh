# Shell tests' harness: one "ok NAME" or "FAIL NAME" line per test, then a count.
passed=0 failed=0 skipped=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; shift; for l in "$@"; do echo "  # $l"; done; failed=$((failed + 1)); }
# check NAME COMMAND...: the command succeeds (its output is shown on failure).
check() {
    name=$1; shift
    if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}
skip() { echo "skip $1: $2"; skipped=$((skipped + 1)); }
# needs TOOL NAME: true if TOOL is installed, else NAME is skipped.
needs() { command -v "$1" >/dev/null 2>&1 || { skip "$2" "$1 is not installed"; return 1; }; }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; }
