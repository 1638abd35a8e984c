/* rtshm's benchmark: glibc's shm_open/shm_unlink, rtshm's and the bare system calls, loaded
 * side by side in one process and timed interleaved, so that the machine's noise falls on all
 * three alike.
 *
 *   bench time ROUNDS BATCH      median ns/op of each operation for each implementation
 *   bench count IMPL OP K        K calls of OP (for callgrind's instruction counts)
 *   bench threads SECONDS        create+unlink throughput with 1, 2, 4, 8 threads
 *   bench lengths ROUNDS BATCH   open-existing cost against name length
 *   bench rss                    this process's resident memory (KiB), before any work
 *   bench startup N SO...        median µs to spawn and reap /bin/true with LD_PRELOAD=SO
 *                                (an empty SO: no preload), alternating, N runs each
 *   bench spawn N PROGRAM...     median µs to spawn and reap each PROGRAM, alternating
 *   bench ftcount IMPL K         K same-size ftruncate calls on an object (for callgrind)
 *   bench grow IMPL SIZE ROUNDS  median µs of a growing ftruncate of a new object to SIZE, and
 *                                of it and the first write of every page (RTSHM_RESERVE is
 *                                read from the environment)
 *
 * The library is found through RTSHM_SO (default target/release/librtshm.so). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef int (*open_fn)(const char *, int, mode_t);
typedef int (*unlink_fn)(const char *);

enum { GLIBC, RTSHM, SYSCALL, N_IMPLS };
static const char *const impl_names[] = {"glibc", "rtshm", "syscall"};
static open_fn opens[N_IMPLS];
static unlink_fn unlinks[N_IMPLS];

/* The baseline: the system calls alone, made inline as rtshm makes them (libc's syscall() is a
 * function call and an errno check more), on a path the caller already built. */
static inline long raw_syscall4(long nr, long a, long b, long c, long d)
{
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr, x0 __asm__("x0") = a, x1 __asm__("x1") = b,
                                       x2 __asm__("x2") = c, x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#else
    long ret = syscall(nr, a, b, c, d);
    return ret == -1 ? -errno : ret;
#endif
}

static int raw_result(long ret)
{
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return (int)ret;
}

static int sys_open(const char *name, int flags, mode_t mode)
{
    return raw_result(raw_syscall4(SYS_openat, AT_FDCWD, (long)name,
                                   flags | O_NOFOLLOW | O_CLOEXEC, mode));
}

static int sys_unlink(const char *name)
{
    return raw_result(raw_syscall4(SYS_unlinkat, AT_FDCWD, (long)name, 0, 0));
}

/* The baseline closes with the raw system call too; glibc and rtshm with libc's close. */
static void close_for(int impl, int fd)
{
    if (impl == SYSCALL)
        raw_syscall4(SYS_close, fd, 0, 0, 0);
    else
        close(fd);
}

static void load(void)
{
    /* RTLD_LAZY, as a program gets its libraries: whatever binding a first call does is
     * counted (librtshm.so asks for BIND_NOW itself: its imports are bound as it loads). */
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_LOCAL);
    const char *so = getenv("RTSHM_SO") ? getenv("RTSHM_SO") : "target/release/librtshm.so";
    void *rtshm = dlopen(so, RTLD_LAZY | RTLD_LOCAL);
    if (!libc || !rtshm) {
        fprintf(stderr, "bench: dlopen: %s\n", dlerror());
        exit(2);
    }
    opens[GLIBC] = (open_fn)dlsym(libc, "shm_open");
    unlinks[GLIBC] = (unlink_fn)dlsym(libc, "shm_unlink");
    opens[RTSHM] = (open_fn)dlsym(rtshm, "shm_open");
    unlinks[RTSHM] = (unlink_fn)dlsym(rtshm, "shm_unlink");
    opens[SYSCALL] = sys_open;
    unlinks[SYSCALL] = sys_unlink;
    if (!opens[GLIBC] || !opens[RTSHM] || opens[GLIBC] == opens[RTSHM]) {
        fprintf(stderr, "bench: could not load both implementations\n");
        exit(2);
    }
}

/* ---- the operations ---- */

enum { OP_OPEN, OP_CREATE, OP_MISSING, OP_INVALID, OP_LONG, N_OPS };
static const char *const op_names[] = {
    "open existing + close", "create O_EXCL + close + unlink", "open missing (ENOENT)",
    "invalid name (EINVAL)", "open 255-byte name + close",
};
static const char *const op_keys[] = {"open", "create", "missing", "invalid", "long"};

