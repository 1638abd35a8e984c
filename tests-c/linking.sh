#!/bin/sh
# Linking (README "Linking"): wherever -lrt worked, -lrtshm works. Every way of linking binds
# every rtshm function to rtshm: an executable, a shared library it needs, the same library
# loaded with dlopen, a Python extension module, each linked -lrtshm, with librtshm.a, or plain
# under LD_PRELOAD; old and new glibc binaries under LD_PRELOAD; and no new hazards (one
# semaphore registry per process with librtshm.so). The probe (linking/probe.c) proves each case
# with dladdr and with where its objects land under RTSHM_DIR.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.." || exit 2
rel=${RTSHM_LINK_DIR:-$PWD/target/release}
so=$rel/librtshm.so
a=$rel/librtshm.a
cc=${CC:-cc}
src=tests-c/linking
t=$(mktemp -d /tmp/rtshm-link.XXXXXX)
trap 'rm -rf "$t"' EXIT
export RTSHM_DIR="$t/objects"
mkdir -m 700 "$RTSHM_DIR"
# Object names carry this run's tag (probe.c, host.c), so that the run checks and removes only
# its own if any went to /dev/shm.
export RTSHM_TEST_RUN=$$
flags="-O2 -g -Wall -Wextra -Werror -fPIC -Iinclude -I$src"
dynamic="-L$rel -lrtshm -Wl,-rpath,$rel"

# build NAME ARGS...: a build step; a failing one fails NAME (the checks that need it then fail
# too, saying the file is missing).
build() { name=$1; shift; out=$("$cc" $flags "$@" 2>&1) || bad "build_$name" "$out"; }
build libprobe-shared -shared -o "$t/libprobe-shared.so" $src/probe.c $dynamic
build libprobe-shared2 -shared -o "$t/libprobe-shared2.so" $src/probe.c $dynamic
build libprobe-static -shared -o "$t/libprobe-static.so" $src/probe.c "$a"
build libprobe-static2 -shared -o "$t/libprobe-static2.so" $src/probe.c "$a"
build libprobe-plain -shared -o "$t/libprobe-plain.so" $src/probe.c
build libplugin -shared -DGLIBC_NAMES_ONLY -o "$t/libplugin.so" $src/probe.c
for k in shared static plain; do
    build host-needed-$k -DHOST_HAS_PROBE -Wl,--allow-shlib-undefined -o "$t/host-needed-$k" $src/host.c -L"$t" -lprobe-$k -Wl,-rpath,"$t" -ldl
done
build exe-shared -DHOST_HAS_PROBE -o "$t/exe-shared" $src/host.c $src/probe.c $dynamic -ldl
build exe-static -DHOST_HAS_PROBE -o "$t/exe-static" $src/host.c $src/probe.c "$a" -ldl
build host -o "$t/host" $src/host.c -ldl
build host-rtshm -o "$t/host-rtshm" $src/host.c $dynamic -ldl
build host-static -o "$t/host-static" $src/host.c "$a" -ldl
nopie="-fno-pic -no-pie"
build exe-nopie -DHOST_HAS_PROBE $nopie -o "$t/exe-nopie" $src/host.c $src/probe.c $dynamic -ldl
build exe-nopie-plain -DHOST_HAS_PROBE -DGLIBC_NAMES_ONLY $nopie -o "$t/exe-nopie-plain" $src/host.c $src/probe.c -ldl
build libprobe-private -shared -Wl,--exclude-libs,librtshm.a -o "$t/libprobe-private.so" $src/probe.c "$a"
build host-needed-private -DHOST_HAS_PROBE -o "$t/host-needed-private" $src/host.c -L"$t" -lprobe-private -Wl,-rpath,"$t" -ldl

# quiet NAME COMMAND...: the command succeeds and prints nothing on standard error.
quiet() {
    name=$1; shift
    if err=$("$@" 2>&1 >/dev/null) && [ -z "$err" ]; then ok "$name"; else bad "$name" "${err:-exit status $?}"; fi
}

