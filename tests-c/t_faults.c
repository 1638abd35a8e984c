/* Fault injection: every system call the library makes fails, in turn, with errnos the kernel
 * can return for it (seccomp SECCOMP_RET_ERRNO in a child). The call returns -1 (or
 * SEM_FAILED) with that errno or its documented mapping, leaks no descriptor, and leaves
 * nothing half made; where the library has a fallback (getrandom, /proc), the call succeeds. */
#define _GNU_SOURCE
#include "check.h"

#include <dlfcn.h>
#include <semaphore.h>
#include <sys/syscall.h>


enum api { SHM_OPEN, SHM_UNLINK, SEM_CREATE, SEM_OPEN_EXISTING, SEM_UNLINK, ANON, RENAME, MKSTEMP };
static const char *const api_names[] = {"shm_open", "shm_unlink", "sem_open(O_CREAT|O_EXCL)",
                                        "sem_open", "sem_unlink", "shm_open(SHM_ANON)",
                                        "shm_rename", "shm_mkstemp"};

struct fault {
    enum api api;
    long nr;
    int err, want; /* want: the errno expected, or 0 for success (a fallback) */
};

/* Entries in the test's RTSHM_DIR (its own: other programs' temporary semaphore files in
 * /dev/shm cannot be told from ours), read with getdents64 on a directory opened before
 * anything was made to fail (no openat, no malloc). */
static int shm_dir = -1;
static const char *ns_dir;
static int my_entries(void)
{
    char buf[8192];
    int n = 0;
    lseek(shm_dir, 0, SEEK_SET);
    for (;;) {
        long got = syscall(SYS_getdents64, shm_dir, buf, sizeof buf);
        if (got <= 0)
            return got < 0 ? -1 : n;
        for (long at = 0; at < got;) {
            unsigned short reclen = *(unsigned short *)(buf + at + 16);
            const char *name = buf + at + 19;
            n += strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
            at += reclen;
        }
    }
}

static int call_api(enum api api, const char *a, const char *b)
{
    static char tmpl[200];
    load_bsd();
    sem_t *s;
    int fd = -1;
    switch (api) {
    case SHM_OPEN:
        fd = shm_open(a, O_RDWR | O_CREAT, 0600);
        break;
    case SHM_UNLINK:
        return shm_unlink(a);
    case SEM_CREATE:
    case SEM_OPEN_EXISTING:
        s = api == SEM_CREATE ? sem_open(a, O_CREAT | O_EXCL, 0600, 1) : sem_open(a, 0);
        if (s == SEM_FAILED)
            return -1;
        sem_close(s);
        return 0;
    case SEM_UNLINK:
        return sem_unlink(a);
    case ANON:
        fd = shm_open(SHM_ANON, O_RDWR, 0600);
        break;
    case RENAME:
        return rename_fn ? rename_fn(a, b, 0) : -2;
    case MKSTEMP:
        snprintf(tmpl, sizeof tmpl, "%sXXXXXX", a);
        fd = mkstemp_fn ? mkstemp_fn(tmpl) : -2;
        if (fd >= 0)
            shm_unlink(tmpl);
        break;
    }
    if (fd >= 0)
        close(fd);
    return fd < 0 ? fd : 0;
}

/* When set, only calls whose fourth argument has one of these bits set fail (mmap's flags). */
static unsigned only_with_flag;