/* Names for the shm functions, and the same objects' paths for the baseline. */
static char names[N_OPS][300], paths[N_OPS][320 + 1500];

static void make_names(void)
{
    pid_t pid = getpid();
    snprintf(names[OP_OPEN], 300, "/rtshm-bench.%d.existing", (int)pid);
    snprintf(names[OP_CREATE], 300, "/rtshm-bench.%d.new", (int)pid);
    snprintf(names[OP_MISSING], 300, "/rtshm-bench.%d.missing", (int)pid);
    snprintf(names[OP_INVALID], 300, "/rtshm-bench.%d/invalid", (int)pid);
    int n = snprintf(names[OP_LONG], 300, "/rtshm-bench.%d.long.", (int)pid);
    memset(names[OP_LONG] + n, 'L', 256 - (size_t)n);
    names[OP_LONG][256] = 0;
    for (int op = 0; op < N_OPS; op++)
        snprintf(paths[op], sizeof paths[op], "/dev/shm%s", names[op]);
}

static const char *arg_for(int impl, int op) { return impl == SYSCALL ? paths[op] : names[op]; }

static void setup(void)
{
    make_names();
    for (int op = 0; op < N_OPS; op++)
        if (op == OP_OPEN || op == OP_LONG) {
            int fd = open(paths[op], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0) {
                fprintf(stderr, "bench: creating %s: %s\n", paths[op], strerror(errno));
                exit(2);
            }
            close(fd);
        }
}

static void teardown(void)
{
    unlink(paths[OP_OPEN]);
    unlink(paths[OP_LONG]);
    unlink(paths[OP_CREATE]);
}

/* One call of op with impl; exits if the result is not the expected one, so that a broken
 * implementation cannot look fast. */
static inline void run_op(int impl, int op)
{
    const char *a = arg_for(impl, op);
    int fd;
    switch (op) {
    case OP_OPEN:
    case OP_LONG:
        fd = opens[impl](a, O_RDWR, 0);
        if (fd < 0)
            goto bad;
        close_for(impl, fd);
        return;
    case OP_CREATE:
        fd = opens[impl](a, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
            goto bad;
        close_for(impl, fd);
        if (unlinks[impl](a) != 0)
            goto bad;
        return;
    case OP_MISSING:
        if (opens[impl](a, O_RDWR, 0) != -1 || errno != ENOENT)
            goto bad;
        return;
    case OP_INVALID:
        if (opens[impl](a, O_RDWR, 0) != -1 || errno != EINVAL)
            goto bad;
        return;
    }
bad:
    fprintf(stderr, "bench: %s, %s: unexpected result (%s)\n", impl_names[impl], op_names[op],
            strerror(errno));
    teardown();
    exit(3);
}

static int applies(int impl, int op) { return !(impl == SYSCALL && op == OP_INVALID); }

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- bench time ---- */

static void bench_time(int rounds, int batch)
{
    static double samples[N_OPS][N_IMPLS][100000];
    if (rounds > 100000)
        rounds = 100000;
    for (int op = 0; op < N_OPS; op++) /* warm up: caches, page tables, dentries */
        for (int impl = 0; impl < N_IMPLS; impl++)
            for (int i = 0; applies(impl, op) && i < batch; i++)
                run_op(impl, op);
    for (int r = 0; r < rounds; r++)
        for (int op = 0; op < N_OPS; op++)
            for (int k = 0; k < N_IMPLS; k++) {
                int impl = (k + r + op) % N_IMPLS; /* rotate who goes first */
                if (!applies(impl, op))
                    continue;
                double t0 = now_ns();
                for (int i = 0; i < batch; i++)
                    run_op(impl, op);
                samples[op][impl][r] = (now_ns() - t0) / batch;
            }
    printf("| operation | glibc ns | rtshm ns | syscall ns | rtshm/glibc | rtshm/syscall |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (int op = 0; op < N_OPS; op++) {
        double m[N_IMPLS];
        for (int impl = 0; impl < N_IMPLS; impl++)
            m[impl] = applies(impl, op) ? median(samples[op][impl], rounds) : 0;
        printf("| %s | %.0f | %.0f | ", op_names[op], m[GLIBC], m[RTSHM]);
        if (applies(SYSCALL, op))
            printf("%.0f | %.3f | %.3f |\n", m[SYSCALL], m[RTSHM] / m[GLIBC], m[RTSHM] / m[SYSCALL]);
        else
            printf("— | %.3f | — |\n", m[RTSHM] / m[GLIBC]);
    }
}

/* ---- bench count ---- */

static int find(const char *const *list, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], key) == 0)
            return i;
    fprintf(stderr, "bench: unknown %s\n", key);
    exit(2);
}

