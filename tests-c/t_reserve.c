/* RTSHM_RESERVE and rtshm's ftruncate (README, "No more SIGBUS").
 *
 * 1. ftruncate and ftruncate64 are rtshm's in every build, and behave as glibc's (dlopen'ed
 *    libc.so.6, called beside them) on every kind of descriptor and length: with RTSHM_RESERVE
 *    unset exactly; with RTSHM_RESERVE=1 but for ENOSPC where an object would grow past the
 *    free space.
 * 2. On a full file system (a 1 MiB tmpfs at /dev/shm, or at RTSHM_DIR), glibc's way dies of
 *    SIGBUS at the first touch, and with RTSHM_RESERVE=1 ftruncate fails with ENOSPC, the size
 *    unchanged, nothing left; an object that fits is reserved and works.
 * 3. What a reservation took is given back when ftruncate fails after it (RLIMIT_FSIZE), and
 *    append-only objects are not reserved at all.
 * 4. The setting's values: 0 and unset are off, anything but 1 is said once on stderr. */
#define _GNU_SOURCE
#include "check.h"

#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/socket.h>

static int (*glibc_ftruncate)(int, off_t);

static void load_glibc_ftruncate(void)
{
    glibc_ftruncate = (int (*)(int, off_t))dlsym_libc("ftruncate");
}

static void need_rtshm_here(void)
{
    if (!testing_rtshm())
        skip("tests rtshm's ftruncate");
}

struct job {
    void (*fn)(void *);
    void *arg;
};

static void reserving(void *arg)
{
    struct job *job = arg;
    setenv("RTSHM_RESERVE", "1", 1);
    job->fn(job->arg);
}

/* Runs fn(arg) in a child process with RTSHM_RESERVE=1, set before its first rtshm call;
 * fails unless the child exits 0. */
static void in_reserving_child(void (*fn)(void *), void *arg)
{
    need_rtshm_here();
    struct job job = {fn, arg};
    CHECK_CHILD(in_child(reserving, &job));
}

/* ---------------------------------------------------------------------------------------- */
/* 1. ftruncate is rtshm's, and glibc's in behaviour.                                         */

TEST(ftruncate_is_rtshms_in_every_build)
{
    need_rtshm_here();
    CHECK(is_rtshm((void *)ftruncate));
    CHECK(is_rtshm((void *)ftruncate64));
    load_glibc_ftruncate();
    CHECK(!is_rtshm((void *)glibc_ftruncate));
}

enum kind {
    REGULAR,        /* a file in /tmp, O_RDWR */
    REGULAR_RDONLY, /* the same, O_RDONLY */
    REGULAR_APPEND, /* O_RDWR | O_APPEND: ftruncate is allowed */
    OBJECT,         /* a shared memory object, O_RDWR */
    OBJECT_RDONLY,  /* a shared memory object, O_RDONLY */
    ANON,           /* SHM_ANON (a memfd) */
    SEALED_GROW,    /* a memfd with F_SEAL_GROW */
    SEALED_SHRINK,  /* a memfd with F_SEAL_SHRINK */
    PIPE_END,       /* a pipe's write end */
    SOCKET,         /* a socketpair's end */
    DIRECTORY,      /* a directory, O_RDONLY */
    PATH_ONLY,      /* an O_PATH descriptor of a regular file */
    DEV_NULL,       /* a character device, O_RDWR */
    CLOSED,         /* a descriptor number that is not open */
    KINDS
};
static const char *const kind_names[KINDS] = {
    "regular file", "regular file O_RDONLY", "regular file O_APPEND", "object", "object O_RDONLY",
    "SHM_ANON", "memfd F_SEAL_GROW", "memfd F_SEAL_SHRINK", "pipe", "socket", "directory",
    "O_PATH", "/dev/null", "closed descriptor"};

#define START_SIZE 4096

/* A new descriptor of `kind`, its own file (`which` tells the two of a case apart), 4096 bytes
 * long where it has a size. */
