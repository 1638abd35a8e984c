#!/bin/sh
# include/rtshm.h compiles alone and beside <sys/mman.h>, in C and C++, with strict warnings,
# and declares what it should.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '#include <rtshm.h>\nint (*o)(const char *, int, mode_t) = shm_open;\nint (*u)(const char *) = shm_unlink;\n' > "$tmp/alone.c"
printf '#include <sys/mman.h>\n#include <rtshm.h>\n#include <sys/mman.h>\n#include <rtshm.h>\nint (*o)(const char *, int, mode_t) = shm_open;\n' > "$tmp/both.c"
printf '#include <rtshm.h>\n#include <sys/mman.h>\nint (*o)(const char *, int, mode_t) = shm_open;\n' > "$tmp/after.c"
for std in c99 c11 c17; do
    for f in alone both after; do
        check "header_${f}_$std" ${CC:-cc} -std=$std -Wall -Wextra -Werror -pedantic -Iinclude -c "$tmp/$f.c" -o "$tmp/o.o"
    done
done
for std in c++11 c++17; do
    for f in alone both after; do
        needs "${CXX:-c++}" "header_${f}_$std" || continue
        cp "$tmp/$f.c" "$tmp/$f.cc"
        check "header_${f}_$std" ${CXX:-c++} -std=$std -Wall -Wextra -Werror -pedantic -Iinclude -c "$tmp/$f.cc" -o "$tmp/o.o"
    done
done
check header_has_include_guard grep -q '^#ifndef RTSHM_H' include/rtshm.h
# The header defines the API's constants and nothing of the library's own (cbindgen exports
# every `pub const`; the library's other constants are pub(crate)).
macros=$(sed -n 's/^#define \([A-Za-z_0-9]*\).*/\1/p' include/rtshm.h | sort | tr '\n' ' ')
check header_defines_only_the_api_constants sh -c "[ '$macros' = 'RTSHM_H SHM_ANON SHM_RENAME_EXCHANGE SHM_RENAME_NOREPLACE ' ] || { echo '$macros'; exit 1; }"
# Every declaration is directly under its doc comment.
check header_documents_each_function sh -c '[ "$(grep -cE "^[a-z].*\(" include/rtshm.h)" -ge 3 ] && ! grep -B1 -E "^[a-z].*\(" include/rtshm.h | grep -vE "^[a-z].*\(|^ \*/|^--" | grep -q .'
finish
