#!/bin/sh
# make bench: every figure of BENCHMARKS.md in one run. Prints Markdown; keeps a copy in
# build/bench-results.md. Timings vary from run to run; instruction counts (callgrind) do not.
set -eu
cd "$(dirname "$0")/.."
# The dynamic linker's work grows with the length of LD_PRELOAD's path, so both libraries are
# preloaded from paths of the same length.
dir=$(mktemp -d /tmp/rtshm-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cp target/release/librtshm.so "$dir/r.so"
cp build/empty.so "$dir/e.so"
so=$dir/r.so
empty=$dir/e.so
bench=build/bench
out=build/bench-results.md
ROUNDS=${ROUNDS:-300}
BATCH=${BATCH:-100}
STARTUP_RUNS=${STARTUP_RUNS:-2000}
export RTSHM_SO="$so"

count() { # IMPL OP K -> user-space instructions collected inside the functions
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        --toggle-collect='*shm_open*' --toggle-collect='*shm_unlink*' \
        "$bench" count "$1" "$2" "$3" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_call() { # IMPL OP -> (instructions for K calls - for 0 calls) / K
    k=2000
    a=$(count "$1" "$2" $k); b=$(count "$1" "$2" 0)
    echo "$a $b $k" | awk '{printf "%.1f", ($1 - $2) / $3}'
}
startup_instructions() { # SO -> instructions to run /bin/true with it preloaded ("": none)
    if [ -n "$1" ]; then
        LD_PRELOAD="$1" valgrind --tool=callgrind --callgrind-out-file=/dev/null /bin/true 2>&1
    else
        valgrind --tool=callgrind --callgrind-out-file=/dev/null /bin/true 2>&1
    fi | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
median_rss() { # SO -> median VmRSS (KiB) of a fresh process with it preloaded, 21 runs
    for i in $(seq 21); do LD_PRELOAD="$1" "$bench" rss; done | sort -n | sed -n 11p
}

{
echo "# rtshm benchmark, $(date -u +%Y-%m-%d)"
echo
echo "Machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r), $(ldd --version | head -n 1)."
echo "rtshm $(git describe --always --dirty 2>/dev/null || echo '?'), $(rustc --version)."
echo
echo "## Time per call (median of $ROUNDS rounds of $BATCH calls, implementations interleaved)"
echo
"$bench" time "$ROUNDS" "$BATCH"
echo
echo "## User-space instructions per call (callgrind: inside shm_open/shm_unlink, K calls minus none, / K)"
echo
echo "| operation | glibc | rtshm | rtshm/glibc |"
echo "|---|---:|---:|---:|"
for op in open create missing invalid long; do
    g=$(per_call glibc $op); r=$(per_call rtshm $op)
    case $op in
        open) what="open existing" ;; create) what="create O_EXCL + unlink (both calls)" ;;
        missing) what="open missing (ENOENT)" ;; invalid) what="invalid name (EINVAL)" ;;
        long) what="open 255-byte name" ;;
    esac
    echo "$what $g $r" | awk '{n=NF; printf "| %s", $1; for (i = 2; i <= n - 2; i++) printf " %s", $i; printf " | %s | %s | %.3f |\n", $(n-1), $n, $n / $(n-1)}'
