/* Every errno of shm_open(3) ERRORS and of POSIX, each produced for real where it can be, and
 * the kernel's answers passed through (or mapped, as glibc does) where it cannot. After every
 * failure: nothing is left behind, no descriptor leaks, an existing object is unchanged. */
#define _GNU_SOURCE
#include "check.h"

#include <limits.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static void make_owned(const char *name, mode_t mode, const char *data)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
    CHECK_OK(fchmod(fd, mode));
    close(fd);
}

static void check_unchanged(const char *name, mode_t mode, const char *data)
{
    struct stat st;
    CHECK_OK(stat(shm_path_of(name), &st));
    CHECK((st.st_mode & 07777) == mode && st.st_size == (off_t)strlen(data));
}

static void nobody_opens(void *name)
{
    CHECK_ERR(shm_open(name, O_RDWR, 0), EACCES);
    CHECK_ERR(shm_open(name, O_WRONLY, 0), EACCES);
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0666), EACCES);
    int fd = shm_open(name, O_RDONLY, 0); /* what the mode allows still works */
    CHECK(fd >= 0);
}

static void nobody_reads(void *name) { CHECK_ERR(shm_open(name, O_RDONLY, 0), EACCES); }

TEST(eacces_open_in_a_denied_mode)
{
    need_root();
    const char *readable = tname("r"), *private = tname("p");
    make_owned(readable, 0644, "data");
    make_owned(private, 0600, "data");
    CHECK_CHILD(as_nobody(nobody_opens, (void *)readable));
    CHECK_CHILD(as_nobody(nobody_reads, (void *)private));
    check_unchanged(readable, 0644, "data");
    check_unchanged(private, 0600, "data");
    CHECK_OK(shm_unlink(readable));
    CHECK_OK(shm_unlink(private));
}

static void nobody_truncates(void *name)
{
    CHECK_ERR(shm_open(name, O_RDONLY | O_TRUNC, 0), EACCES);
    CHECK_ERR(shm_open(name, O_RDONLY | O_CREAT | O_TRUNC, 0644), EACCES);
}

TEST(eacces_o_trunc_without_write_permission)
{
    need_root();
    const char *name = tname("t");
    make_owned(name, 0644, "keep me");
    CHECK_CHILD(as_nobody(nobody_truncates, (void *)name));
    check_unchanged(name, 0644, "keep me");
    CHECK_OK(shm_unlink(name));
}

static void nobody_unlinks(void *name) { CHECK_ERR(shm_unlink(name), EACCES); }

TEST(eacces_unlink_another_users_object)
{
    need_root();
    struct stat st;
    CHECK_OK(stat("/dev/shm", &st));
    CHECK(st.st_mode & S_ISVTX); /* the sticky bit is what refuses it */
    const char *name = tname("u");
    make_owned(name, 0666, "theirs"); /* even writable by all */
    CHECK_CHILD(as_nobody(nobody_unlinks, (void *)name));
    check_unchanged(name, 0666, "theirs");
    CHECK_OK(shm_unlink(name));
}

TEST(eexist_o_creat_o_excl_on_an_existing_object)
{
    const char *name = tname("e");
    make_owned(name, 0640, "first");
    int before = open_fds();
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST);
    CHECK_ERR(shm_open(name, O_RDONLY | O_CREAT | O_EXCL, 0600), EEXIST);
    CHECK(open_fds() == before);
    check_unchanged(name, 0640, "first");
    CHECK_OK(shm_unlink(name));
}

TEST(einval_invalid_names)
{
    const char *b = tname("x");
    char slash_in[256], trailing[256], both[256];
    snprintf(slash_in, sizeof slash_in, "%s/y", b);
    snprintf(trailing, sizeof trailing, "%s/", b);
    snprintf(both, sizeof both, "/%s//y", b);
    /* slash_in + 1: no leading slash, one inside */
    const char *bad[] = {"", "/", "//", "///", slash_in, trailing, both, slash_in + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERR(shm_open(bad[i], O_RDWR | O_CREAT, 0600), EINVAL);
        CHECK_ERR(shm_open(bad[i], O_RDONLY, 0), EINVAL);
        CHECK_ERR(shm_unlink(bad[i]), ENOENT); /* glibc's answer for a bad name */
    }
    if (testing_rtshm()) { /* deviation 1 */
        CHECK_ERR(shm_open("/.", O_RDONLY, 0), EINVAL);
        CHECK_ERR(shm_open("/..", O_RDWR | O_CREAT, 0600), EINVAL);
    }
}