# 1. An executable, linked -lrtshm or with librtshm.a; and one that is not position-independent
#    (its address of a function is its own), linked -lrtshm or plain under LD_PRELOAD, where
#    glibc says nothing (it warns of protected functions there).
check link_executable_shared "$t/exe-shared" probe shared
check link_executable_static "$t/exe-static" probe self
quiet link_executable_non_pie_shared "$t/exe-nopie" probe main
quiet preload_executable_non_pie env LD_PRELOAD="$so" "$t/exe-nopie-plain" probe main

# 2-3. A shared library linked -lrtshm, with librtshm.a, or plain (then rtshm is preloaded),
#      needed by a program that knows nothing of rtshm, or loaded by one with dlopen.
for k in shared static plain; do
    case $k in shared) want=shared pre= ;; static) want=self pre= ;; plain) want=shared pre=$so ;; esac
    check link_library_${k}_needed env LD_PRELOAD="$pre" "$t/host-needed-$k" probe $want
    check link_library_${k}_dlopen_local env LD_PRELOAD="$pre" "$t/host" dlopen local "$t/libprobe-$k.so" $want
    check link_library_${k}_dlopen_global env LD_PRELOAD="$pre" "$t/host" dlopen global "$t/libprobe-$k.so" $want
done
# A library that links librtshm.a, needed by a program, serves the program's own calls too
# (README); linked with --exclude-libs,librtshm.a its copy is its own, and the program keeps
# glibc's. A plugin loaded with RTLD_DEEPBIND that links -lrtshm gets rtshm.
check link_library_static_needed_serves_the_program "$t/host-needed-static" own libprobe-static.so
check link_library_private_copy "$t/host-needed-private" probe self
check link_library_private_copy_leaves_the_program_glibc "$t/host-needed-private" own libc.so.6
check link_library_private_copy_exports_only_its_own sh -c "
    e=\$(nm -D --defined-only $t/libprobe-private.so | awk '{print \$3}' | grep -v '^_' | sort | tr '\n' ' ')
    [ \"\$e\" = 'probe_sem_close probe_sem_open probe_sem_unlink rtshm_probe ' ] || { echo \"\$e\"; exit 1; }"
check link_library_shared_dlopen_deepbind "$t/host" dlopen deepbind "$t/libprobe-shared.so" shared
# A library that links librtshm.a exports the C API and its own functions, nothing of Rust's.
check link_library_static_exports_only_the_api sh -c "
    e=\$(nm -D --defined-only $t/libprobe-static.so | awk '{print \$3}' | grep -v '^_' | sort | tr '\n' ' ')
    [ \"\$e\" = 'ftruncate ftruncate64 probe_sem_close probe_sem_open probe_sem_unlink rtshm_dir rtshm_probe sem_close sem_open sem_unlink shm_mkstemp shm_open shm_rename shm_unlink ' ] || { echo \"\$e\"; exit 1; }"

# 4. A CPython extension module built with cc against -lrtshm (or librtshm.a, or plain under
#    LD_PRELOAD), imported by python3: what posix_ipc is.
py=$(command -v python3 || true)
pyinc=$([ -n "$py" ] && "$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
if [ -z "$py" ]; then
    skip link_python_extension "python3 is not installed"
elif [ ! -f "$pyinc/Python.h" ]; then
    skip link_python_extension "$pyinc/Python.h is missing (Debian: apt-get install python3-dev)"
else
    suffix=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
    for k in shared static plain; do
        case $k in shared) want=shared pre= lib=$dynamic ;; static) want=self pre= lib=$a ;; plain) want=shared pre=$so lib= ;; esac
        mkdir -p "$t/py-$k"
        build python-$k -shared -I"$pyinc" -o "$t/py-$k/rtshm_probe$suffix" $src/ext.c $src/probe.c $lib
        check link_python_extension_$k env LD_PRELOAD="$pre" PYTHONPATH="$t/py-$k" "$py" -c "
import sys, rtshm_probe
sys.exit(rtshm_probe.run('$want'))"
    done