static int make(enum kind kind, int which)
{
    char tag[32];
    snprintf(tag, sizeof tag, "ft%d.%d", (int)kind, which);
    const char *name = tname(tag);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/tmp%s", name);
    int fd = -1, fds[2];
    switch (kind) {
    case REGULAR:
    case REGULAR_RDONLY:
    case REGULAR_APPEND:
    case PATH_ONLY:
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        CHECK(fd >= 0 && glibc_ftruncate(fd, START_SIZE) == 0);
        if (kind != REGULAR) {
            close(fd);
            int flags = kind == REGULAR_RDONLY   ? O_RDONLY
                        : kind == REGULAR_APPEND ? O_RDWR | O_APPEND
                                                 : O_PATH;
            fd = open(path, flags | O_CLOEXEC);
        }
        unlink(path);
        break;
    case OBJECT:
    case OBJECT_RDONLY:
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0 && glibc_ftruncate(fd, START_SIZE) == 0);
        if (kind == OBJECT_RDONLY) {
            close(fd);
            fd = shm_open(name, O_RDONLY, 0);
        }
        CHECK_OK(shm_unlink(name)); /* what it is, unlinked or not, is tested below */
        break;
    case ANON:
        fd = shm_open(SHM_ANON, O_RDWR, 0600);
        CHECK(fd >= 0 && glibc_ftruncate(fd, START_SIZE) == 0);
        break;
    case SEALED_GROW:
    case SEALED_SHRINK:
        fd = memfd_create(tag, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        CHECK(fd >= 0 && glibc_ftruncate(fd, START_SIZE) == 0);
        CHECK_OK(fcntl(fd, F_ADD_SEALS, kind == SEALED_GROW ? F_SEAL_GROW : F_SEAL_SHRINK));
        break;
    case PIPE_END:
        CHECK_OK(pipe2(fds, O_CLOEXEC));
        close(fds[0]);
        fd = fds[1];
        break;
    case SOCKET:
        CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
        close(fds[1]);
        fd = fds[0];
        break;
    case DIRECTORY:
        fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        break;
    case DEV_NULL:
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        break;
    case CLOSED:
        fd = 1000000;
        break;
    case KINDS:
        break;
    }
    if (fd < 0)
        FAIL("making a %s: %s", kind_names[kind], strerror(errno));
    return fd;
}

/* One call's outcome: its result, errno (untouched on success: it was ESRCH before), and the
 * size after it (-1 where there is none). */
struct outcome {
    int ret, err;
    long long size;
};

static struct outcome call(int (*fn)(int, off_t), int fd, long long length)
{
    struct outcome o;
    errno = ESRCH;
    o.ret = fn(fd, (off_t)length);
    o.err = errno;
    struct stat st;
    o.size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
    return o;
}

static const long long lengths[] = {
    LLONG_MIN, -1, 0, 1, START_SIZE - 1, START_SIZE, START_SIZE + 1, 1 << 20,
    1LL << 40, /* far past the free space: sparse for glibc */
    LLONG_MAX,
};

/* Every kind with every length, glibc's ftruncate on one descriptor and the program's (rtshm's)
 * on another just like it. With RTSHM_RESERVE=1 (`reserving`), an object growing past the free
 * space may fail with ENOSPC and its size unchanged where glibc's call succeeds: counted, and
 * required to happen. Anything else different fails. */
