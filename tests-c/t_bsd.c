/* FreeBSD's SHM_ANON and shm_rename, OpenBSD's shm_mkstemp, and RTSHM_COMPAT's portability
 * rules (docs/COMPAT.md cites each rule's source). */
#define _GNU_SOURCE
#include "check.h"

#include <dlfcn.h>
#include <limits.h>
#include <sys/wait.h>



/* The BSD calls exist only in rtshm: found by name, so the preload build can call them too. */
static void need_bsd(void)
{
    if (!testing_rtshm())
        skip("glibc has no SHM_ANON, shm_rename or shm_mkstemp");
    load_bsd();
    CHECK(rename_fn && mkstemp_fn);
}

static off_t size_of(const char *name)
{
    struct stat st;
    return stat(shm_path_of(name), &st) == 0 ? st.st_size : -1;
}

TEST(anon_object_is_private_sealable_and_masked)
{
    need_bsd();
    umask(022);
    int hole = dup(0);
    close(hole);
    int fd = shm_open(SHM_ANON, O_RDWR, 0666);
    CHECK(fd == hole); /* the lowest free descriptor */
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    CHECK(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0644 && st.st_size == 0);
    CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
    CHECK_OK(ftruncate(fd, 8192));
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    strcpy(p, "anonymous");
    /* Sealed against shrinking, readers are safe from SIGBUS. */
    CHECK_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    CHECK_ERR(ftruncate(fd, 0), EPERM);
    /* Shared through the descriptor: a child sees the parent's bytes. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char buf[10] = "";
        _exit(pread(fd, buf, 9, 0) == 9 && memcmp(buf, "anonymous", 9) == 0 ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_CHILD(status);
    char link[64], target[128] = "";
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    CHECK(readlink(link, target, sizeof target - 1) > 0 && strncmp(target, "/memfd:", 7) == 0);
    munmap(p, 8192);
    close(fd);
    umask(077);
    fd = shm_open(SHM_ANON, O_RDWR | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC, 0666);
    CHECK(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600);
    close(fd);
}

TEST(anon_follows_freebsd_rules)
{
    need_bsd();
    CHECK_ERR(shm_open(SHM_ANON, O_RDONLY, 0600), EINVAL); /* "pointless" */
    CHECK_ERR(shm_open(SHM_ANON, O_WRONLY, 0600), EINVAL);
    CHECK_ERR(shm_open(SHM_ANON, O_ACCMODE, 0600), EINVAL);
    CHECK_ERR(shm_open(SHM_ANON, O_RDWR | O_APPEND, 0600), EINVAL);
    CHECK_ERR(shm_open(SHM_ANON, O_RDWR | O_NONBLOCK, 0600), EINVAL);
    CHECK_ERR(shm_unlink(SHM_ANON), EFAULT);
    const char *name = tname("a");
    CHECK_ERR(rename_fn(SHM_ANON, name, 0), EINVAL);
    CHECK_ERR(rename_fn(name, SHM_ANON, 0), EINVAL);
}

static void write_text(const char *name, const char *text)
{
    int fd = shm_open(name, O_RDWR | O_CREAT, 0600);
    CHECK(fd >= 0 && pwrite(fd, text, strlen(text), 0) == (ssize_t)strlen(text));
    close(fd);
}

