#!/bin/sh
# make install / uninstall into a staging DESTDIR; a program builds against the installed
# header and library through pkg-config, shared and static, and runs.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
d=$tmp/root
check install_runs make -s install DESTDIR="$d" PREFIX=/opt/rtshm
lib=$d/opt/rtshm/lib
ver=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
check install_versioned_so_and_links sh -c "[ -f $lib/librtshm.so.$ver ] && [ \"\$(readlink $lib/librtshm.so.0)\" = librtshm.so.$ver ] && [ \"\$(readlink $lib/librtshm.so)\" = librtshm.so.0 ]"
check install_static_and_header sh -c "[ -f $lib/librtshm.a ] && cmp -s include/rtshm.h $d/opt/rtshm/include/rtshm.h"
pc="env PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$d pkg-config"
name=/rtshm-t.install.$$
if needs pkg-config install_pkg_config; then
check install_pkg_config sh -c "[ \"\$($pc --modversion rtshm)\" = $ver ]"
check install_link_shared_via_pkg_config sh -c "${CC:-cc} -o $tmp/w examples/writer.c \$($pc --cflags --libs rtshm) -ldl && LD_LIBRARY_PATH=$lib $tmp/w $name true"
fi
check install_link_static sh -c "${CC:-cc} -o $tmp/ws examples/writer.c -I$d/opt/rtshm/include $lib/librtshm.a -ldl && $tmp/ws $name.s true && ! ldd $tmp/ws | grep -q rtshm"
# The command and its man pages: on the PATH, runnable, rendered; the same build as the tree's.
bin=$d/opt/rtshm/bin man=$d/opt/rtshm/share/man
check install_command sh -c "[ -x $bin/rtshm ] && [ \"\$(PATH=$bin:\$PATH rtshm --version)\" = \"rtshm $ver\" ] && PATH=$bin:\$PATH rtshm ls --dir $tmp >/dev/null"
check install_man_pages sh -c "cmp -s build/rtshm.1 $man/man1/rtshm.1 && cmp -s build/rtshm.7 $man/man7/rtshm.7"
if needs man install_man_pages_render; then
check install_man_pages_render sh -c "MANWIDTH=80 man -l $man/man1/rtshm.1 | grep -q 'rtshm gc' && MANWIDTH=80 man -l $man/man7/rtshm.7 | grep -q RTSHM_RESERVE"
fi
check install_again_over_itself make -s install DESTDIR="$d" PREFIX=/opt/rtshm
# install made $d and everything under it: uninstall removes all of it, directories too.
# make says in one line, before any cargo error, when the toolchain is missing or too old.
check make_says_when_rust_is_too_old sh -c "out=\$(make -s lib RUST_MIN=99.0 2>&1); echo \"\$out\" | grep -q 'is too old: rtshm needs 99.0 or later' || { echo \"\$out\"; exit 1; }"
check make_says_when_cargo_is_missing sh -c "out=\$(make -s lib CARGO=no-such-cargo 2>&1); echo \"\$out\" | grep -q 'cargo is not installed' || { echo \"\$out\"; exit 1; }"
check uninstall_removes_what_install_made sh -c "make -s uninstall DESTDIR=$d PREFIX=/opt/rtshm && [ ! -e $d ] || find $d"
# A directory that was there before install stays after uninstall.
mkdir -p "$tmp/kept/opt"
check uninstall_keeps_directories_it_did_not_make sh -c "make -s install DESTDIR=$tmp/kept PREFIX=/opt/rtshm && make -s uninstall DESTDIR=$tmp/kept PREFIX=/opt/rtshm && [ -d $tmp/kept/opt ] && [ ! -e $tmp/kept/opt/rtshm ]"
rm -f "/dev/shm$name" "/dev/shm$name.s"
finish