static void differential(void *arg)
{
    int reserving = arg != NULL;
    if (reserving)
        setenv("RTSHM_RESERVE", "1", 1);
    else
        unsetenv("RTSHM_RESERVE");
    load_glibc_ftruncate();
    int cases = 0, enospc = 0;
    for (int kind = 0; kind < KINDS; kind++) {
        for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
            int a = make((enum kind)kind, 0), b = make((enum kind)kind, 1);
            struct outcome g = call(glibc_ftruncate, a, lengths[i]);
            struct outcome r = call(i % 2 ? ftruncate64 : ftruncate, b, lengths[i]);
            cases++;
            int same = g.ret == r.ret && g.err == r.err && g.size == r.size;
            if (!same && reserving && kind == OBJECT && g.ret == 0 && r.ret == -1 &&
                r.err == ENOSPC && r.size == START_SIZE) {
                enospc++;
            } else if (!same) {
                FAIL("%s, length %lld: glibc %d %s size %lld; rtshm %d %s size %lld",
                     kind_names[kind], lengths[i], g.ret, errname_(g.err), g.size, r.ret,
                     errname_(r.err), r.size);
            }
            if (kind != CLOSED) {
                close(a);
                close(b);
            }
        }
    }
    note("%d cases, %d ENOSPC where glibc made a sparse object", cases, enospc);
    if (reserving && testing_rtshm())
        CHECK(enospc == 2); /* 1 TiB and LLONG_MAX on an object */
    if (!reserving)
        CHECK(enospc == 0);
}

TEST(ftruncate_as_glibc_when_reserve_is_unset) { CHECK_CHILD(in_child(differential, NULL)); }

TEST(ftruncate_as_glibc_but_enospc_when_reserve_is_1)
{
    need_rtshm_here();
    CHECK_CHILD(in_child(differential, "1"));
}

/* A new object under this test's name `tag`, unlinked at once: its descriptor. */
static int new_unlinked_object(const char *tag)
{
    const char *name = tname(tag);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK_OK(shm_unlink(name));
    return fd;
}

static long long allocated_bytes(int fd)
{
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    return (long long)st.st_blocks * 512;
}

/* Fails unless the object is still empty, with nothing allocated, after `what`. */
static void check_empty(int fd, const char *what)
{
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    CHECK(st.st_size == 0);
    if (allocated_bytes(fd) != 0)
        FAIL("%lld bytes still allocated after %s", allocated_bytes(fd), what);
}

/* With RTSHM_RESERVE=1, a growing object's new range is allocated by ftruncate, before any
 * touch; without it, not. */
static void reserved_blocks(void *arg)
{
    const char *value = arg;
    if (value)
        setenv("RTSHM_RESERVE", value, 1);
    int fd = new_unlinked_object("blocks");
    CHECK_OK(ftruncate(fd, 1 << 20));
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    long long allocated = (long long)st.st_blocks * 512;
    int want = value && strcmp(value, "1") == 0;
    if (want ? allocated < (1 << 20) : allocated != 0)
        FAIL("RTSHM_RESERVE=%s: %lld bytes allocated after growing to 1 MiB",
             value ? value : "(unset)", allocated);
    /* Shrinking and the same size reserve nothing more, and give nothing back early. */
    CHECK_OK(ftruncate(fd, 1 << 20));
    CHECK_OK(ftruncate(fd, 4096));
    CHECK_OK(fstat(fd, &st));
    CHECK(st.st_size == 4096 && (long long)st.st_blocks * 512 <= (want ? 4096 : 0));
    close(fd);
}

TEST(reserve_1_allocates_at_ftruncate)
{
    need_rtshm_here();
    CHECK_CHILD(in_child(reserved_blocks, "1"));
}

TEST(reserve_0_and_unset_allocate_nothing)
{
    CHECK_CHILD(in_child(reserved_blocks, NULL));
    CHECK_CHILD(in_child(reserved_blocks, "0"));
}

/* ---------------------------------------------------------------------------------------- */
/* 2. A full file system: SIGBUS with glibc's way, ENOSPC with RTSHM_RESERVE=1.             */

/* A mount namespace of this process's own (as root, or else in a user namespace of its own),
 * with a 1 MiB tmpfs mounted on `dir`. Returns NULL, or why not. */