static void injected(void *arg)
{
    struct fault *f = arg;
    use_rtshm_dir(ns_dir); /* before this process's first call */
    /* The directory's check at its first use makes system calls of its own: done before
     * anything fails, so that what fails is the call under test. */
    CHECK(current_rtshm_dir() != NULL);
    char a[160], b[160];
    snprintf(a, sizeof a, "%s", tname("a"));
    snprintf(b, sizeof b, "%s", tname("b"));
    /* What must already exist, made before anything fails. */
    if (f->api == SHM_UNLINK || f->api == RENAME)
        close(shm_open(a, O_RDWR | O_CREAT, 0600));
    if (f->api == SEM_OPEN_EXISTING || f->api == SEM_UNLINK)
        sem_close(sem_open(a, O_CREAT, 0600, 1));
    shm_dir = open(ns_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int existing = my_entries();
    int before = low_fds();
    long legacy = -1;
    if (only_with_flag)
        inject_errno_with_flag(f->nr, 3, only_with_flag, f->err);
    else
        inject_errno(f->nr, legacy, f->err);
    errno = 0;
    int ret = call_api(f->api, a, b);
    int err = errno;
    if (ret == -2)
        skip("no such function in this build");
    if (f->want ? (ret != -1 || err != f->want) : ret != 0)
        FAIL("%s with syscall %ld failing %s: got %d %s, want %s", api_names[f->api], f->nr,
             errname_(f->err), ret, ret ? errname_(err) : "", f->want ? errname_(f->want) : "success");
    if (low_fds() != before)
        FAIL("%s with %s injected: a descriptor leaked", api_names[f->api], errname_(f->err));
    /* Nothing half made: as many entries as before (a failed create adds none). */
    int after = my_entries();
    if (f->want && after != existing)
        FAIL("%s with %s injected: %d entries in /dev/shm, %d before", api_names[f->api],
             errname_(f->err), after, existing);
}

static void clear_ns_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s/* %s/.[!.]*", ns_dir, ns_dir);
    CHECK(system(cmd) == 0);
}

static void run_faults(enum api api, long nr, const int *errs, int n, int (*map)(int))
{
    if (!ns_dir)
        ns_dir = make_ns_dir();
    for (int i = 0; i < n; i++) {
        struct fault f = {api, nr, errs[i], map ? map(errs[i]) : errs[i]};
        CHECK_CHILD(in_child(injected, &f));
        clear_ns_dir();
    }
}

static int open_map(int e) { return e == EISDIR ? EINVAL : e; }
static int unlink_map(int e) { return e == EPERM ? EACCES : e; }
static int fallback(int e) { (void)e; return 0; }

static const int open_errs[] = {EACCES, EDQUOT, EISDIR, EMFILE, ENFILE, ENOMEM, ENOSPC, EPERM, EROFS, EINTR, ELOOP, ENAMETOOLONG, ETXTBSY};
static const int unlink_errs[] = {EACCES, EBUSY, EIO, EISDIR, ENOMEM, EPERM, EROFS, EINTR};
static const int io_errs[] = {EIO, ENOSPC, EDQUOT, EFBIG, ENOMEM};
static const int map_errs[] = {ENOMEM, EACCES, EAGAIN, ENODEV, EPERM};
static const int link_errs[] = {EACCES, EDQUOT, EEXIST, EIO, EMLINK, ENOSPC, EPERM, EROFS};
static const int stat_errs[] = {EIO, ENOMEM, EOVERFLOW};
static const int memfd_errs[] = {EMFILE, ENFILE, ENOMEM, EINVAL};
static const int chmod_errs[] = {EIO, EPERM, EROFS};
static const int rename_errs[] = {EACCES, EBUSY, EDQUOT, EINVAL, EISDIR, EMLINK, ENOSPC, ENOTEMPTY, EPERM, EROFS, EXDEV};
static const int rand_errs[] = {ENOSYS, EAGAIN, EINTR};
#define N(x) (int)(sizeof x / sizeof x[0])

/* The test's directory, emptied by run_faults, goes at its end. */
static void done(void)
{
    if (ns_dir)
        CHECK_OK(rmdir(ns_dir));
    ns_dir = NULL;
}

static void need_rtshm(void)
{
    if (!testing_rtshm())
        skip("the system calls injected are rtshm's");
    if (getenv("RTSHM_UNDER_VALGRIND"))
        skip("seccomp filters are not used under valgrind");
}

TEST(faults_shm_open_and_unlink)
{
    need_rtshm();
    run_faults(SHM_OPEN, SYS_openat, open_errs, N(open_errs), open_map);
    run_faults(SHM_UNLINK, SYS_unlinkat, unlink_errs, N(unlink_errs), unlink_map);
    done();
}

TEST(faults_sem_open_create)
{
    need_rtshm();
    run_faults(SEM_CREATE, SYS_openat, open_errs, N(open_errs), NULL);
    /* write: EINTR is retried, so only errors that end the write are injected. */
    run_faults(SEM_CREATE, SYS_write, io_errs, N(io_errs), NULL);
    run_faults(SEM_CREATE, SYS_mmap, map_errs, N(map_errs), NULL);
    run_faults(SEM_CREATE, SYS_linkat, link_errs, N(link_errs), NULL);
    run_faults(SEM_CREATE, SYS_getrandom, rand_errs, N(rand_errs), fallback);
    done();
}

/* The registry's memory (the lock's page, a page of entries: anonymous mappings) cannot be had
 * at a process's first sem_open: it fails with the errno and leaves no semaphore behind (the
 * slot is reserved before the file is made, as musl does). */
TEST(faults_sem_open_registry_memory)
{
    need_rtshm();
    only_with_flag = MAP_ANONYMOUS;
    run_faults(SEM_CREATE, SYS_mmap, map_errs, N(map_errs), NULL);
    only_with_flag = 0;
    done();
}

TEST(faults_sem_open_existing_and_unlink)
{
    need_rtshm();
    run_faults(SEM_OPEN_EXISTING, SYS_openat, open_errs, N(open_errs), NULL);
    run_faults(SEM_OPEN_EXISTING, SYS_newfstatat, stat_errs, N(stat_errs), NULL);
    run_faults(SEM_OPEN_EXISTING, SYS_mmap, map_errs, N(map_errs), NULL);
    run_faults(SEM_UNLINK, SYS_unlinkat, unlink_errs, N(unlink_errs), unlink_map);
    done();
}

TEST(faults_shm_anon)
{
    need_rtshm();
    run_faults(ANON, SYS_memfd_create, memfd_errs, N(memfd_errs), NULL);
    run_faults(ANON, SYS_fchmod, chmod_errs, N(chmod_errs), NULL);
    /* No /proc: the umask is found another way. */
    run_faults(ANON, SYS_openat, open_errs, N(open_errs), fallback);
    run_faults(ANON, SYS_read, io_errs, N(io_errs), fallback);
    done();
}

TEST(faults_shm_rename_and_mkstemp)
{
    need_rtshm();
    run_faults(RENAME, SYS_renameat2, rename_errs, N(rename_errs), unlink_map);
    static const int mk_errs[] = {EACCES, ENOSPC, EMFILE, EROFS};
    run_faults(MKSTEMP, SYS_openat, mk_errs, N(mk_errs), NULL);
    run_faults(MKSTEMP, SYS_getrandom, rand_errs, N(rand_errs), fallback);
    done();
}
