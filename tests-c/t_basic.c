/* The core contract in brief: what a user of shm_open/shm_unlink relies on every day, and the
 * four documented deviations from glibc. (The full conformance suite is in the other files.) */
#define _GNU_SOURCE
#include "check.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

TEST(create_map_share_unlink)
{
    const char *name = tname("obj");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK_OK(ftruncate(fd, 4096));
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    CHECK(p[0] == 0 && p[4095] == 0);
    strcpy(p, "written through one descriptor");
    int fd2 = shm_open(name, O_RDONLY, 0);
    CHECK(fd2 >= 0);
    char *q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd2, 0);
    CHECK(q != MAP_FAILED);
    CHECK(strcmp(q, "written through one descriptor") == 0);
    CHECK_OK(shm_unlink(name));
    CHECK_ERR(shm_open(name, O_RDONLY, 0), ENOENT);
    CHECK(strcmp(q, "written through one descriptor") == 0); /* mappings outlive the name */
    munmap(p, 4096);
    munmap(q, 4096);
    close(fd);
    close(fd2);
}

TEST(path_is_under_dev_shm)
{
    const char *name = tname("where");
    umask(022);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0640);
    CHECK(fd >= 0);
    char path[256];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    struct stat a, b;
    CHECK_OK(fstat(fd, &a));
    CHECK_OK(stat(path, &b));
    CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    CHECK(S_ISREG(a.st_mode) && (a.st_mode & 07777) == 0640);
    CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
    close(fd);
    /* "//x" and "x" are the same object as "/x". */
    CHECK((fd = shm_open(name + 1, O_RDONLY, 0)) >= 0);
    close(fd);
    char two[256];
    snprintf(two, sizeof two, "/%s", name);
    CHECK_OK(shm_unlink(two));
}

TEST(errno_untouched_on_success)
{
    const char *name = tname("errno");
    errno = 4242;
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && errno == 4242);
    close(fd);
    CHECK(shm_unlink(name) == 0 && errno == 4242);
}

/* Deviation 1: "." and ".." are invalid names (glibc opens /dev/shm or /dev). */
TEST(deviation_dot_names)
{
    if (!testing_rtshm())
        skip("a documented rtshm deviation");
    const char *dots[] = {".", "..", "/.", "//.."};
    for (size_t i = 0; i < 4; i++) {
        CHECK_ERR(shm_open(dots[i], O_RDONLY, 0), EINVAL);
        CHECK_ERR(shm_open(dots[i], O_RDWR | O_CREAT, 0600), EINVAL);
        CHECK_ERR(shm_unlink(dots[i]), ENOENT);
    }
}

/* Deviation 2: every rest over NAME_MAX is ENAMETOOLONG. */
TEST(deviation_long_rest)
{
    if (!testing_rtshm())
        skip("a documented rtshm deviation");
    static char name[2 + 4000];
    for (size_t len = NAME_MAX + 1; len < 4000; len += len < 300 ? 1 : 97) {
        name[0] = '/';
        memset(name + 1, 'x', len);
        name[len + 1] = 0;
        CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), ENAMETOOLONG);
        CHECK_ERR(shm_unlink(name), ENAMETOOLONG);
    }
}

/* Deviation 3: NULL is EFAULT (glibc dereferences it). */
TEST(deviation_null_name)
{
    if (!testing_rtshm())
        skip("a documented rtshm deviation");
    CHECK_ERR(shm_open(NULL, O_RDONLY, 0), EFAULT);
    CHECK_ERR(shm_open(NULL, O_RDWR | O_CREAT, 0600), EFAULT);
    CHECK_ERR(shm_unlink(NULL), EFAULT);
}

/* Deviation 4: PATH_MAX bytes or more is ENAMETOOLONG, whatever the name holds. */
TEST(deviation_path_max)
{
    if (!testing_rtshm())
        skip("a documented rtshm deviation");
    static char name[PATH_MAX + 2];
    const char *b = tname("pm");
    for (size_t len = PATH_MAX; len <= PATH_MAX + 1; len++) {
        memset(name, '/', len); /* all slashes and then a short, valid name */
        memcpy(name + len - strlen(b), b, strlen(b));
        name[len] = 0;
        CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), ENAMETOOLONG);
        CHECK_ERR(shm_unlink(name), ENAMETOOLONG);
        memset(name, 'a', len); /* a slash inside */
        name[100] = '/';
        CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), ENAMETOOLONG);
        CHECK_ERR(shm_unlink(name), ENAMETOOLONG);
    }
    /* One byte fewer is an ordinary name again. */
    memset(name, '/', PATH_MAX - 1);
    memcpy(name + PATH_MAX - 1 - strlen(b), b, strlen(b) + 1);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK_OK(shm_unlink(b));
}

/* glibc's shm_open is not a cancellation point, and neither is rtshm's: a pending deferred
 * cancel is not acted on inside shm_open or shm_unlink, only at the next cancellation point. */
struct cancel_run {
    const char *name;
    int fd, unlinked, reached;
};

static void *cancel_self_then_call(void *arg)
{
    struct cancel_run *run = arg;
    pthread_cancel(pthread_self());
    run->fd = shm_open(run->name, O_RDWR | O_CREAT | O_EXCL, 0600);
    run->unlinked = shm_unlink(run->name) == 0;
    run->reached = 1;
    pthread_testcancel(); /* the cancel was pending all along: it is acted on here */
    return NULL;
}

TEST(not_a_cancellation_point)
{
    pthread_t t;
    void *ret;
    struct cancel_run run = {tname("cancel"), -1, 0, 0};
    CHECK(pthread_create(&t, NULL, cancel_self_then_call, &run) == 0);
    CHECK(pthread_join(t, &ret) == 0);
    if (run.fd >= 0)
        close(run.fd);
    if (!run.reached)
        FAIL("the thread was cancelled inside shm_open or shm_unlink");
    CHECK(run.fd >= 0 && run.unlinked);
    CHECK(ret == PTHREAD_CANCELED);
}

/* The descriptor is the lowest free one, and the library holds none of its own. */
TEST(lowest_free_descriptor)
{
    const char *name = tname("low");
    int hole = dup(0);
    CHECK(hole >= 0);
    int above = dup(0);
    CHECK(above > hole);
    close(hole);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd == hole);
    close(fd);
    CHECK_OK(shm_unlink(name));
    CHECK(dup(0) == hole);
}
