/* The suite's runner: each test in a child process, one result line each, then a count. */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <dlfcn.h>
#include <grp.h>
#include <sys/auxv.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#ifdef RTSHM_LINK_SHARED
const char *const link_mode = "shared";
#elif defined(RTSHM_LINK_STATIC)
const char *const link_mode = "static";
#elif defined(RTSHM_LINK_PRELOAD)
const char *const link_mode = "preload";
#else
const char *const link_mode = "none";
#endif

int testing_rtshm(void) { return strcmp(link_mode, "none") != 0; }



#if defined(__x86_64__)
#define AUDIT_ARCH_CURRENT AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_CURRENT AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define AUDIT_ARCH_CURRENT AUDIT_ARCH_I386
#elif defined(__riscv) && __riscv_xlen == 64
#define AUDIT_ARCH_CURRENT AUDIT_ARCH_RISCV64
#else
#error "add this architecture's AUDIT_ARCH_ value"
#endif

static struct test *tests, **tests_tail = &tests;
static char prefix[64];
static const char *current_test;

void register_test(struct test *t)
{
    *tests_tail = t;
    tests_tail = &t->next;
}

const char *run_prefix(void) { return prefix; }

const char *tname(const char *tag)
{
    static char names[8][128];
    static unsigned next;
    char *n = names[next++ % 8];
    snprintf(n, sizeof names[0], "/%s%s.%s", prefix, current_test, tag);
    return n;
}

void fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  # %s:%d: ", file, line);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    _exit(1);
}

void skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  # skipped: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    _exit(SKIP_STATUS);
}

void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  # ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

const char *errname_(int err)
{
    static const struct { int err; const char *name; } names[] = {
#define E(x) {x, #x}
        E(EPERM), E(ENOENT), E(EINTR), E(EIO), E(EBADF), E(EAGAIN), E(ENOMEM), E(EACCES),
        E(EFAULT), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR), E(EISDIR), E(EINVAL),
        E(ENFILE), E(EMFILE), E(ETXTBSY), E(EFBIG), E(ENOSPC), E(EROFS), E(EMLINK),
        E(ENAMETOOLONG), E(ELOOP), E(EOVERFLOW), E(EOPNOTSUPP), E(EDQUOT), E(ENXIO),
        E(ESPIPE), E(ERANGE), E(ENOSYS), E(EWOULDBLOCK),
#undef E
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].err == err)
            return names[i].name;
    static char buf[8][16];
    static unsigned next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "errno %d", err);
    return b;
}

static int child(void (*fn)(void *), void *arg, int drop)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        if (drop && (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)) {
            printf("  # dropping to uid %d: %s\n", NOBODY, strerror(errno));
            _exit(2);
        }
        fn(arg);
        fflush(stdout);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            FAIL("waitpid: %s", strerror(errno));
    /* A skip inside the child skips the test. */
    if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_STATUS)
        _exit(SKIP_STATUS);
    return status;
}

int as_nobody(void (*fn)(void *), void *arg)
{
    need_root();
    return child(fn, arg, 1);
}

int in_child(void (*fn)(void *), void *arg) { return child(fn, arg, 0); }

void need_root(void)
{
    if (geteuid() != 0)
        skip("needs root (to change uid or set up other users' objects)");
}

/* Installs a seccomp filter in this process (a child's), or skips the test where none can be
 * used. */
static void install_filter(struct sock_filter *filter, unsigned short len)
{
    struct sock_fprog prog = {len, filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        skip("seccomp: %s", strerror(errno));
}

#define ALLOW_OTHER_ARCH_THEN_LOAD_NR                                                         \
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),                  \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_CURRENT, 1, 0),                        \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),                                         \
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))

void inject_errno(long nr, long nr2, int err)
{
    if (getenv("RTSHM_UNDER_VALGRIND"))
        skip("seccomp filters are not used under valgrind");
    struct sock_filter filter[] = {
        ALLOW_OTHER_ARCH_THEN_LOAD_NR,
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    install_filter(filter, sizeof filter / sizeof filter[0]);
}

void inject_errno_with_flag(long nr, int arg, unsigned flag, int err)
{
    if (getenv("RTSHM_UNDER_VALGRIND"))
        skip("seccomp filters are not used under valgrind");
    struct sock_filter filter[] = {
        ALLOW_OTHER_ARCH_THEN_LOAD_NR,
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* The argument's low 32 bits (little-endian: the first word of args[arg]). */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args) + 8 * arg),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, flag, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    install_filter(filter, sizeof filter / sizeof filter[0]);
}

int (*rename_fn)(const char *, const char *, int);
int (*mkstemp_fn)(char *);

void load_bsd(void)
{
#if defined(RTSHM_LINK_SHARED) || defined(RTSHM_LINK_STATIC)
    rename_fn = shm_rename;
    mkstemp_fn = shm_mkstemp;
#else
    rename_fn = (int (*)(const char *, const char *, int))dlsym(RTLD_DEFAULT, "shm_rename");
    mkstemp_fn = (int (*)(char *))dlsym(RTLD_DEFAULT, "shm_mkstemp");
#endif
}

const char *current_rtshm_dir(void)
{
#if defined(RTSHM_LINK_SHARED) || defined(RTSHM_LINK_STATIC)
    return rtshm_dir();
#else
    const char *(*fn)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "rtshm_dir");
    return fn ? fn() : NULL;
#endif
}

const char *make_ns_dir(void)
{
    static char dir[256];
    snprintf(dir, sizeof dir, "/dev/shm/%sns", test_prefix());
    if (mkdir(dir, 0) != 0 || chmod(dir, 01777) != 0)
        FAIL("mkdir %s: %s", dir, strerror(errno));
    return dir;
}

void use_rtshm_dir(const char *dir)
{
    if (dir)
        setenv("RTSHM_DIR", dir, 1);
    else
        unsetenv("RTSHM_DIR");
}

int entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        FAIL("opendir %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

int low_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 256; fd++)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}