static int has_text(const char *name, const char *text)
{
    char buf[64] = "";
    int fd = shm_open(name, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    return n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

TEST(rename_moves_replaces_refuses_and_exchanges)
{
    need_bsd();
    char a[128], b[128], c[128];
    snprintf(a, sizeof a, "%s", tname("a"));
    snprintf(b, sizeof b, "%s", tname("b"));
    snprintf(c, sizeof c, "%s", tname("c"));
    write_text(a, "first");
    CHECK_OK(rename_fn(a, b, 0));
    CHECK(!has_text(a, "first") && has_text(b, "first"));
    write_text(c, "third");
    CHECK_OK(rename_fn(b, c, 0)); /* replaces */
    CHECK(size_of(b) == -1 && has_text(c, "first"));
    write_text(a, "again");
    CHECK_ERR(rename_fn(a, c, SHM_RENAME_NOREPLACE), EEXIST);
    CHECK(has_text(a, "again") && has_text(c, "first"));
    CHECK_OK(rename_fn(a, c, SHM_RENAME_EXCHANGE)); /* swapped */
    CHECK(has_text(a, "first") && has_text(c, "again"));
    CHECK_OK(rename_fn(a, b, SHM_RENAME_EXCHANGE)); /* no b: a plain rename */
    CHECK(size_of(a) == -1 && has_text(b, "first"));
    CHECK_OK(rename_fn(b, b, 0)); /* itself: nothing */
    CHECK_OK(rename_fn(a, a, SHM_RENAME_NOREPLACE)); /* itself, even missing: nothing */
    for (int flags = 0; flags <= 2; flags++)
        CHECK_ERR(rename_fn(a, b, flags), ENOENT); /* a is gone */
    CHECK(has_text(b, "first") && has_text(c, "again"));
    CHECK_OK(shm_unlink(b));
    CHECK_OK(shm_unlink(c));
}

static void nobody_renames(void *name)
{
    char to[160];
    snprintf(to, sizeof to, "%s.moved", (const char *)name);
    CHECK_ERR(rename_fn(name, to, 0), EACCES);
}

TEST(rename_errors)
{
    need_bsd();
    const char *a = tname("ra"), *b = tname("rb");
    write_text(a, "x");
    CHECK_ERR(rename_fn(a, b, 4), EINVAL);
    CHECK_ERR(rename_fn(a, b, -1), EINVAL);
    CHECK_ERR(rename_fn(a, b, SHM_RENAME_NOREPLACE | SHM_RENAME_EXCHANGE), EINVAL);
    CHECK_ERR(rename_fn(a, "/x/y", 0), EINVAL);
    CHECK_ERR(rename_fn("", b, 0), EINVAL);
    CHECK_ERR(rename_fn(NULL, b, 0), EFAULT);
    CHECK_ERR(rename_fn(a, NULL, 0), EFAULT);
    static char longname[NAME_MAX + 3] = "/";
    memset(longname + 1, 'l', NAME_MAX + 1);
    CHECK_ERR(rename_fn(a, longname, 0), ENAMETOOLONG);
    CHECK(has_text(a, "x") && size_of(b) == -1);
    if (geteuid() == 0)
        CHECK_CHILD(as_nobody(nobody_renames, (void *)a));
    CHECK(has_text(a, "x"));
    CHECK_OK(shm_unlink(a));
}

static void rename_in_dir(void *dir)
{
    use_rtshm_dir(dir);
    const char *a = tname("da"), *b = tname("db");
    write_text(a, "here");
    CHECK_OK(rename_fn(a, b, SHM_RENAME_NOREPLACE));
    char path[512];
    snprintf(path, sizeof path, "%s%s", (const char *)dir, b);
    CHECK(access(path, F_OK) == 0 && size_of(b) == -1); /* in the directory, not /dev/shm */
    CHECK_OK(shm_unlink(b));
}

TEST(rename_honours_rtshm_dir)
{
    need_bsd();
    const char *dir = make_ns_dir();
    CHECK_CHILD(in_child(rename_in_dir, (void *)dir));
    CHECK(entries_in(dir) == 0);
    CHECK_OK(rmdir(dir));
}

TEST(mkstemp_makes_unique_objects)
{
    need_bsd();
    char t1[128], t2[128];
    snprintf(t1, sizeof t1, "%sXXXXXX", tname("mk"));
    snprintf(t2, sizeof t2, "%s", t1);
    int f1 = mkstemp_fn(t1), f2 = mkstemp_fn(t2);
    CHECK(f1 >= 0 && f2 >= 0);
    CHECK(strcmp(t1, t2) != 0 && strstr(t1, "XXXXXX") == NULL);
    struct stat st;
    CHECK_OK(fstat(f1, &st));
    CHECK((st.st_mode & 0777) == (0600 & ~022 & 0777) || (st.st_mode & 0777) == 0600);
    CHECK((fcntl(f1, F_GETFL) & O_ACCMODE) == O_RDWR && fcntl(f1, F_GETFD) == FD_CLOEXEC);
    CHECK(size_of(t1) == 0 && size_of(t2) == 0);
    close(f1);
    close(f2);
    CHECK_OK(shm_unlink(t1));
    CHECK_OK(shm_unlink(t2));
}

TEST(mkstemp_errors_leave_the_template)
{
    need_bsd();
    char few[128], bad[128];
    snprintf(few, sizeof few, "%sXXXXX", tname("few")); /* five X's */
    CHECK_ERR(mkstemp_fn(few), EINVAL);
    CHECK(strstr(few, "XXXXX") != NULL);
    snprintf(bad, sizeof bad, "/a/bXXXXXX"); /* shm_open refuses the name */
    CHECK_ERR(mkstemp_fn(bad), EINVAL);
    CHECK(strcmp(bad, "/a/bXXXXXX") == 0);
    CHECK_ERR(mkstemp_fn(NULL), EFAULT);
}

/* ---- RTSHM_COMPAT ---- */

struct compat_case {
    const char *mode, *name;
    int flags, want; /* want: an errno, or 0 for success */
    int unlink;      /* shm_unlink instead of shm_open */
};

static void compat_call(void *arg)
{
    struct compat_case *c = arg;
    setenv("RTSHM_COMPAT", c->mode, 1);
    errno = 0;
    int ret = c->unlink ? shm_unlink(c->name) : shm_open(c->name, c->flags, 0600);
    int err = errno;
    if (ret >= 0 && !c->unlink) {
        close(ret);
        shm_unlink(c->name);
    }
    if (c->want ? ret != -1 || err != c->want : ret < 0)
        FAIL("RTSHM_COMPAT=%s %s(\"%.40s\", %#x): got %d %s, want %s", c->mode,
             c->unlink ? "shm_unlink" : "shm_open", c->name, c->flags, ret,
             ret < 0 ? errname_(err) : "", c->want ? errname_(c->want) : "success");
}

static void expect(const char *mode, const char *name, int flags, int want, int unlink)
{
    struct compat_case c = {mode, name, flags, want, unlink};
    CHECK_CHILD(in_child(compat_call, &c));
}

TEST(compat_posix_rules)
{
    need_bsd();
    const char *n = tname("p"); /* "/...": the portable form */
    char bare[128], dbl[128];
    snprintf(bare, sizeof bare, "%s", n + 1);
    snprintf(dbl, sizeof dbl, "/%s", n);
    expect("posix", n, O_RDWR | O_CREAT, 0, 0);
    expect("posix", bare, O_RDWR | O_CREAT, EINVAL, 0);
    expect("posix", dbl, O_RDWR | O_CREAT, EINVAL, 0);
    expect("posix", n, O_WRONLY | O_CREAT, EINVAL, 0);
    expect("posix", n, O_RDWR | O_CREAT | O_APPEND, EINVAL, 0);
    expect("posix", n, O_RDWR | O_CREAT | O_CLOEXEC, EINVAL, 0);
    expect("posix", n, O_RDONLY | O_CREAT | O_TRUNC, EINVAL, 0);
    expect("posix", n, O_RDWR | O_EXCL, EINVAL, 0);
    expect("posix", bare, 0, EINVAL, 1);
    CHECK(size_of(n) == -1);
}

TEST(compat_freebsd_rules)
{
    need_bsd();
    const char *n = tname("f");
    char bare[128];
    snprintf(bare, sizeof bare, "%s", n + 1);
    expect("freebsd", n, O_RDWR | O_CREAT | O_CLOEXEC, 0, 0);
    expect("freebsd", bare, O_RDWR | O_CREAT, EINVAL, 0);
    expect("freebsd", bare, 0, EINVAL, 1);
    expect("freebsd", n, O_WRONLY | O_CREAT, EINVAL, 0);
    expect("freebsd", n, O_RDWR | O_CREAT | O_NONBLOCK, EINVAL, 0);
    expect("freebsd", n, O_RDWR | O_CREAT | O_APPEND, EINVAL, 0);
    /* O_TRUNC truncates only with O_RDWR on FreeBSD: with O_RDONLY the object keeps its size.
     * (Made without rtshm: this process must not read the settings before its child does.) */
    int made = open(shm_path_of(n), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(made >= 0 && ftruncate(made, 4096) == 0);
    close(made);
    struct compat_case c = {"freebsd", n, O_RDONLY | O_TRUNC, 0, 0};
    setenv("RTSHM_COMPAT", "freebsd", 1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = shm_open(c.name, c.flags, 0);
        _exit(fd >= 0 ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_CHILD(status);
    CHECK(size_of(n) == 4096);
    CHECK_OK(unlink(shm_path_of(n)));
}

TEST(compat_macos_name_limit)
{
    need_bsd();
    char n31[64], n32[64];
    snprintf(n31, sizeof n31, "/rtshm-m%d-", (int)getpid());
    memset(n31 + strlen(n31), 'm', 31 - strlen(n31));
    n31[31] = 0;
    snprintf(n32, sizeof n32, "%sm", n31);
    expect("macos", n31, O_RDWR | O_CREAT, 0, 0);
    expect("macos", n32, O_RDWR | O_CREAT, ENAMETOOLONG, 0);
    expect("macos", n32, 0, ENAMETOOLONG, 1);
    CHECK(access(shm_path_of(n31), F_OK) == -1 && access(shm_path_of(n32), F_OK) == -1);
}

TEST(compat_unset_or_unknown_changes_nothing)
{
    need_bsd();
    const char *n = tname("u");
    char bare[128];
    snprintf(bare, sizeof bare, "%s", n + 1);
    expect("", bare, O_WRONLY | O_CREAT | O_APPEND, 0, 0);
    expect("solaris", bare, O_WRONLY | O_CREAT | O_APPEND, 0, 0);
}

static void logging_call(void *arg)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    dup2(fds[1], 2);
    setenv("RTSHM_COMPAT", "freebsd", 1);
    setenv("RTSHM_COMPAT_LOG", "1", 1);
    CHECK_ERR(shm_open((const char *)arg, O_RDWR | O_CREAT, 0600), EINVAL);
    close(2);
    close(fds[1]);
    char line[512] = "";
    ssize_t n = read(fds[0], line, sizeof line - 1);
    line[n > 0 ? n : 0] = 0;
    char want[256];
    snprintf(want, sizeof want, "rtshm: RTSHM_COMPAT=freebsd: shm_open(\"%s\"): FreeBSD requires a leading slash\n",
             (const char *)arg);
    if (strcmp(line, want) != 0)
        FAIL("logged \"%s\"", line);
}

TEST(compat_log_writes_one_line_per_violation)
{
    need_bsd();
    CHECK_CHILD(in_child(logging_call, (void *)(tname("log") + 1)));
}