static void bench_count(const char *impl_key, const char *op_key, long k)
{
    int impl = find(impl_names, N_IMPLS, impl_key), op = find(op_keys, N_OPS, op_key);
    for (long i = 0; i < k; i++)
        run_op(impl, op);
}

/* ---- bench threads ---- */

struct worker {
    int impl, id;
    double seconds;
    long ops;
};

static void *create_unlink_loop(void *arg)
{
    struct worker *w = arg;
    char name[64];
    snprintf(name, sizeof name, "%s/rtshm-bench.%d.t%d", w->impl == SYSCALL ? "/dev/shm" : "",
             (int)getpid(), w->id);
    double end = now_ns() + w->seconds * 1e9;
    long n = 0;
    while (now_ns() < end)
        for (int i = 0; i < 64; i++, n++) {
            int fd = opens[w->impl](name, O_RDWR | O_CREAT | O_EXCL, 0600);
            if (fd < 0 || close(fd) != 0 || unlinks[w->impl](name) != 0) {
                fprintf(stderr, "bench: %s thread: %s\n", impl_names[w->impl], strerror(errno));
                exit(3);
            }
        }
    w->ops = n;
    return NULL;
}

static void bench_threads(double seconds)
{
    printf("| threads | glibc ops/s | rtshm ops/s | rtshm/glibc |\n|---:|---:|---:|---:|\n");
    for (int t = 1; t <= 8; t *= 2) {
        double rate[2] = {0, 0};
        for (int rep = 0; rep < 3; rep++) /* alternate, and keep each one's best of three */
            for (int impl = GLIBC; impl <= RTSHM; impl++) {
                struct worker w[8];
                pthread_t th[8];
                for (int i = 0; i < t; i++) {
                    w[i] = (struct worker){impl, i, seconds, 0};
                    pthread_create(&th[i], NULL, create_unlink_loop, &w[i]);
                }
                long total = 0;
                for (int i = 0; i < t; i++) {
                    pthread_join(th[i], NULL);
                    total += w[i].ops;
                }
                if (total / seconds > rate[impl])
                    rate[impl] = total / seconds;
            }
        printf("| %d | %.0f | %.0f | %.3f |\n", t, rate[GLIBC], rate[RTSHM], rate[RTSHM] / rate[GLIBC]);
    }
}

/* ---- bench lengths ---- */

static void bench_lengths(int rounds, int batch)
{
    static const int lens[] = {1, 16, 64, 128, 255};
    static double samples[2][100000];
    if (rounds > 100000)
        rounds = 100000;
    printf("| name length | glibc ns | rtshm ns | rtshm/glibc |\n|---:|---:|---:|---:|\n");
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        char name[300], path[320];
        name[0] = '/';
        snprintf(name + 1, sizeof name - 1, "%d", (int)getpid() % 10);
        memset(name + 2, 'n', (size_t)lens[l] - 1);
        name[lens[l] + 1] = 0;
        snprintf(path, sizeof path, "/dev/shm%s", name);
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
            exit(2);
        }
        close(fd);
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < 2; k++) {
                int impl = (k + r) % 2;
                double t0 = now_ns();
                for (int i = 0; i < batch; i++) {
                    fd = opens[impl](name, O_RDWR, 0);
                    if (fd < 0)
                        exit(3);
                    close(fd);
                }
                samples[impl][r] = (now_ns() - t0) / batch;
            }
        unlink(path);
        double g = median(samples[GLIBC], rounds), m = median(samples[RTSHM], rounds);
        printf("| %d | %.0f | %.0f | %.3f |\n", lens[l], g, m, m / g);
    }
}

static void bench_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            printf("%ld\n", strtol(line + 6, NULL, 10));
    if (f)
        fclose(f);
}

/* Median µs to spawn and reap each of COUNT items, alternating, N runs each: /bin/true with
 * LD_PRELOAD=item (an empty item: no preload) or, when PRELOAD is 0, the program the item names. */
