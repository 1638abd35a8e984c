#!/bin/sh
# The rtshm command (issue 15): ls, df, rm and gc on objects and semaphores that another
# process made and holds (a descriptor, a mapping only, neither), in an RTSHM_DIR and in
# /dev/shm, as root and as uid 65534, or as the user who runs it.
#
# Two phases. The first uses the machine's own /proc: the command's interface, and what a user
# who cannot read every process gets ("unknown"). The second runs in a new PID namespace with
# its own /proc and /dev/shm (a user namespace too without root), so that every process is one
# of the test's and every answer is exact; it is skipped, saying why, where none can be made.
. "$(dirname "$0")/../tests-c/lib.sh"
cd "$(dirname "$0")/.." || exit 2
R=$PWD/target/release/rtshm
H=$PWD/build/cmd-holder
py=$(command -v python3 || true)
passed=${CMD_PASSED:-0} failed=${CMD_FAILED:-0} skipped=${CMD_SKIPPED:-0}
root=; [ "$(id -u)" -eq 0 ] && root=1
nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"

tmp=$(mktemp -d /tmp/rtshm-cmd.XXXXXX) || exit 2
chmod 755 "$tmp"
u=$(basename "$tmp")
pids=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
    rm -f /dev/shm/"$u".* /dev/shm/sem."$u".*
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# hold VAR COMMAND...: runs the holder in the background until it says it is ready (it has
# made and holds what it was asked to), then sets VAR to its pid.
hold() {
    var=$1; shift
    rm -f "$tmp/ready"; mkfifo "$tmp/ready"
    "$@" > "$tmp/ready" &
    p=$!; pids="$pids $p"
    read -r line < "$tmp/ready"
    [ "$line" = ready ] || { echo "the holder failed: $*"; return 1; }
    eval "$var=$p"
}
release() { kill "$1"; wait "$1" 2>/dev/null; }
# fails_with NAME CODE PATTERN COMMAND...: COMMAND exits with CODE and its standard error
# matches PATTERN.
fails_with() {
    name=$1 code=$2 pattern=$3; shift 3
    err=$("$@" 2>&1 >/dev/null); rc=$?
    if [ "$rc" -eq "$code" ] && echo "$err" | grep -qE -- "$pattern"; then ok "$name"
    else bad "$name" "exit $rc, expected $code" "$err"; fi
}
# Waits, without a fixed sleep, until every entry of DIR last changed SECONDS or more ago.
wait_older() {
    newest=$(for f in "$1"/* "$1"/.[!.]*; do [ -e "$f" ] || [ -L "$f" ] && stat -c '%Y %Z' "$f"; done | tr ' ' '\n' | sort -n | tail -n 1)
    while [ "$(date +%s)" -lt $((newest + $2)) ]; do sleep 0.2; done
}

if [ -z "${CMD_PHASE:-}" ]; then
# ---- Phase 1: the interface, on the machine's /proc.

help_of() {
    first=$("$R" "$1" --help | head -n 1)
    case $first in "Usage: rtshm $1 "*) ;; *) echo "first line: $first"; return 1 ;; esac
    [ "$("$R" help "$1")" = "$("$R" "$1" --help)" ] && [ "$("$R" "$1" -h)" = "$("$R" "$1" --help)" ]
}
for c in ls df rm gc help; do check "help_$c" help_of "$c"; done
every_command_listed() {
    for h in --help -h help; do
        out=$("$R" $h) || return 1
        for c in ls df rm gc help; do
            echo "$out" | grep -q "^  $c " || { echo "$h: no $c"; return 1; }
        done
    done
}
check help_lists_every_command every_command_listed
check version_is_the_library_version sh -c "[ \"\$($R --version)\" = \"rtshm \$(sed -n 's/^version = \"\\(.*\\)\"/\\1/p' Cargo.toml | head -n 1)\" ]"
# rtshm(1) is the help's text: every option of every command is in it; rtshm(7) names every
# variable of the library.
man_pages() {
    "$R" --roff 1 | cmp -s - build/rtshm.1 && "$R" --roff 7 | cmp -s - build/rtshm.7 || { echo "stale"; return 1; }
    for c in ls df rm gc; do
        for o in $("$R" $c --help | grep -o -- '--[a-z-]*' | sort -u); do
            grep -qF -- "$(echo "$o" | sed 's/-/\\-/g')" build/rtshm.1 || { echo "$o is not in rtshm.1"; return 1; }
        done
    done
    for v in RTSHM_DIR RTSHM_COMPAT RTSHM_COMPAT_LOG RTSHM_RESERVE; do
        grep -q "^.B $v\$" build/rtshm.7 || { echo "$v is not in rtshm.7"; return 1; }
    done
}
check man_pages_are_built_from_the_help man_pages
man_renders() {
    for p in build/rtshm.1 build/rtshm.7; do
        out=$(MANWIDTH=80 man -l "$p" 2>&1 >/dev/null)
        [ -z "$out" ] || { echo "$out"; return 1; }
        MANWIDTH=80 man -l "$p" | grep -q 'RTSHM(' || return 1
    done
}
if needs man man_pages_render; then check man_pages_render man_renders; fi

fails_with no_command_is_a_usage_error 2 'no command given' "$R"
fails_with unknown_command_is_a_usage_error 2 'unknown command nope' "$R" nope
fails_with unknown_option_is_a_usage_error 2 'unknown option --nope' "$R" --nope
fails_with unknown_command_option_is_a_usage_error 2 "^Try 'rtshm ls --help'.\$" "$R" ls --nope
fails_with other_commands_option_is_a_usage_error 2 'unknown option --dry-run' "$R" ls --dry-run
fails_with extra_argument_is_a_usage_error 2 'unexpected argument extra' "$R" ls extra
fails_with rm_without_a_name_is_a_usage_error 2 'no NAME given' "$R" rm
fails_with bad_duration_is_a_usage_error 2 'takes a duration' "$R" gc --older-than 5x
fails_with missing_value_is_a_usage_error 2 '--older-than needs a value' "$R" gc --older-than
fails_with bad_top_is_a_usage_error 2 '--top takes a number' "$R" df --top x
fails_with shm_and_sem_is_a_usage_error 2 'exclude each other' "$R" rm --shm --sem /x
fails_with help_of_no_command_is_a_usage_error 2 'no command nope' "$R" help nope
fails_with help_takes_one_command 2 'unexpected argument df' "$R" help ls df
fails_with flag_with_a_value_is_a_usage_error 2 '--json takes no value' "$R" ls --json=1

for c in ls df gc "rm /x"; do
    # shellcheck disable=SC2086
    fails_with "missing_dir_$(echo $c | cut -d' ' -f1)" 1 "^rtshm: $tmp/none: No such file or directory \\(ENOENT\\)$" "$R" $c --dir "$tmp/none"
done
: > "$tmp/file"
fails_with dir_that_is_a_file 1 "$tmp/file: Not a directory \\(ENOTDIR\\)" "$R" ls --dir "$tmp/file"
fails_with missing_rtshm_dir 1 "$tmp/none: No such file or directory \\(ENOENT\\)" env RTSHM_DIR="$tmp/none" "$R" ls
# The library's own line says why, then the command's.
fails_with unusable_rtshm_dir 1 '^rtshm: RTSHM_DIR="relative" is not used: not an absolute path' env RTSHM_DIR=relative "$R" ls
fails_with unusable_rtshm_dir_for_rm 1 'RTSHM_DIR is set but not usable' env RTSHM_DIR=relative "$R" rm /x
mkdir -m 700 "$tmp/private"
if [ -n "$root" ]; then
    fails_with permission_denied 1 "cannot read $tmp/private: Permission denied \\(EACCES\\)" $nobody "$R" ls --dir "$tmp/private"
else
    chmod 000 "$tmp/private"
    fails_with permission_denied 1 "cannot read $tmp/private: Permission denied \\(EACCES\\)" "$R" ls --dir "$tmp/private"
    chmod 700 "$tmp/private"
fi

# rm and gc call rtshm's functions, linked into the binary: defined there, not imported.
if needs nm binary_defines_rtshm_functions; then
    check binary_defines_rtshm_functions sh -c "for f in shm_unlink sem_unlink; do nm -D $R | grep -q \" T \$f\$\" || { echo \"\$f is not defined\"; exit 1; }; done; ! ldd $R | grep -q rtshm"
fi

# rm: through the library, with its errors (docs/BEHAVIOUR.md), in an RTSHM_DIR.
d=$tmp/rm; mkdir "$d" "$d/subdir"
hold S env RTSHM_DIR="$d" "$H" shm /rm1 1 600 close shm /rm2 1 600 close sem /rm3 1 600 close \
    shm /both 1 600 close sem /both 1 600 close shm /rm4 1 600 close || { bad rm_objects "no holder"; finish; exit; }
release "$S"
check rm_object_and_semaphore sh -c "RTSHM_DIR=$d $R rm /rm1 rm2 /rm3 && [ ! -e $d/rm1 ] && [ ! -e $d/rm2 ] && [ ! -e $d/sem.rm3 ]"
fails_with rm_missing_is_enoent 1 '^rtshm: rm /nope: No such file or directory \(ENOENT\)$' env RTSHM_DIR="$d" "$R" rm /nope
fails_with rm_sem_missing_is_enoent 1 '^rtshm: rm /nope: No such file or directory \(ENOENT\)$' env RTSHM_DIR="$d" "$R" rm --sem /nope
long=$(printf "/%0256d" 0)
fails_with rm_long_name_is_enametoolong 1 'File name too long \(ENAMETOOLONG\)$' env RTSHM_DIR="$d" "$R" rm "$long"
fails_with rm_slash_inside_is_enoent 1 'rm /a/b: No such file or directory \(ENOENT\)$' env RTSHM_DIR="$d" "$R" rm /a/b
fails_with rm_dot_is_enoent 1 'rm /\.: No such file or directory \(ENOENT\)$' env RTSHM_DIR="$d" "$R" rm /.
fails_with rm_directory_is_eisdir 1 'rm /subdir: Is a directory \(EISDIR\)$' env RTSHM_DIR="$d" "$R" rm /subdir
fails_with rm_both_names_the_choice 1 'rm /both: both an object and a semaphore have this name' env RTSHM_DIR="$d" "$R" rm /both
check rm_sem_takes_the_semaphore sh -c "RTSHM_DIR=$d $R rm --sem /both && [ -e $d/both ] && [ ! -e $d/sem.both ] && RTSHM_DIR=$d $R rm /both && [ ! -e $d/both ]"
check rm_goes_on_after_a_failure sh -c "RTSHM_DIR=$d $R rm /nope /rm4 2>/dev/null; [ \$? -eq 1 ] && [ ! -e $d/rm4 ]"
printf x > "$d/twin"; printf x > "/dev/shm/$u.twin"
check rm_honours_rtshm_dir sh -c "RTSHM_DIR=$d $R rm /twin && [ ! -e $d/twin ] && [ -e /dev/shm/$u.twin ]"
printf x > "$d/twin"
check rm_honours_dir sh -c "$R rm --dir $d /twin && [ ! -e $d/twin ] && $R rm /$u.twin && [ ! -e /dev/shm/$u.twin ]"
if [ -n "$root" ]; then
    printf x > "/dev/shm/$u.roots"
    fails_with rm_another_users_is_eacces 1 "rm /$u.roots: Permission denied \\(EACCES\\)$" $nobody "$R" rm "/$u.roots"
    rm -f "/dev/shm/$u.roots"
fi

# A user who cannot read every process: a process of another user may hold anything, so its
# holders are unknown and gc leaves what it cannot judge (exit 3). (As root: phase 2.)
if [ -z "$root" ]; then
    if cat /proc/1/maps > /dev/null 2>&1; then
        skip unreadable_process_makes_holders_unknown "this user can read every process's /proc/PID/maps"
        skip gc_leaves_what_it_cannot_judge "this user can read every process's /proc/PID/maps"
    else
        mkdir "$tmp/mine"; printf x > "$tmp/mine/stale"
        check unreadable_process_makes_holders_unknown sh -c "$R ls --json --dir $tmp/mine | grep -q '\"holders\":\\[\\],\"holders_unknown\":[1-9]' && $R ls --dir $tmp/mine | grep -q '^/stale .* ?\$'"
        fails_with gc_leaves_what_it_cannot_judge 3 "^rtshm: gc: left shm /stale: [0-9]+ process(es)? could not be checked$" "$R" gc --older-than 0s --dir "$tmp/mine"
        check gc_left_it test -e "$tmp/mine/stale"
    fi
fi

# ---- Into the namespace: root makes it; another user in a user namespace of its own.
if [ -n "$root" ]; then ns="unshare --pid --fork --mount-proc"; else ns="unshare --user --map-root-user --pid --fork --mount-proc"; fi
if $ns true 2>/dev/null; then
    cleanup; trap - EXIT
    # shellcheck disable=SC2086
    exec $ns env CMD_PHASE=2 CMD_ROOT="$root" CMD_PASSED=$passed CMD_FAILED=$failed CMD_SKIPPED=$skipped sh "$0"
fi
echo "skip every test of phase 2: no PID namespace ($ns failed)"
skipped=$((skipped + 1))
finish; exit
fi

# ---- Phase 2: in a PID namespace, with a /dev/shm of its own.
root=${CMD_ROOT:-}
mount -t tmpfs -o mode=1777 tmpfs /dev/shm || { bad private_dev_shm "cannot mount a tmpfs on /dev/shm"; finish; exit; }
[ -n "$py" ] || skip ls_json_field_by_field "python3 is not installed"
# The objects' directory: root's RTSHM_DIR; in a user namespace, /dev/shm (no RTSHM_DIR is
# safe there: / belongs to an unmapped uid).
if [ -n "$root" ]; then d=$tmp/dir; mkdir "$d"; E="env RTSHM_DIR=$d"; else d=/dev/shm; E=env; fi

# Everything ls tells apart, made by another process: an object it holds open, one it only
# maps (its descriptor closed), one it closed, a semaphore it holds (mapped) and one it closed;
# then what is no object: a directory, a symbolic link, a sem. file of another size, a FIFO,
# and an object whose name is not UTF-8.
hold P $E "$H" shm /held 3000 600 open shm /mapped 1048576 644 map shm /closed 10 600 close \
    sem /s1 3 644 open sem /s2 0 600 close || { bad ls_objects "no holder"; finish; exit; }
mkdir "$d/subdir"; ln -s closed "$d/link"; printf 12345 > "$d/sem.bad"; mkfifo "$d/fifo"
printf x > "$d/$(printf 'we\377ird')"
if [ -n "$py" ]; then
    check ls_json_field_by_field sh -c "$E $R ls --json | python3 tests-cmd/check.py ls-json $d $P 0"
    check ls_table sh -c "$E $R ls | python3 tests-cmd/check.py ls-table $d"
    check ls_json_with_dir_is_the_same sh -c "[ \"\$($R ls --json --dir $d/)\" = \"\$($E $R ls --json)\" ]"
    check non_utf8_name_round_trips sh -c "$E $R ls --json | python3 -c 'import json, os, sys; n = [os.fsencode(json.loads(l)[\"file\"]) for l in sys.stdin]; sys.exit(b\"we\\xffird\" not in n)'"
fi
check ls_shows_value_and_holders sh -c "$E $R ls | grep -Eq '^/s1 +sem +32 .* 3 +$P cmd-holder\$' && $E $R ls | grep -Eq '^/closed +shm .* - +-\$'"

# The default directory, /dev/shm (this namespace's), and RTSHM_DIR keep apart.
if [ -n "$root" ]; then
    hold Q "$H" shm "/$u.x" 64 600 open
    check ls_default_dir sh -c "$R ls | grep -Eq '^/$u.x +shm +64 .* $Q cmd-holder\$' && ! $E $R ls | grep -q '$u.x'"
fi

# As uid 65534, root's processes cannot be read: nothing is seen held, everything is unknown.
if [ -n "$root" ] && [ -n "$py" ]; then
    check unprivileged_ls_holders_unknown sh -c "$nobody $E $R ls --json | python3 tests-cmd/check.py ls-json $d $P +"
    check unprivileged_ls_marks_unknown sh -c "$nobody $E $R ls | grep -Eq '^/held .* \\?\$' && $nobody $E $R ls | grep -q '^?: [0-9]* process.* could not be checked'"
elif [ -z "$root" ]; then
    skip unprivileged_ls_holders_unknown "needs root (a second uid); phase 1 tested this user"
fi

# gc: nothing is old yet, by the default hour; an mtime set back does not make an entry old
# (its ctime is new: nobody can set that back).
check gc_leaves_recent_entries sh -c "out=\$($E $R gc) && [ -z \"\$out\" ] && [ -e $d/closed ] && [ -e $d/sem.s2 ]"
touch -d '2 days ago' "$d/closed"
check gc_counts_ctime sh -c "out=\$($E $R gc --older-than 1h) && [ -z \"\$out\" ] && [ -e $d/closed ]"
# Two seconds later everything is old: gc removes what nobody holds, never what is held.
wait_older "$d" 2
# gc_prints DIR WANT LEFT ARGS...: gc in DIR with ARGS succeeds, printing WANT, and leaves
# LEFT in DIR (WANT and LEFT are printf formats; LEFT is in C order).
gc_prints() {
    dir=$1 want=$(printf "$2") left=$(printf "$3"); shift 3
    out=$($E "$R" gc "$@") || { echo "exit $?: $out"; return 1; }
    [ "$out" = "$want" ] || { echo "printed: $out"; echo "expected: $want"; return 1; }
    now=$(ls -A "$dir" | LC_ALL=C sort)
    [ "$now" = "$left" ] || { echo "left: $now"; echo "expected: $left"; return 1; }
}
all='closed\nfifo\nheld\nlink\nmapped\nsem.bad\nsem.s1\nsem.s2\nsubdir\nwe\377ird'
held='fifo\nheld\nlink\nmapped\nsem.bad\nsem.s1\nsubdir'
check gc_dry_run gc_prints "$d" 'would remove shm /closed\nwould remove sem /s2\nwould remove shm /we\\xffird' "$all" --older-than 2s --dry-run
check gc_removes_old_unheld gc_prints "$d" 'removed shm /closed\nremoved sem /s2\nremoved shm /we\\xffird' "$held" --older-than 2s
check gc_never_removes_held gc_prints "$d" '' "$held" --older-than 0s
# Once the holder is gone, they are no one's; entries of kind other stay.
release "$P"
check gc_removes_once_released gc_prints "$d" 'removed shm /held\nremoved shm /mapped\nremoved sem /s1' 'fifo\nlink\nsem.bad\nsubdir' --older-than 0s
# In the default directory, /dev/shm (this namespace's own). (In a user namespace, that is
# where everything above was.)
if [ -n "$root" ]; then
    check gc_default_dir_leaves_held sh -c "[ -z \"\$($R gc --older-than 0s)\" ] && [ -e /dev/shm/$u.x ]"
    release "$Q"
    check gc_default_dir sh -c "[ \"\$($R gc --older-than 0s)\" = 'removed shm /$u.x' ] && [ ! -e /dev/shm/$u.x ]"
fi

# As uid 65534 in its own directory: root's processes cannot be read, so gc leaves the stale
# object it cannot judge (exit 3, and it says so); root, who sees every process, removes it.
if [ -n "$root" ]; then
    # Root's and sticky, as /dev/shm: both users trust it (RTSHM_DIR's safety rule).
    mkdir -m 1777 "$tmp/nobody"
    $nobody sh -c "printf x > $tmp/nobody/stale"
    hold N "$H" shm "/$u.held" 1 600 open
    fails_with unprivileged_gc_leaves_what_it_cannot_judge 3 '^rtshm: gc: left shm /stale: [0-9]+ processes could not be checked$' $nobody "$R" gc --older-than 0s --dir "$tmp/nobody"
    check unprivileged_gc_left_it test -e "$tmp/nobody/stale"
    check root_gc_judges_it sh -c "[ \"\$($R gc --older-than 0s --dir $tmp/nobody)\" = 'removed shm /stale' ]"
    release "$N"; rm -f "/dev/shm/$u.held"
else
    skip unprivileged_gc_leaves_what_it_cannot_judge "needs root (a second uid); phase 1 tested this user"
fi

# df: a 1 MiB tmpfs of the test's own.
s=$tmp/small; mkdir "$s"
if mount -t tmpfs -o size=1m tmpfs "$s"; then
    head -c 100000 /dev/zero > "$s/a"; head -c 20000 /dev/zero > "$s/b"
    if [ -n "$py" ]; then
        check df_json sh -c "$R df --dir $s --json --top 1 | python3 -c '
import json, os, sys
j = json.loads(sys.stdin.read()); v = os.statvfs(\"$s\")
want = {\"dir\": \"$s\", \"size\": v.f_blocks * v.f_frsize, \"used\": (v.f_blocks - v.f_bfree) * v.f_frsize,
        \"free\": v.f_bavail * v.f_frsize, \"entries\": 2, \"entries_size\": 120000, \"unbacked\": 0, \"nearly_full\": False,
        \"largest\": [{\"name\": \"/a\", \"kind\": \"shm\", \"size\": 100000, \"allocated\": 102400}]}
want[\"used_percent\"] = -(-want[\"used\"] * 100 // want[\"size\"])
bad = [(k, j.get(k), w) for k, w in want.items() if j.get(k) != w]
order = [\"dir\", \"size\", \"used\", \"free\", \"used_percent\", \"entries\", \"entries_size\", \"unbacked\", \"nearly_full\", \"largest\"]
sys.exit(print(bad, list(j)) or 1 if bad or list(j) != order else 0)'"
    fi
    check df_table sh -c "out=\$($R df --dir $s) && echo \"\$out\" | grep -Eq '^$s: 12[0-9]K used \\([0-9]+%\\), [0-9.]+K free of 1.0M\$' && echo \"\$out\" | grep -Eq '^98K +100K +shm +/a\$' && ! echo \"\$out\" | grep -q warning"
    head -c 900000 /dev/zero > "$s/c"
    check df_warns_when_nearly_full sh -c "$R df --dir $s | tr '\\n' ' ' | grep -E 'warning: $s is 9[0-9]% full' | grep 'SIGBUS' | grep 'RTSHM_RESERVE=1' | grep -q RTSHM_DIR && $R df --dir $s --json | grep -q '\"nearly_full\":true'"
    rm -f "$s/c"; truncate -s 4M "$s/sparse"
    check df_warns_when_unbacked_exceeds_free sh -c "$R df --dir $s | tr '\\n' ' ' | grep -q \"warning: $s: the entries' unbacked pages (4.0M) need more than the free space\""
    umount "$s"
else
    skip df_json "cannot mount a tmpfs"
fi

finish