int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        FAIL("/proc/self/fd: %s", strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* not the directory's own descriptor */
}

const char *shm_path_of(const char *name)
{
    static char paths[4][PATH_MAX + 16];
    static unsigned next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "/dev/shm%s%s", name[0] == '/' ? "" : "/", name);
    return p;
}

int run_peer(char *out, size_t size, ...)
{
    static char peer[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", peer, sizeof peer - 16);
    if (n < 0)
        FAIL("readlink /proc/self/exe: %s", strerror(errno));
    peer[n] = 0;
    strcpy(strrchr(peer, '/') + 1, "peer");
    char *argv[16] = {peer};
    va_list ap;
    va_start(ap, size);
    for (int i = 1; i < 15 && (argv[i] = va_arg(ap, char *)) != NULL; i++)
        ;
    va_end(ap);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        FAIL("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fds[1], 1);
        char *envp[] = {"PATH=/usr/bin:/bin", NULL}; /* and no LD_PRELOAD */
        execve(peer, argv, envp);
        printf("exec %s: %s\n", peer, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    while (size && used < size - 1 && (n = read(fds[0], out + used, size - 1 - used)) > 0)
        used += (size_t)n;
    if (size)
        out[used] = 0;
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            FAIL("waitpid: %s", strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *test_prefix(void)
{
    static char mine[128];
    snprintf(mine, sizeof mine, "%s%s.", prefix, current_test);
    return mine;
}

/* Removes the entry `name` in the directory `dirfd`, and all it holds if it is a directory. */
static void remove_tree(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
        return;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove_tree(fd, e->d_name);
    if (d)
        closedir(d);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* Removes the entries of `dir` named with this test's prefix; returns how many. */
static int remove_mine(const char *dir)
{
    const char *mine = test_prefix();
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    int left = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = strncmp(e->d_name, "sem.", 4) == 0 ? e->d_name + 4 : e->d_name;
        if (strncmp(n, mine, strlen(mine)) != 0)
            continue;
        left++;
        remove_tree(fd, e->d_name);
    }
    closedir(d);
    return left;
}

int remove_objects(void) { return remove_mine("/dev/shm") + remove_mine("/tmp"); }

/* The helper modes of the trust tests' privileged copies of this program (t_trust.c). */
__attribute__((noreturn)) void trust_helper(int argc, char **argv);

int main(int argc, char **argv)
{
    if (argc >= 2 && strncmp(argv[1], "--trust-", 8) == 0)
        trust_helper(argc, argv);
    /* For the secure-execution test: what a (setuid) copy of this program sees. */
    if (argc == 2 && strcmp(argv[1], "--print-rtshm-dir") == 0) {
        const char *dir = current_rtshm_dir();
        printf("%lu %s\n", getauxval(AT_SECURE), dir ? dir : "(null)");
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (struct test *t = tests; t; t = t->next)
            printf("%s\n", t->name);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s [--list | TEST...]: runs every test, or the TESTs named\n", argv[0]);
        return 0;
    }
    /* A name that is no test is a mistake, not a run of nothing. */
    int unknown = 0;
    for (int i = 1; i < argc; i++) {
        int found = 0;
        for (struct test *t = tests; t && !found; t = t->next)
            found = strcmp(argv[i], t->name) == 0;
        if (!found) {
            fprintf(stderr, "%s: no test is named %s (--list lists them)\n", argv[0], argv[i]);
            unknown++;
        }
    }
    if (unknown)
        return 2;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(prefix, sizeof prefix, "rtshm-t.%ld.%lx.", (long)getpid(),
             (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("# rtshm C suite, link mode %s, uid %d\n", link_mode, (int)getuid());
    int passed = 0, failed = 0, skipped = 0;
    for (struct test *t = tests; t; t = t->next) {
        int wanted = argc < 2;
        for (int i = 1; i < argc; i++)
            wanted |= strcmp(argv[i], t->name) == 0;
        if (!wanted)
            continue;
        current_test = t->name;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            alarm(120);
            t->fn();
            fflush(stdout);
            _exit(0);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        int left = remove_objects();
        const char *verdict = "ok";
        if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_STATUS) {
            verdict = "skip";
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            verdict = "FAIL";
            if (WIFSIGNALED(status))
                printf("  # killed by signal %d (%s)\n", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
        }
        if (left) {
            printf("  # left %d object(s) in /dev/shm (removed now)\n", left);
            verdict = "FAIL";
        }
        printf("%-4s %s [%s]\n", verdict, t->name, link_mode);
        if (verdict[0] == 'o')
            passed++;
        else if (verdict[0] == 's')
            skipped++;
        else
            failed++;
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
