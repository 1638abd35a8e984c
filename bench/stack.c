/* Stack use of each function, glibc's and rtshm's side by side: the smallest alternate signal
 * stack on which a signal handler can make the call, found by bisection (16-byte steps) with a
 * guard page right below the stack, less what an empty handler needs (the kernel's signal
 * frame). Each trial runs in a fresh child, so "first" is the process's first call (rtshm reads
 * its settings then) and "after" follows one earlier call.
 *
 * build/stack LIBRTSHM.so prints a Markdown table; RTSHM_DIR and RTSHM_RESERVE in the
 * environment are rtshm's (glibc ignores them). Run by make bench (bench/run.sh). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum op { SHM_OPEN, SHM_UNLINK, SEM_OPEN, SEM_CLOSE, SEM_UNLINK, FTRUNCATE, SHM_ANON_OPEN,
          SHM_RENAME, SHM_MKSTEMP, RTSHM_DIR, EMPTY };
static const char *const op_names[] = {
    "shm_open (O_CREAT)", "shm_unlink",         "sem_open (O_CREAT)", "sem_close",
    "sem_unlink",         "ftruncate (growing an object)", "shm_open(SHM_ANON)", "shm_rename",
    "shm_mkstemp",        "rtshm_dir",          "(empty handler)"};
/* Calls glibc does not have. */
static int rtshm_only(enum op o) { return o >= SHM_ANON_OPEN && o < EMPTY; }

struct impl {
    int (*shm_open)(const char *, int, mode_t);
    int (*shm_unlink)(const char *);
    sem_t *(*sem_open)(const char *, int, ...);
    int (*sem_close)(sem_t *);
    int (*sem_unlink)(const char *);
    int (*ftruncate)(int, off_t);
    int (*shm_rename)(const char *, const char *, int);
    int (*shm_mkstemp)(char *);
    const char *(*rtshm_dir)(void);
};

static struct impl impl;
static enum op op;
static char name[64], other[64], template[64];
static sem_t *opened;
static int object = -1; /* for ftruncate: an object, 4096 bytes long */
static volatile int ok;

static void handler(int sig)
{
    (void)sig;
    switch (op) {
    case SHM_OPEN:
    case SHM_ANON_OPEN: {
        int fd = impl.shm_open(op == SHM_OPEN ? name : (const char *)1, O_RDWR | O_CREAT, 0600);
        ok = fd >= 0;
        if (fd >= 0)
            syscall(SYS_close, fd);
        break;
    }
    case SHM_UNLINK:
        ok = impl.shm_unlink(name) == 0;
        break;
    case SEM_OPEN:
        ok = impl.sem_open(name, O_CREAT, 0600, 1) != SEM_FAILED;
        break;
    case SEM_UNLINK:
        ok = impl.sem_unlink(name) == 0;
        break;
    case SEM_CLOSE:
        ok = impl.sem_close(opened) == 0;
        break;
    case FTRUNCATE:
        ok = impl.ftruncate(object, 1 << 20) == 0;
        break;
    case SHM_RENAME:
        ok = impl.shm_rename(name, other, 0) == 0;
        break;
    case SHM_MKSTEMP: {
        int fd = impl.shm_mkstemp(template);
        ok = fd >= 0;
        if (fd >= 0)
            syscall(SYS_close, fd);
        break;
    }
    case RTSHM_DIR:
        ok = impl.rtshm_dir() != NULL;
        break;
    case EMPTY:
        ok = 1;
        break;
    }
}