done
echo
echo "## Footprint"
echo
size=$(wc -c < target/release/librtshm.so)
esize=$(wc -c < build/empty.so)
echo "| what | rtshm | empty library | no preload |"
echo "|---|---:|---:|---:|"
echo "| stripped size (bytes) | $size | $esize | — |"
si_r=$(startup_instructions "$so"); si_e=$(startup_instructions "$empty"); si_n=$(startup_instructions "")
echo "| instructions to start and run /bin/true (callgrind) | $si_r | $si_e | $si_n |"
"$bench" startup "$STARTUP_RUNS" "$so" "$empty" "" > build/startup.txt
t_r=$(sed -n 1p build/startup.txt | awk '{print $2}'); t_e=$(sed -n 2p build/startup.txt | awk '{print $2}'); t_n=$(sed -n 3p build/startup.txt | awk '{print $2}')
echo "| spawn + reap /bin/true, median µs ($STARTUP_RUNS runs each, alternating) | $t_r | $t_e | $t_n |"
echo "| resident memory of a fresh process, median KiB | $(median_rss "$so") | $(median_rss "$empty") | $(median_rss "") |"
echo
echo "Start-up, rtshm against the empty library: $(echo "$si_r $si_e" | awk '{printf "%+.3f%%", ($1 - $2) * 100 / $2}') instructions, $(echo "$t_r $t_e" | awk '{printf "%+.1f%%", ($1 - $2) * 100 / $2}') time."
echo
echo "## Start-up by how a program links rtshm (bench/start.c: one shm_unlink call)"
echo
echo "| linked with | instructions to start, call and exit (callgrind) | spawn + reap, median µs ($STARTUP_RUNS runs each, alternating) |"
echo "|---|---:|---:|"
"$bench" spawn "$STARTUP_RUNS" build/start-lrt build/start-lrtshm build/start-static > build/spawn.txt
for k in lrt lrtshm static; do
    case $k in lrt) what="\`-lrt\` (glibc's; no library added since 2.34)" ;; lrtshm) what="\`-lrtshm\` (librtshm.so)" ;; static) what="librtshm.a" ;; esac
    n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null build/start-$k 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    echo "| $what | $n | $(grep "start-$k " build/spawn.txt | awk '{print $2}') |"
done
echo
echo "## Stack use per call (bench/stack.c: smallest alternate signal stack, guard page below)"
echo
build/stack "$so"
echo
mkdir "$dir/ns"
RTSHM_DIR="$dir/ns" build/stack "$so"
echo
RTSHM_RESERVE=1 build/stack "$so"
echo
echo "## ftruncate (bench ftcount, bench grow)"
echo
echo "User-space instructions per same-size ftruncate of an object (callgrind, K calls minus none, / K):"
echo
echo "| RTSHM_RESERVE | glibc | rtshm |"
echo "|---|---:|---:|"
ftcount() { # IMPL K -> instructions inside ftruncate
    valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*ftruncate*' \
        "$bench" ftcount "$1" "$2" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
ft_per_call() { # IMPL -> per call
    a=$(ftcount "$1" 2000); b=$(ftcount "$1" 0)
    echo "$a $b" | awk '{printf "%.1f", ($1 - $2) / 2000}'
}
echo "| unset | $(ft_per_call glibc) | $(ft_per_call rtshm) |"
echo "| 1 | $(RTSHM_RESERVE=1 ft_per_call glibc) | $(RTSHM_RESERVE=1 ft_per_call rtshm) |"
echo
echo "Growing a new object from 0 with ftruncate, then writing one byte in each page through a"
echo "mapping (median µs of 31 runs; ftruncate alone / ftruncate and the first writes):"
echo
echo "| size | glibc | rtshm, RTSHM_RESERVE unset | rtshm, RTSHM_RESERVE=1 |"
echo "|---|---:|---:|---:|"
for size in 4096 1048576 16777216; do
    g=$("$bench" grow glibc $size 31 | awk '{print $1 " / " $2}')
    r=$("$bench" grow rtshm $size 31 | awk '{print $1 " / " $2}')
    v=$(RTSHM_RESERVE=1 "$bench" grow rtshm $size 31 | awk '{print $1 " / " $2}')
    echo "| $(echo $size | awk '{print ($1 >= 1048576) ? $1 / 1048576 " MiB" : $1 / 1024 " KiB"}') | $g | $r | $v |"
done
echo
echo "## Scaling: create + close + unlink on distinct names, best of 3 runs of 0.5 s"
echo
"$bench" threads 0.5
echo
echo "## Cost against name length: open existing + close, median ns"
echo
"$bench" lengths 200 "$BATCH"
} | tee "$out"