static const char *small_tmpfs(const char *dir)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWNS) != 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            return "neither root nor user namespaces";
        char map[64];
        int fd = open("/proc/self/setgroups", O_WRONLY);
        if (fd < 0 || write(fd, "deny", 4) != 4)
            return "cannot deny setgroups in the user namespace";
        close(fd);
        snprintf(map, sizeof map, "0 %d 1", (int)uid);
        fd = open("/proc/self/uid_map", O_WRONLY);
        if (fd < 0 || write(fd, map, strlen(map)) != (ssize_t)strlen(map))
            return "cannot map the uid";
        close(fd);
        snprintf(map, sizeof map, "0 %d 1", (int)gid);
        fd = open("/proc/self/gid_map", O_WRONLY);
        if (fd < 0 || write(fd, map, strlen(map)) != (ssize_t)strlen(map))
            return "cannot map the gid";
        close(fd);
    }
    /* The source and type are ignored here; "none" rather than NULL for valgrind. */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
        return "cannot make the mounts private";
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=1777") != 0)
        return "cannot mount a tmpfs";
    return NULL;
}

#define TOO_BIG (16 << 20)
#define FITS (512 << 10)

/* The write that found no page: said, and the process ends (a handler of the test's own, so
 * that ASan's, which would turn the signal into an exit status, does not take it). */
static void on_sigbus(int sig)
{
    (void)sig;
    static const char said[] = "SIGBUS\n";
    if (write(1, said, sizeof said - 1) < 0)
        _exit(2);
    _exit(0);
}

/* Creates an object, grows it with ftruncate (glibc's when `glibc`) to `size` and writes every
 * byte of it; prints "ENOSPC" when ftruncate fails so, "SIGBUS" when a write kills it, and
 * "written" when all is written. */
static void grow_and_touch(const char *name, long size, int glibc)
{
    struct sigaction sa = {.sa_handler = on_sigbus};
    sigaction(SIGBUS, &sa, NULL);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    int r = glibc ? glibc_ftruncate(fd, size) : ftruncate(fd, size);
    if (r != 0) {
        int e = errno;
        struct stat st;
        CHECK_OK(fstat(fd, &st));
        printf("%s size %lld\n", errname_(e), (long long)st.st_size);
        return;
    }
    char *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    memset(p, 'x', (size_t)size);
    printf("written\n");
}

struct full {
    const char *mount_on; /* "/dev/shm", or NULL: a directory for RTSHM_DIR */
    long size;
    int glibc;
};

static void in_small_tmpfs(void *arg)
{
    const struct full *f = arg;
    char dir[PATH_MAX];
    if (f->mount_on) {
        snprintf(dir, sizeof dir, "%s", f->mount_on);
    } else {
        snprintf(dir, sizeof dir, "/tmp%s", tname("dir"));
        CHECK_OK(mkdir(dir, 0700));
    }
    const char *why = small_tmpfs(dir);
    if (why) {
        if (!f->mount_on)
            rmdir(dir);
        skip("a 1 MiB tmpfs: %s", why);
    }
    if (!f->mount_on)
        use_rtshm_dir(dir);
    setenv("RTSHM_RESERVE", "1", 1);
    load_glibc_ftruncate();
    /* The grandchild does the work: the child checks what it left. */
    int fds[2];
    CHECK_OK(pipe(fds));
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        grow_and_touch(tname("big"), f->size, f->glibc);
        fflush(stdout);
        _exit(0);
    }
    close(fds[1]);
    char out[128] = "";
    ssize_t n = read(fds[0], out, sizeof out - 1);
    out[n > 0 ? n : 0] = 0;
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    struct statvfs fs;
    CHECK_OK(statvfs(dir, &fs));
    /* What it did, what it printed, and how many KiB the tmpfs holds. */
    printf("%s %s%lu KiB\n", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exit", out,
           (unsigned long)((fs.f_blocks - fs.f_bfree) * fs.f_frsize >> 10));
    if (!f->mount_on) {
        umount2(dir, MNT_DETACH);
        rmdir(dir);
    }
}