TEST(einval_for_a_directory)
{
    const char *name = tname("dir");
    CHECK_OK(mkdir(shm_path_of(name), 0755));
    /* The kernel says EISDIR; glibc, and so rtshm, say EINVAL: an unsuitable name. */
    CHECK_ERR(shm_open(name, O_RDWR, 0), EINVAL);
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), EINVAL);
    CHECK_ERR(shm_open(name, O_WRONLY | O_TRUNC, 0), EINVAL);
    /* O_RDONLY opens a directory, as with glibc. */
    int fd = shm_open(name, O_RDONLY, 0);
    CHECK(fd >= 0);
    close(fd);
    CHECK_ERR(shm_unlink(name), EISDIR);
    CHECK_OK(rmdir(shm_path_of(name)));
}

TEST(eloop_for_a_symbolic_link)
{
    const char *name = tname("link"), *target = tname("target");
    make_owned(target, 0600, "target");
    CHECK_OK(symlink(shm_path_of(target), shm_path_of(name)));
    CHECK_ERR(shm_open(name, O_RDWR, 0), ELOOP);
    CHECK_ERR(shm_open(name, O_RDWR | O_TRUNC, 0), ELOOP);
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), ELOOP);
    check_unchanged(target, 0600, "target");
    CHECK_OK(shm_unlink(name)); /* unlinks the link, not its target */
    check_unchanged(target, 0600, "target");
    CHECK_OK(shm_unlink(target));
}

TEST(emfile_at_the_descriptor_limit)
{
    if (getenv("RTSHM_UNDER_VALGRIND"))
        skip("valgrind keeps the real descriptor limit and fakes its own");
    const char *name = tname("mf"), *existing = tname("ok");
    make_owned(existing, 0600, "x");
    struct rlimit lim;
    CHECK_OK(getrlimit(RLIMIT_NOFILE, &lim));
    int fd = dup(0); /* the lowest free descriptor becomes the limit */
    CHECK(fd >= 0);
    close(fd);
    lim.rlim_cur = (rlim_t)fd;
    CHECK_OK(setrlimit(RLIMIT_NOFILE, &lim));
    CHECK_ERR(dup(0), EMFILE); /* the limit really is reached */
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600), EMFILE);
    CHECK_ERR(shm_open(existing, O_RDONLY, 0), EMFILE);
    CHECK(access(shm_path_of(name), F_OK) == -1 && errno == ENOENT);
    lim.rlim_cur++;
    CHECK_OK(setrlimit(RLIMIT_NOFILE, &lim));
    CHECK((fd = shm_open(existing, O_RDONLY, 0)) >= 0);
    close(fd);
    CHECK_OK(shm_unlink(existing));
}

struct injection {
    long nr;
    int err, want;
    const char *name;
    int op_open, flags;
};

static void injected(void *arg)
{
    struct injection *in = arg;
    int before = low_fds();
    /* rtshm calls openat/unlinkat; other libcs may call open/unlink where the kernel has them. */
    long legacy = -1;
#ifdef SYS_open
    legacy = in->nr == SYS_openat ? SYS_open : legacy;
#endif
#ifdef SYS_unlink
    legacy = in->nr == SYS_unlinkat ? SYS_unlink : legacy;
#endif
    inject_errno(in->nr, legacy, in->err);
    errno = 0;
    int ret = in->op_open ? shm_open(in->name, in->flags, 0600) : shm_unlink(in->name);
    int err = errno;
    if (ret != -1 || err != in->want)
        FAIL("%s with %s injected: got %d %s, want -1 %s", in->op_open ? "shm_open" : "shm_unlink",
             errname_(in->err), ret, errname_(err), errname_(in->want));
    if (low_fds() != before)
        FAIL("a descriptor leaked");
}