static void bench_spawn(int n, int count, char **items, int preload)
{
    static double samples[16][20000];
    if (n > 20000)
        n = 20000;
    if (count > 16)
        count = 16;
    for (int r = -20; r < n; r++) /* 20 rounds of warm-up */
        for (int k = 0; k < count; k++) {
            int i = (k + (r < 0 ? 0 : r)) % count;
            char env[4200];
            snprintf(env, sizeof env, "LD_PRELOAD=%s", items[i]);
            char *envp[] = {env, NULL}, *argv[] = {preload ? "/bin/true" : items[i], NULL};
            pid_t pid;
            double t0 = now_ns();
            if (posix_spawn(&pid, argv[0], NULL, NULL, argv,
                            preload && *items[i] ? envp : envp + 1) != 0 ||
                waitpid(pid, NULL, 0) != pid) {
                fprintf(stderr, "bench: spawning %s failed\n", argv[0]);
                exit(3);
            }
            if (r >= 0)
                samples[i][r] = (now_ns() - t0) / 1000;
        }
    for (int i = 0; i < count; i++)
        printf("%s %.1f\n", *items[i] ? items[i] : "(none)", median(samples[i], n));
}

/* ---- bench ftcount, bench grow: ftruncate, glibc's and rtshm's ---- */

typedef int (*ftruncate_fn)(int, off_t);

static ftruncate_fn ftruncate_of(const char *impl)
{
    const char *so = strcmp(impl, "glibc") == 0 ? "libc.so.6"
                     : getenv("RTSHM_SO")       ? getenv("RTSHM_SO")
                                                : "target/release/librtshm.so";
    void *lib = dlopen(so, RTLD_LAZY | RTLD_LOCAL);
    ftruncate_fn fn = lib ? (ftruncate_fn)dlsym(lib, "ftruncate") : NULL;
    if (!fn) {
        fprintf(stderr, "bench: no ftruncate in %s\n", so);
        exit(2);
    }
    return fn;
}

/* A new, unlinked object in /dev/shm (glibc's shm_open: the same file either way). */
static int new_object(void)
{
    char name[64];
    snprintf(name, sizeof name, "/rtshm-bench.%d.ft", (int)getpid());
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || shm_unlink(name) != 0) {
        fprintf(stderr, "bench: shm_open: %s\n", strerror(errno));
        exit(3);
    }
    return fd;
}

static void bench_ftcount(const char *impl, long k)
{
    ftruncate_fn fn = ftruncate_of(impl);
    int fd = new_object();
    if (fn(fd, 4096) != 0)
        exit(3);
    for (long i = 0; i < k; i++)
        fn(fd, 4096);
    close(fd);
}

static void bench_grow(const char *impl, long size, int rounds)
{
    ftruncate_fn fn = ftruncate_of(impl);
    double *alone = calloc((size_t)rounds, sizeof *alone);
    double *touched = calloc((size_t)rounds, sizeof *touched);
    for (int r = 0; r < rounds; r++) {
        int fd = new_object();
        double t0 = now_ns();
        if (fn(fd, size) != 0) {
            fprintf(stderr, "bench: ftruncate: %s\n", strerror(errno));
            exit(3);
        }
        double t1 = now_ns();
        char *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            exit(3);
        for (long i = 0; i < size; i += 4096)
            p[i] = 1;
        double t2 = now_ns();
        munmap(p, (size_t)size);
        close(fd);
        alone[r] = (t1 - t0) / 1000;
        touched[r] = (t2 - t0) / 1000;
    }
    printf("%.1f %.1f\n", median(alone, rounds), median(touched, rounds));
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "rss") == 0) {
        bench_rss();
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "startup") == 0) {
        bench_spawn(atoi(argv[2]), argc - 3, argv + 3, 1);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "spawn") == 0) {
        bench_spawn(atoi(argv[2]), argc - 3, argv + 3, 0);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "ftcount") == 0) {
        bench_ftcount(argv[2], atol(argv[3]));
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "grow") == 0) {
        bench_grow(argv[2], atol(argv[3]), atoi(argv[4]));
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: see the comment at the top of bench/bench.c\n");
        return 2;
    }
    load();
    setup();
    if (strcmp(argv[1], "time") == 0)
        bench_time(atoi(argv[2]), argc > 3 ? atoi(argv[3]) : 100);
    else if (strcmp(argv[1], "count") == 0 && argc == 5)
        bench_count(argv[2], argv[3], atol(argv[4]));
    else if (strcmp(argv[1], "threads") == 0)
        bench_threads(atof(argv[2]));
    else if (strcmp(argv[1], "lengths") == 0)
        bench_lengths(atoi(argv[2]), argc > 3 ? atoi(argv[3]) : 100);
    else
        fprintf(stderr, "bench: unknown command %s\n", argv[1]);
    teardown();
    return 0;
}