/* Runs in_small_tmpfs in a child; returns what it printed. */
static const char *run_full(const char *mount_on, long size, int glibc)
{
    static char out[256];
    struct full f = {mount_on, size, glibc};
    int fds[2];
    CHECK_OK(pipe(fds));
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        in_small_tmpfs(&f);
        fflush(stdout);
        _exit(0);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t n;
    while (used < sizeof out - 1 && (n = read(fds[0], out + used, sizeof out - 1 - used)) > 0)
        used += (size_t)n;
    out[used] = 0;
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_STATUS) {
        printf("%s", out);
        fflush(stdout);
        _exit(SKIP_STATUS);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL("the child's status %#x; it printed \"%s\"", status, out);
    return out;
}

static void full_file_system(const char *mount_on)
{
    need_rtshm_here();
    const char *out = run_full(mount_on, TOO_BIG, 1);
    /* glibc's ftruncate: the object is made, and SIGBUS ends the process writing it, the
     * tmpfs full (the object is left in it, which goes with the namespace). */
    if (strcmp(out, "exit SIGBUS\n1024 KiB\n") != 0)
        FAIL("16 MiB in a 1 MiB tmpfs with glibc's ftruncate: \"%s\", not SIGBUS", out);
    out = run_full(mount_on, TOO_BIG, 0);
    if (strcmp(out, "exit ENOSPC size 0\n0 KiB\n") != 0)
        FAIL("16 MiB in a 1 MiB tmpfs with RTSHM_RESERVE=1: \"%s\", not ENOSPC, size 0, "
             "nothing allocated",
             out);
    out = run_full(mount_on, FITS, 0);
    if (strcmp(out, "exit written\n512 KiB\n") != 0)
        FAIL("512 KiB in a 1 MiB tmpfs with RTSHM_RESERVE=1: \"%s\", not written", out);
}

TEST(reserve_turns_sigbus_into_enospc_in_dev_shm) { full_file_system("/dev/shm"); }

