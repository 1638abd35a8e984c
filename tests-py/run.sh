#!/bin/sh
# Real clients, real failures: CPython's multiprocessing (SharedMemory uses shm_open, Lock uses
# sem_open) where /dev/shm is read-only, too small or missing, in a private mount namespace, and
# the README's recipes. Each case shows the failure without rtshm and the fix with it.
. "$(dirname "$0")/../tests-c/lib.sh"
cd "$(dirname "$0")/.." || exit 2
so=$PWD/target/release/librtshm.so
client=$PWD/tests-py/mp_client.py
py=$(command -v python3 || true)
tmp=$(mktemp -d /tmp/rtshm-py.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# skip_all REASON: every test of this file is skipped, each by its name, with the reason.
skip_all() {
    for name in $(sed -n 's/^ *\(check\|fails_with\|quiet\) \([a-z_0-9]*\) .*/\2/p; s/^ *[0-9]) \(ok\|skip\|bad\) \([a-z_0-9]*\).*/\2/p; s/.* \(ok\|bad\) \([a-z_0-9]*\); fi$/\2/p' "$0" | sort -u); do
        skip "$name" "$1"
    done
    finish; exit
}
if [ -z "$py" ]; then skip_all "python3 is not installed"; fi
if [ "$(id -u)" -ne 0 ] || ! unshare --mount --propagation private true 2>/dev/null; then
    skip_all "needs root and a private mount namespace (unshare --mount)"
fi

# fails_with NAME PATTERN SETUP COMMAND: in a private mount namespace after SETUP, COMMAND
# fails, and what it prints matches PATTERN (the failure is the expected one, not any).
fails_with() {
    name=$1 pattern=$2
    out=$(unshare --mount --propagation private sh -c "$3 && $4" 2>&1) && { bad "$name" "it worked: $out"; return; }
    if echo "$out" | grep -qE "$pattern"; then ok "$name"; else bad "$name" "$out"; fi
}
# in_ns SETUP COMMAND: runs COMMAND in a private mount namespace after the shell code SETUP.
in_ns() { unshare --mount --propagation private sh -c "$1 && $2"; }
with_rtshm() { echo "LD_PRELOAD=$so RTSHM_DIR=$1"; }

ro_shm='mount -t tmpfs -o ro,size=1m tmpfs /dev/shm'
small_shm='mount -t tmpfs -o size=1m tmpfs /dev/shm'
big_dir="mount -t tmpfs -o size=64m,mode=1777 tmpfs $tmp/big"
mkdir -p "$tmp/big" "$tmp/dir"
chmod 1777 "$tmp/dir"

# 1. /dev/shm read-only: Lock and SharedMemory fail without rtshm, work with it.
fails_with py_lock_fails_on_read_only_dev_shm "Read-only file system" "$ro_shm" "$py $client lock"
fails_with py_shared_memory_fails_on_read_only_dev_shm "Read-only file system" "$ro_shm" "$py $client"
check py_works_with_rtshm_on_read_only_dev_shm in_ns "$ro_shm" "env $(with_rtshm "$tmp/dir") $py $client"
check py_left_nothing_in_rtshm_dir sh -c "[ -z \"\$(ls -A $tmp/dir)\" ]"

# 2. A 1 MiB /dev/shm (a container's default is 64 MiB): 16 MiB of SharedMemory crashes the
#    writer (SIGBUS) without rtshm; recipe: a bigger tmpfs elsewhere, named by RTSHM_DIR.
fails_with py_crashes_on_small_dev_shm "child failed with -7|Bus error" "$small_shm" "$py $client"
check recipe_bigger_tmpfs_for_small_dev_shm in_ns "$small_shm && $big_dir" "env $(with_rtshm "$tmp/big") $py $client"

# 3. No /dev/shm at all (a sandbox's minimal /dev): recipe: RTSHM_DIR on any writable directory.
no_shm='mount -t tmpfs -o mode=755 tmpfs /dev && mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/urandom c 1 9'
fails_with py_fails_without_dev_shm "No such file or directory" "$no_shm" "$py $client lock"
check recipe_python_multiprocessing_without_dev_shm in_ns "$no_shm" "env $(with_rtshm "$tmp/dir") $py $client"

# 3b. The old recipe's trap: a fixed name in /tmp that another user made first. rtshm refuses
#     it (EINVAL, and one line saying why) instead of putting the objects in that user's hands.
mkdir -p "$tmp/theirs" && chown 65534:65534 "$tmp/theirs"
check py_refuses_rtshm_dir_owned_by_another_user sh -c "
    out=\$(env LD_PRELOAD=$so RTSHM_DIR=$tmp/theirs $py $client lock 2>&1) && { echo \"it worked: \$out\"; exit 1; }
    echo \"\$out\" | grep -q 'Invalid argument' &&
    [ \$(echo \"\$out\" | grep -c 'rtshm: RTSHM_DIR=\"$tmp/theirs\" is not used: \"$tmp/theirs\" is owned by uid 65534') -eq 1 ] &&
    [ -z \"\$(ls -A $tmp/theirs)\" ] || { echo \"\$out\"; exit 1; }"

# 4. Parallel test runs, one directory each: the same object names do not collide. No timing:
#    each holder says when its object exists and keeps it until told to let go (a FIFO).
hold='import sys; from multiprocessing import shared_memory as s, Lock; Lock(); b = s.SharedMemory(name="rtshm_recipe_same", create=True, size=4096); print("made", flush=True); sys.stdin.readline(); b.close(); b.unlink()'
# holder N ENV...: runs a holder with ENV in the background; its stdout is $tmp/made.N, its
# stdin the FIFO $tmp/go.N (held open on descriptor 6+N until release N).
holder() {
    n=$1; shift
    rm -f "$tmp/go.$n" "$tmp/made.$n"; mkfifo "$tmp/go.$n"
    env "$@" $py -c "$hold" < "$tmp/go.$n" > "$tmp/made.$n" 2>&1 &
    eval "exec $((6 + n))> \"\$tmp/go.\$n\""
}
# made N: waits until holder N has made its object (or has ended without).
made() {
    while ! grep -q made "$tmp/made.$1" 2>/dev/null && jobs %% >/dev/null 2>&1; do sleep 0.05; done
    grep -q made "$tmp/made.$1"
}
release() { eval "exec $((6 + $1))>&-"; }
parallel_runs() {
    holder 1 LD_PRELOAD=$so RTSHM_DIR=$tmp/run1
    holder 2 LD_PRELOAD=$so RTSHM_DIR=$tmp/run2
    made 1 && made 2; r=$?
    release 1; release 2; wait
    [ $r -eq 0 ] || { cat "$tmp/made.1" "$tmp/made.2"; return 1; }
}
collide_without_rtshm() {
    holder 1 LANG=C
    made 1 || { release 1; wait; cat "$tmp/made.1"; return 1; }
    # The same name while the first holds it: it exists.
    if $py -c "$hold" < /dev/null > /dev/null 2>&1; then r=1; else r=0; fi
    release 1; wait
    return $r
}
mkdir -p "$tmp/run1" "$tmp/run2"
check recipe_isolated_parallel_runs parallel_runs
check recipe_isolated_runs_collide_without_rtshm collide_without_rtshm

# 5. Huge pages: objects on a hugetlbfs mount; sizes must be multiples of the huge page size.
#    Uses the huge pages the machine has free (two for the object, one for the Lock's
#    semaphore); it never changes vm.nr_hugepages, a setting of the whole system.
huge() {
    free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
    if [ "${free:-0}" -lt 3 ]; then
        echo "HugePages_Free is ${free:-0} in /proc/meminfo (needs 3; vm.nr_hugepages is left alone)"
        return 2
    fi
    hp=$(awk '/Hugepagesize/ {print $2 * 1024}' /proc/meminfo)
    unshare --mount --propagation private sh -c "
        mkdir -p $tmp/huge && mount -t hugetlbfs -o mode=1777 none $tmp/huge &&
        env LD_PRELOAD=$so RTSHM_DIR=$tmp/huge $py -c '
import sys
from multiprocessing import shared_memory as s
try:
    s.SharedMemory(create=True, size=$hp // 2)
    sys.exit(\"a half huge page was accepted\")
except OSError as e:
    print(\"half a huge page:\", e)
b = s.SharedMemory(create=True, size=2 * $hp)
b.buf[:] = b\"h\" * (2 * $hp)
b.close(); b.unlink()
print(\"two huge pages: ok\")
import multiprocessing as mp
lock = mp.Lock()  # sem_open on hugetlbfs (no write(2) there)
with lock:
    pass
print(\"a Lock: ok\")'"
}
before=$(cat /proc/sys/vm/nr_hugepages)
out=$(huge 2>&1); r=$?
case $r in
    0) ok recipe_hugetlbfs ;;
    2) skip recipe_hugetlbfs "$out" ;;
    *) bad recipe_hugetlbfs "$out" ;;
esac
check hugetlbfs_recipe_left_vm_nr_hugepages_alone [ "$(cat /proc/sys/vm/nr_hugepages)" = "$before" ]

# 7. The RTSHM_COMPAT CI gate (README): it passes portable calls, and fails on a call that
#    breaks a macOS rule, and when the loader could not preload rtshm (nothing was checked).
gate() { # PRELOAD NAME: the README's two greps over one run
    env LD_PRELOAD="$1" RTSHM_COMPAT=macos RTSHM_COMPAT_LOG=1 $py -c "
from multiprocessing import shared_memory as s
b = s.SharedMemory(name='$2', create=True, size=16); b.close(); b.unlink()" 2> "$tmp/compat.log"
    ! grep -q 'cannot be preloaded' "$tmp/compat.log" && ! grep -q '^rtshm: RTSHM_COMPAT' "$tmp/compat.log"
}
long=rtshm-gate-a-name-longer-than-macos-allows
if ! gate "$so" rtshm-gate-ok; then bad recipe_compat_gate_passes_portable_calls "$(cat "$tmp/compat.log")"; else ok recipe_compat_gate_passes_portable_calls; fi
if gate "$so" "$long"; then bad recipe_compat_gate_fails_a_violation "it passed"; else ok recipe_compat_gate_fails_a_violation; fi
if gate "$tmp/no/librtshm.so" rtshm-gate-ok; then bad recipe_compat_gate_fails_without_rtshm "it passed"; else ok recipe_compat_gate_fails_without_rtshm; fi
rm -f /dev/shm/rtshm-gate-ok "/dev/shm/$long"

# 6. Out of logind's reach (RemoveIPC): a service user's objects in its own directory never
#    appear in /dev/shm, where logind removes them at logout.
mkdir -p "$tmp/svc" && chown 65534:65534 "$tmp/svc"
#    (The service here is the demo's writer, run as uid 65534: python3 may live under /root.)
check recipe_service_objects_out_of_dev_shm sh -c "
    setpriv --reuid=65534 --regid=65534 --clear-groups env RTSHM_DIR=$tmp/svc \
        build/writer /svc-object sh -c 'ls $tmp/svc | grep -qx svc-object && ! find /dev/shm -user 65534 | grep -q .' &&
    [ -z \"\$(ls -A $tmp/svc)\" ]"
# 7. RTSHM_RESERVE=1 (README, "No more SIGBUS"): on a 1 MiB /dev/shm, 16 MiB of SharedMemory
#    dies of SIGBUS at the first write with glibc (and leaves the object); with rtshm preloaded
#    and RTSHM_RESERVE=1, SharedMemory(create=True) raises OSError ENOSPC, from ftruncate, and
#    leaves nothing. The same in a 1 MiB RTSHM_DIR; and objects that fit work as before.
grow='from multiprocessing import shared_memory as s
m = s.SharedMemory(create=True, size=16 << 20)
m.buf[:] = b"x" * (16 << 20)'
reserving="LD_PRELOAD=$so RTSHM_RESERVE=1"
# What is left in the directory, after the exit status: "<status> <entries>".
after() { echo 'rc=$?; echo "$rc $(ls -A '"$1"' | wc -l)"'; }
check reserve_glibc_dies_of_sigbus_and_leaves_the_object sh -c "
    out=\$(unshare --mount --propagation private sh -c '$small_shm && $py -c \"\$0\" 2>/dev/null; $(after /dev/shm)' '$grow')
    [ \"\$out\" = '135 1' ] || { echo \"\$out\"; exit 1; }"
check reserve_python_gets_enospc_and_leaves_nothing sh -c "
    out=\$(unshare --mount --propagation private sh -c '$small_shm && env $reserving $py -c \"\$0\" 2>&1; $(after /dev/shm)' '$grow')
    echo \"\$out\" | grep -q '^OSError: \\[Errno 28\\] No space left on device' && echo \"\$out\" | grep -qx '1 0' || { echo \"\$out\"; exit 1; }"
mkdir -p "$tmp/small"
small_dir="mount -t tmpfs -o size=1m,mode=1777 tmpfs $tmp/small"
check reserve_python_gets_enospc_in_a_small_rtshm_dir sh -c "
    out=\$(unshare --mount --propagation private sh -c '$small_dir && env $reserving RTSHM_DIR=$tmp/small $py -c \"\$0\" 2>&1; $(after $tmp/small)' '$grow')
    echo \"\$out\" | grep -q '^OSError: \\[Errno 28\\] No space left on device' && echo \"\$out\" | grep -qx '1 0' || { echo \"\$out\"; exit 1; }"
check reserve_python_multiprocessing_that_fits_works in_ns "$big_dir" "env $reserving RTSHM_DIR=$tmp/big $py $client && [ -z \"\$(ls -A $tmp/big)\" ]"
finish
