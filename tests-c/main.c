/* The suite's runner: each test in a child process, one result line each, then a count. */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <grp.h>
#include <stdarg.h>
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

#define SKIP_STATUS 77
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

int as_nobody(void (*fn)(void *), void *arg)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
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
    return status;
}

const char *test_prefix(void)
{
    static char mine[128];
    snprintf(mine, sizeof mine, "%s%s.", prefix, current_test);
    return mine;
}

int remove_objects(void)
{
    const char *mine = test_prefix();
    int fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    int left = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, mine, strlen(mine)) != 0)
            continue;
        left++;
        if (unlinkat(fd, e->d_name, 0) != 0 && errno == EISDIR)
            unlinkat(fd, e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
    return left;
}

int main(int argc, char **argv)
{
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