/* Whether the call succeeds on a `size`-byte alternate stack, in a fresh child. */
static int fits(size_t size, int first)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        /* Bind what the handler calls outside the function under test (lazy binding would
         * otherwise count), and make what it needs. */
        syscall(SYS_getpid);
        if (!first) {
            if (op == SEM_OPEN || op == SEM_UNLINK)
                impl.sem_close(impl.sem_open(name, O_CREAT, 0600, 1));
            else if (op != EMPTY && op != FTRUNCATE)
                syscall(SYS_close, impl.shm_open(name, O_RDWR | O_CREAT, 0600));
        }
        if (op == FTRUNCATE) {
            /* An object made and sized without a call of the library under test, then
             * unlinked; a later call follows one ftruncate of it to the same size. */
            char path[512];
            snprintf(path, sizeof path, "%s/%s", getenv("STACK_DIR"), name + 1);
            object = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            unlink(path);
            if (object < 0 || syscall(SYS_ftruncate, object, 4096) != 0 ||
                (!first && impl.ftruncate(object, 4096) != 0))
                _exit(5);
        }
        if (op == SEM_CLOSE) /* a first call is not possible: sem_open comes first */
            opened = impl.sem_open(name, O_CREAT, 0600, 1);
        if (first && (op == SHM_UNLINK || op == SEM_UNLINK || op == SHM_RENAME)) {
            /* Something to remove or rename, made without a call of the library under test. */
            const char *dir = getenv("STACK_DIR");
            char path[512];
            snprintf(path, sizeof path, "%s/%s%s", dir, op == SEM_UNLINK ? "sem." : "", name + 1);
            close(open(path, O_RDWR | O_CREAT, 0600));
        }
        char *m = mmap(NULL, 4096 + 65536, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || mprotect(m, 4096, PROT_NONE) != 0)
            _exit(3);
        stack_t ss = {.ss_sp = m + 4096, .ss_size = size};
        if (sigaltstack(&ss, NULL) != 0)
            _exit(4);
        struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_ONSTACK};
        sigaction(SIGUSR1, &sa, NULL);
        raise(SIGUSR1);
        _exit(ok ? 0 : 1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The smallest alternate stack the call needs, in bytes (0: it fails on any). */
static size_t needed(int first)
{
    size_t lo = 0, hi = 65536;
    if (!fits(hi, first))
        return 0;
    while (hi - lo > 16) {
        size_t mid = (lo + hi) / 2 & ~(size_t)15;
        if (fits(mid, first))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static void cleanup(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name + 1);
    unlink(path);
    snprintf(path, sizeof path, "%s/sem.%s", dir, name + 1);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s", dir, other + 1);
    unlink(path);
    /* shm_mkstemp's objects: the template's prefix and six letters. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -f %s/%.*s??????", dir, (int)strlen(template) - 7, template + 1);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", cmd);
}

static void load(struct impl *i, void *lib)
{
    i->shm_open = (int (*)(const char *, int, mode_t))dlsym(lib, "shm_open");
    i->shm_unlink = (int (*)(const char *))dlsym(lib, "shm_unlink");
    i->sem_open = (sem_t * (*)(const char *, int, ...)) dlsym(lib, "sem_open");
    i->sem_unlink = (int (*)(const char *))dlsym(lib, "sem_unlink");
    i->sem_close = (int (*)(sem_t *))dlsym(lib, "sem_close");
    i->ftruncate = (int (*)(int, off_t))dlsym(lib, "ftruncate");
    i->shm_rename = (int (*)(const char *, const char *, int))dlsym(lib, "shm_rename");
    i->shm_mkstemp = (int (*)(char *))dlsym(lib, "shm_mkstemp");
    i->rtshm_dir = (const char *(*)(void))dlsym(lib, "rtshm_dir");
    if (!i->shm_open || !i->shm_unlink || !i->sem_open || !i->sem_unlink || !i->sem_close ||
        !i->ftruncate) {
        fprintf(stderr, "missing symbols: %s\n", dlerror());
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s LIBRTSHM.so\n", argv[0]);
        return 2;
    }
    void *glibc = dlopen("libc.so.6", RTLD_NOW);
    void *rtshm = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!glibc || !rtshm) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    struct impl g, r;
    load(&g, glibc);
    load(&r, rtshm);
    const char *rdir = getenv("RTSHM_DIR") ? getenv("RTSHM_DIR") : "/dev/shm";
    snprintf(name, sizeof name, "/rtshm-stack.%d", (int)getpid());
    snprintf(other, sizeof other, "/rtshm-stack.%d.renamed", (int)getpid());
    snprintf(template, sizeof template, "/rtshm-stack.%d.XXXXXX", (int)getpid());
    impl = g;
    op = EMPTY;
    size_t frame = needed(1);
    printf("Bytes of stack each call needs beyond the kernel's signal frame (an empty handler "
           "needs %zu here)%s%s:\n\n",
           frame, getenv("RTSHM_DIR") ? ", rtshm in RTSHM_DIR" : "",
           getenv("RTSHM_RESERVE") ? ", RTSHM_RESERVE=1" : "");
    printf("| call | glibc, first call | glibc, later | rtshm, first call | rtshm, later |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (op = SHM_OPEN; op < EMPTY; op++) {
        size_t v[4] = {0};
        for (int which = 0; which < 4; which++) {
            int is_rtshm = which >= 2, first = which % 2 == 0;
            if (!is_rtshm && rtshm_only(op))
                continue;
            impl = is_rtshm ? r : g;
            setenv("STACK_DIR", is_rtshm ? rdir : "/dev/shm", 1);
            v[which] = needed(first);
            cleanup("/dev/shm");
            cleanup(rdir);
        }
        printf("| %s |", op_names[op]);
        for (int which = 0; which < 4; which++) {
            if (v[which])
                printf(" %zu |", v[which] - frame);
            else
                printf(" %s |", which < 2 && rtshm_only(op) ? "-" : "fails");
        }
        printf("\n");
    }
    return 0;
}