fi

# 6. LD_PRELOAD into glibc binaries: references at glibc 2.34's versions, dlsym(RTLD_DEFAULT)
#    and dlsym(RTLD_NEXT); and a binary built against glibc before 2.34, whose references are
#    to librt.so.1's and libpthread.so.0's first versions.
check preload_glibc_binary_references_and_dlsym env LD_PRELOAD="$so" "$t/host" versions
check preload_check_fails_without_preload sh -c "! $t/host versions > /dev/null"
case $(uname -m) in x86_64) first=GLIBC_2.2.5 ;; aarch64) first=GLIBC_2.17 ;; *) first= ;; esac
if [ -z "$first" ]; then
    skip preload_old_glibc_binary "no known first glibc version for $(uname -m)"
else
    echo "$first { global: *; };" > "$t/stub.map"
    mkdir -p "$t/stubs"
    build stub-rt -shared -DRT -Wl,-soname,librt.so.1 -Wl,--version-script="$t/stub.map" -o "$t/stubs/librt.so.1" $src/stub.c
    build stub-pthread -shared -DPTHREAD -Wl,-soname,libpthread.so.0 -Wl,--version-script="$t/stub.map" -o "$t/stubs/libpthread.so.0" $src/stub.c
    build old -o "$t/old" $src/old.c "$t/stubs/librt.so.1" "$t/stubs/libpthread.so.0" -ldl
    check old_binary_refers_to_librt_and_libpthread_first_versions sh -c "
        v=\$(readelf -VW $t/old)
        echo \"\$v\" | grep -A3 'File: librt.so.1' | grep -q 'Name: $first' &&
        echo \"\$v\" | grep -A3 'File: libpthread.so.0' | grep -q 'Name: $first' || { echo \"\$v\"; exit 1; }"
    check old_binary_gets_glibc_without_preload sh -c "
        out=\$($t/old); [ \$(echo \"\$out\" | grep -c 'libc\.so\.6\$') -eq 7 ] || { echo \"\$out\"; exit 1; }"
    check preload_old_glibc_binary sh -c "
        out=\$(LD_PRELOAD=$so $t/old); [ \$(echo \"\$out\" | grep -c '/librtshm\.so\$') -eq 7 ] || { echo \"\$out\"; exit 1; }"
fi

# No new hazards. An executable linked -lrtshm or with librtshm.a gives a plugin that knows only
# glibc the same functions and the same semaphore registry; so do two libraries linked -lrtshm.
# Two copies of librtshm.a keep a registry each (README says so).
check link_executable_shared_serves_glibc_plugin "$t/host-rtshm" dlopen local "$t/libplugin.so" shared
check link_one_registry_executable_and_glibc_plugin "$t/host-rtshm" registry same self "$t/libplugin.so"
check link_one_registry_two_libraries_shared "$t/host" registry same "$t/libprobe-shared.so" "$t/libprobe-shared2.so"
check link_executable_static_serves_glibc_plugin "$t/host-static" dlopen local "$t/libplugin.so" main
check link_one_registry_static_executable_and_glibc_plugin "$t/host-static" registry same self "$t/libplugin.so"
# A plugin loaded with RTLD_DEEPBIND looks in its own dependencies first: one that knows only
# glibc gets glibc's functions, even in a program linked -lrtshm (README says so).
check link_deepbind_glibc_plugin_gets_glibc "$t/host-rtshm" dlopen deepbind "$t/libplugin.so" libc
check link_static_copies_keep_a_registry_each "$t/host" registry split "$t/libprobe-static.so" "$t/libprobe-static2.so"

left=$(ls -A "$RTSHM_DIR"; for f in /dev/shm/rtshm-t.*.$$.* /dev/shm/sem.rtshm-t.*.$$.*; do [ -e "$f" ] && echo "$f" && rm -f -- "$f"; done)
check link_tests_left_nothing [ -z "$left" ]
[ -z "$left" ] || echo "  # left (removed): $left"
finish