TEST(reserve_turns_sigbus_into_enospc_in_rtshm_dir)
{
    need_root(); /* RTSHM_DIR's check trusts no directory a user namespace cannot map */
    full_file_system(NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* 3. Nothing is kept when ftruncate fails after the reservation, or would fail anyway.      */


/* RLIMIT_FSIZE below the new size: ftruncate fails with EFBIG (SIGXFSZ ignored), as glibc's
 * does, and nothing stays allocated. */
static void past_rlimit_fsize(void *arg)
{
    (void)arg;
    load_glibc_ftruncate();
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {1 << 20, 1 << 20};
    CHECK_OK(setrlimit(RLIMIT_FSIZE, &lim));
    int fd = new_unlinked_object("fsize");
    CHECK_ERR(glibc_ftruncate(fd, 4 << 20), EFBIG);
    CHECK_ERR(ftruncate(fd, 4 << 20), EFBIG);
    check_empty(fd, "the failed ftruncate");
    close(fd);
}

TEST(reserve_past_rlimit_fsize_is_efbig)
{
    in_reserving_child(past_rlimit_fsize, NULL);
}

/* ftruncate refused after the reservation was made (as a security module may refuse it:
 * Landlock's LANDLOCK_ACCESS_FS_TRUNCATE; injected with seccomp): its errno, and what was
 * reserved is given back. */
static void refused_after_reserving(void *arg)
{
    (void)arg;
    int fd = new_unlinked_object("refused");
    inject_errno(SYS_ftruncate, -1, EACCES);
    CHECK_ERR(ftruncate(fd, 4 << 20), EACCES);
    check_empty(fd, "the refused ftruncate");
    close(fd);
}

TEST(reserve_gives_back_when_ftruncate_fails)
{
    in_reserving_child(refused_after_reserving, NULL);
}

/* An append-only object (chattr +a; root): ftruncate fails with EPERM, as glibc's, and nothing
 * is reserved (fallocate could reserve there, but not give back). */
static void append_only(void *arg)
{
    (void)arg;
    load_glibc_ftruncate();
    const char *name = tname("append");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0 ||
        (flags |= FS_APPEND_FL, ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)) {
        int e = errno;
        shm_unlink(name);
        skip("chattr +a on tmpfs: %s", strerror(e));
    }
    CHECK_ERR(glibc_ftruncate(fd, 1 << 20), EPERM);
    CHECK_ERR(ftruncate(fd, 1 << 20), EPERM);
    long long kept = allocated_bytes(fd);
    flags &= ~FS_APPEND_FL;
    CHECK_OK(ioctl(fd, FS_IOC_SETFLAGS, &flags));
    CHECK_OK(shm_unlink(name));
    if (kept != 0)
        FAIL("%lld bytes allocated in the append-only object", kept);
    close(fd);
}

TEST(reserve_leaves_append_only_objects_alone)
{
    need_root();
    in_reserving_child(append_only, NULL);
}

/* Files that are not objects are never reserved: a file in /tmp, an object's hard link in
 * another directory of the same file system, SHM_ANON's memfd. */
static void not_objects(void *arg)
{
    (void)arg;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/tmp%s", tname("file"));
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_OK(ftruncate(fd, 1 << 20));
    CHECK(allocated_bytes(fd) == 0);
    close(fd);
    /* A directory in /dev/shm (the objects' file system): its files are not objects. */
    char dir[PATH_MAX - 16];
    snprintf(dir, sizeof dir, "%s", shm_path_of(tname("subdir")));
    CHECK_OK(mkdir(dir, 0700));
    snprintf(path, sizeof path, "%s/file", dir);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    unlink(path);
    rmdir(dir);
    CHECK(fd >= 0);
    CHECK_OK(ftruncate(fd, 1 << 20));
    CHECK(allocated_bytes(fd) == 0);
    close(fd);
    fd = shm_open(SHM_ANON, O_RDWR, 0600);
    CHECK(fd >= 0);
    CHECK_OK(ftruncate(fd, 1 << 20));
    CHECK(allocated_bytes(fd) == 0);
    close(fd);
}

TEST(reserve_only_objects_in_the_directory)
{
    in_reserving_child(not_objects, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* 4. The setting's values.                                                                  */

/* Runs ftruncate on a new object twice with RTSHM_RESERVE=value, standard error going to a
 * pipe; returns what it wrote there, and whether the object was reserved in *reserved. */
static const char *with_value(const char *value, int *reserved)
{
    static char err[1024];
    int fds[2], res[2];
    CHECK_OK(pipe(fds));
    CHECK_OK(pipe(res));
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        setenv("RTSHM_RESERVE", value, 1);
        const char *name = tname("value");
        int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        shm_unlink(name);
        char r = fd >= 0 && ftruncate(fd, 1 << 20) == 0 && ftruncate(fd, 2 << 20) == 0 &&
                         allocated_bytes(fd) > 0
                     ? 'y'
                     : 'n';
        if (write(res[1], &r, 1) != 1)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    close(res[1]);
    size_t used = 0;
    ssize_t n;
    while (used < sizeof err - 1 && (n = read(fds[0], err + used, sizeof err - 1 - used)) > 0)
        used += (size_t)n;
    err[used] = 0;
    char r = 0;
    CHECK(read(res[0], &r, 1) == 1);
    close(fds[0]);
    close(res[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_CHILD(status);
    *reserved = r == 'y';
    return err;
}

TEST(reserve_values_other_than_0_and_1_are_said_once)
{
    need_rtshm_here();
    int reserved;
    const char *err = with_value("1", &reserved);
    CHECK(reserved && strcmp(err, "") == 0);
    err = with_value("0", &reserved);
    CHECK(!reserved && strcmp(err, "") == 0);
    const char *bad[] = {"yes", "", "2", "1 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = with_value(bad[i], &reserved);
        char want[256];
        snprintf(want, sizeof want,
                 "rtshm: RTSHM_RESERVE=\"%s\" is not used: not 0 or 1; ftruncate does not "
                 "reserve\n",
                 bad[i]);
        if (reserved || strcmp(err, want) != 0)
            FAIL("RTSHM_RESERVE=\"%s\": %s, stderr \"%s\"", bad[i],
                 reserved ? "reserved" : "not reserved", err);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* 5. Signals, and file systems that cannot reserve.                                         */

/* fallocate interrupted (EINTR, as tmpfs answers when a signal comes) for the whole range: the
 * reservation goes on in 2 MiB steps. Then a step that finds no room (ENOSPC): the steps
 * already made are given back. Injected with seccomp, by the arguments' bits: the whole 6 MiB
 * (length bit 22) is interrupted; the step at 2 MiB (offset bit 21) finds no room; the steps'
 * lengths (2 MiB) and the giving back (offset 0) are let through. */
static void interrupted(void *arg)
{
    int step_fails = arg != NULL;
    int fd = new_unlinked_object("eintr");
    if (step_fails)
        inject_errno_with_flag(SYS_fallocate, 2, 1u << 21, ENOSPC);
    inject_errno_with_flag(SYS_fallocate, 3, 1u << 22, EINTR);
    long long size = 6 << 20;
    if (step_fails) {
        CHECK_ERR(ftruncate(fd, size), ENOSPC);
        check_empty(fd, "ENOSPC");
    } else {
        CHECK_OK(ftruncate(fd, size));
        if (allocated_bytes(fd) < size)
            FAIL("%lld bytes allocated for %lld", allocated_bytes(fd), size);
    }
    close(fd);
}

TEST(reserve_interrupted_goes_on_step_by_step)
{
    in_reserving_child(interrupted, NULL);
}

TEST(reserve_gives_back_steps_when_one_finds_no_room)
{
    in_reserving_child(interrupted, "a step fails");
}

/* A file system without fallocate (EOPNOTSUPP), or no /proc/self/fd (readlinkat fails): the
 * call goes on as glibc's, and one line says why, once. */
static void cannot_reserve(void *arg)
{
    long nr = *(long *)arg;
    setenv("RTSHM_RESERVE", "1", 1);
    if (nr == SYS_fallocate)
        inject_errno(SYS_fallocate, -1, EOPNOTSUPP);
    else
        inject_errno(SYS_readlinkat, -1, ENOENT);
    for (int i = 0; i < 3; i++) {
        int fd = new_unlinked_object("cannot");
        CHECK_OK(ftruncate(fd, 1 << 20));
        CHECK(allocated_bytes(fd) == 0);
        close(fd);
    }
}

static const char *stderr_of(void (*fn)(void *), void *arg)
{
    static char err[1024];
    int fds[2];
    CHECK_OK(pipe(fds));
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        fn(arg);
        fflush(stdout);
        _exit(0);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t n;
    while (used < sizeof err - 1 && (n = read(fds[0], err + used, sizeof err - 1 - used)) > 0)
        used += (size_t)n;
    err[used] = 0;
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_STATUS)
        _exit(SKIP_STATUS);
    CHECK_CHILD(status);
    return err;
}

TEST(reserve_says_once_when_the_file_system_cannot)
{
    need_rtshm_here();
    long nr = SYS_fallocate;
    const char *err = stderr_of(cannot_reserve, &nr);
    const char *want = "rtshm: RTSHM_RESERVE=1 cannot reserve: the file system cannot reserve "
                       "space (fallocate: EOPNOTSUPP); ftruncate does not reserve there\n";
    if (strcmp(err, want) != 0)
        FAIL("stderr \"%s\", not \"%s\"", err, want);
}

TEST(reserve_says_once_without_proc)
{
    need_rtshm_here();
    long nr = SYS_readlinkat;
    const char *err = stderr_of(cannot_reserve, &nr);
    const char *want = "rtshm: RTSHM_RESERVE=1 cannot reserve: /proc/self/fd cannot be read "
                       "(ENOENT); ftruncate does not reserve there\n";
    if (strcmp(err, want) != 0)
        FAIL("stderr \"%s\", not \"%s\"", err, want);
}