static void inject(long nr, int err, int want, const char *name, int op_open, int flags)
{
    struct injection in = {nr, err, want, name, op_open, flags};
    CHECK_CHILD(in_child(injected, &in));
}

TEST(enfile_and_other_kernel_answers_pass_through)
{
    const char *name = tname("nf");
    /* The system-wide limit cannot be reached honestly; the kernel's answer is injected. */
    inject(SYS_openat, ENFILE, ENFILE, name, 1, O_RDWR | O_CREAT | O_EXCL);
    static const int passed[] = {ENFILE, EMFILE, ENOSPC, EROFS, EINTR, EPERM, EDQUOT, ENOMEM,
                                 ETXTBSY, EOVERFLOW, ENXIO, EIO, EAGAIN, ENODEV};
    for (size_t i = 0; i < sizeof passed / sizeof passed[0]; i++)
        inject(SYS_openat, passed[i], passed[i], name, 1, O_RDWR | O_CREAT);
    inject(SYS_openat, EISDIR, EINVAL, name, 1, O_RDWR); /* glibc's mapping */
    CHECK(access(shm_path_of(name), F_OK) == -1 && errno == ENOENT);

    make_owned(name, 0600, "stays");
    static const int unlink_passed[] = {EBUSY, EROFS, EIO, EISDIR, ENOMEM, EINTR, EACCES};
    for (size_t i = 0; i < sizeof unlink_passed / sizeof unlink_passed[0]; i++)
        inject(SYS_unlinkat, unlink_passed[i], unlink_passed[i], name, 0, 0);
    inject(SYS_unlinkat, EPERM, EACCES, name, 0, 0); /* glibc's mapping */
    check_unchanged(name, 0600, "stays");
    CHECK_OK(shm_unlink(name));
}

static void both_too_long(const char *name)
{
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), ENAMETOOLONG);
    CHECK_ERR(shm_open(name, O_RDONLY, 0), ENAMETOOLONG);
    CHECK_ERR(shm_unlink(name), ENAMETOOLONG);
}

TEST(enametoolong)
{
    static char name[(1 << 20) + 2];
    const char *b = tname("long");
    size_t lens[] = {NAME_MAX + 1, NAME_MAX + 5}; /* 256 and 260 bytes after the slash */
    for (size_t i = 0; i < 2; i++) {
        if (lens[i] > NAME_MAX + 4 && !testing_rtshm())
            continue; /* glibc 2.36 says EINVAL/ENOENT here: deviation 2 */
        snprintf(name, sizeof name, "%s", b);
        memset(name + strlen(b), 'L', lens[i] + 1 - strlen(b));
        name[lens[i] + 1] = 0;
        both_too_long(name);
    }
    if (testing_rtshm()) {
        /* PATH_MAX bytes with slashes inside (deviation 4), and a whole MiB. */
        memset(name, 'a', PATH_MAX);
        for (size_t i = 0; i < PATH_MAX; i += 64)
            name[i] = '/';
        name[PATH_MAX] = 0;
        both_too_long(name);
        memset(name, 'm', 1 << 20);
        name[1 << 20] = 0;
        both_too_long(name);
    }
    CHECK(access(shm_path_of(b), F_OK) == -1);
}

TEST(enoent_open_and_unlink_of_a_missing_object)
{
    const char *name = tname("missing");
    CHECK_ERR(shm_open(name, O_RDONLY, 0), ENOENT);
    CHECK_ERR(shm_open(name, O_RDWR | O_TRUNC, 0), ENOENT);
    CHECK_ERR(shm_open(name, O_RDWR | O_EXCL, 0), ENOENT); /* O_EXCL alone creates nothing */
    CHECK_ERR(shm_unlink(name), ENOENT);
    CHECK(access(shm_path_of(name), F_OK) == -1 && errno == ENOENT);
}
