#!/bin/sh
# The shared library's footprint and ABI: what it costs every process it is loaded into.
. "$(dirname "$0")/lib.sh"
so=target/release/librtshm.so
dyn=$(readelf -dW "$so")
size=$(wc -c < "$so")
echo "  # stripped size: $size bytes"
# 52 KiB since ftruncate and RTSHM_RESERVE (rtshm 0.2): 50,680 bytes, of which up to 4 KiB is
# the padding full RELRO puts before the writable segment (BENCHMARKS.md, size).
check abi_stripped_size_at_most_52KiB sh -c "[ $size -le 53248 ] && ! readelf -SW $so | grep -q '\.symtab'"
needed=$(echo "$dyn" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
check abi_needs_only_libc [ "$needed" = "libc.so.6 " ]
check abi_soname_librtshm.so.0 sh -c "echo '$dyn' | grep -q 'SONAME.*\[librtshm.so.0\]'"
# The exports: the C API at RTSHM_0.1, its default version, ftruncate and ftruncate64 at
# RTSHM_0.2 (64-bit targets), and the functions glibc also has at glibc's versions of them
# (src/versions.rs, README "Linking"); nothing else.
case $(uname -m) in x86_64) first=GLIBC_2.2.5 ;; aarch64) first=GLIBC_2.17 ;; *) first= ;; esac
want=$({
    for f in rtshm_dir sem_close sem_open sem_unlink shm_mkstemp shm_open shm_rename shm_unlink; do echo "$f@@RTSHM_0.1"; done
    for f in sem_close sem_open sem_unlink shm_open shm_unlink; do echo "$f@GLIBC_2.34"; [ -z "$first" ] || echo "$f@$first"; done
    for f in ftruncate ftruncate64; do echo "$f@@RTSHM_0.2"; [ -z "$first" ] || echo "$f@$first"; done
} | sort | tr '\n' ' ')
exports=$(nm -D --defined-only "$so" | awk '$2 != "A" {print $3}' | sort | tr '\n' ' ')
check abi_exports_exactly_the_c_api_with_versions sh -c "[ '$exports' = '$want' ] || { echo 'exports: $exports'; echo 'wanted:  $want'; exit 1; }"
nodes=$(nm -D --defined-only "$so" | awk '$2 == "A" {print $3}' | sort | tr '\n' ' ')
check abi_version_nodes sh -c "[ '$nodes' = '$(echo $first GLIBC_2.34 RTSHM_0.1 RTSHM_0.2 | tr ' ' '\n' | sort | tr '\n' ' ')' ] || { echo '$nodes'; exit 1; }"
# Each alias is its function: same address, same size (a size copied from glibc's would make
# profilers and debuggers misplace the function's end).
check abi_version_aliases_are_the_functions sh -c "[ \$(readelf --dyn-syms -W $so | awk '\$4 == \"FUNC\" && \$7 != \"UND\" {sub(/@.*/, \"\", \$8); print \$8, \$2, \$3}' | sort -u | wc -l) -eq 10 ]"
check abi_no_textrel sh -c "! echo '$dyn' | grep -q TEXTREL"
# No constructors, destructors or start files: nothing runs at load or unload time.
check abi_no_load_time_code sh -c "! echo '$dyn' | grep -qE '\((INIT|FINI|INIT_ARRAY|FINI_ARRAY|PREINIT_ARRAY)\)'"
# A panic would end in abort(): with no path to one, the import is absent.
imports=$(nm -D --undefined-only "$so" | awk '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
check abi_no_panic_path sh -c "! echo '$imports' | grep -qw abort"
# Full RELRO: imports are bound when the library loads and their table is read-only from then
# on, so that no call binds one lazily, deep in a signal handler's small stack (BENCHMARKS.md).
check abi_full_relro sh -c "echo '$dyn' | grep -qE 'FLAGS_1.*NOW' && readelf -lW $so | grep -q GNU_RELRO"
check abi_imports_are_the_expected_libc_functions [ "$imports" = "__errno_location bcmp getauxval getenv memcpy memmove strchrnul " ]
check abi_non_executable_stack sh -c "readelf -lW $so | grep GNU_STACK | grep -qv RWE"
echo "  # imports: $imports"
finish
