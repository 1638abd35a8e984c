/* RTSHM_DIR: shared memory objects and named semaphores in a directory of the user's choice,
 * read once, refused when unusable, ignored in secure-execution processes. */
#define _GNU_SOURCE
#include "check.h"

#include <limits.h>
#include <grp.h>
#include <pthread.h>
#include <semaphore.h>

static void need_rtshm(void)
{
    if (!testing_rtshm())
        skip("RTSHM_DIR is rtshm's");
}

static char path_buf[PATH_MAX];
static const char *in(const char *dir, const char *file)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, file);
    return path_buf;
}

TEST(ns_objects_and_semaphores_live_in_rtshm_dir)
{
    need_rtshm();
    const char *dir = make_ns_dir();
    char slashed[300];
    snprintf(slashed, sizeof slashed, "%s///", dir);
    use_rtshm_dir(slashed); /* trailing slashes are fine */
    const char *d = current_rtshm_dir();
    CHECK(d && strcmp(d, dir) == 0);
    const char *name = tname("o");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK(access(in(dir, name + 1), F_OK) == 0);
    CHECK(access(shm_path_of(name), F_OK) == -1 && errno == ENOENT); /* not in /dev/shm */
    sem_t *sem = sem_open(name, O_CREAT | O_EXCL, 0600, 3);
    CHECK(sem != SEM_FAILED);
    char semfile[256];
    snprintf(semfile, sizeof semfile, "sem.%s", name + 1);
    CHECK(access(in(dir, semfile), F_OK) == 0);
    int v;
    CHECK(sem_getvalue(sem, &v) == 0 && v == 3);
    CHECK_OK(sem_close(sem));
    close(fd);
    CHECK_OK(shm_unlink(name));
    CHECK_OK(sem_unlink(name));
    CHECK(entries_in(dir) == 0);
    CHECK_OK(rmdir(dir));
}

TEST(ns_unset_means_dev_shm)
{
    need_rtshm();
    use_rtshm_dir(NULL);
    CHECK(strcmp(current_rtshm_dir(), "/dev/shm") == 0);
}

TEST(ns_root_directory_is_slash)
{
    need_rtshm();
    use_rtshm_dir("//");
    CHECK(strcmp(current_rtshm_dir(), "/") == 0);
}

struct invalid_case {
    const char *value;
    const char *probe; /* a name whose object must appear nowhere */
};

static void invalid_setting(void *arg)
{
    struct invalid_case *c = arg;
    use_rtshm_dir(c->value);
    CHECK(current_rtshm_dir() == NULL);
    CHECK_ERR(shm_open(c->probe, O_RDWR | O_CREAT, 0600), EINVAL);
    CHECK_ERR(shm_open(c->probe, O_RDONLY, 0), EINVAL);
    CHECK_ERR(shm_unlink(c->probe), EINVAL);
    errno = 0;
    CHECK(sem_open(c->probe, O_CREAT, 0600, 1) == SEM_FAILED && errno == EINVAL);
    CHECK_ERR(sem_unlink(c->probe), EINVAL);
    CHECK_ERR(shm_open(NULL, O_RDONLY, 0), EINVAL); /* every call, even this one */
    CHECK(access(shm_path_of(c->probe), F_OK) == -1);
}

TEST(ns_invalid_rtshm_dir_fails_every_call_with_einval)
{
    need_rtshm();
    static char too_long[PATH_MAX];
    too_long[0] = '/';
    memset(too_long + 1, 'd', 3839); /* 3840 bytes: no room left for a 255-byte name */
    const char *values[] = {"", "relative/dir", "./x", "dev/shm", too_long};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct invalid_case c = {values[i], tname("inv")};
        CHECK_CHILD(in_child(invalid_setting, &c));
    }
}

static void longest_dir(void *arg)
{
    (void)arg;
    static char dir[PATH_MAX];
    for (int i = 0; i < 3839; i++) /* "/d/d/d...": 3839 bytes, valid, and missing */
        dir[i] = i % 2 ? 'd' : '/';
    dir[3838] = 'd';
    use_rtshm_dir(dir);
    CHECK(current_rtshm_dir() && strlen(current_rtshm_dir()) == 3839);
    static char name[NAME_MAX + 2] = "/";
    memset(name + 1, 'n', NAME_MAX);
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), ENOENT);
}

TEST(ns_longest_rtshm_dir_fits_a_full_name)
{
    need_rtshm();
    CHECK_CHILD(in_child(longest_dir, NULL));
}

TEST(ns_missing_directory_is_the_kernels_enoent)
{
    need_rtshm();
    char dir[256];
    snprintf(dir, sizeof dir, "/dev/shm/%smissing", test_prefix());
    use_rtshm_dir(dir);
    const char *name = tname("m");
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), ENOENT);
    errno = 0;
    CHECK(sem_open(name, O_CREAT, 0600, 1) == SEM_FAILED && errno == ENOENT);
    CHECK_ERR(shm_unlink(name), ENOENT);
    CHECK(access(dir, F_OK) == -1 && errno == ENOENT); /* never created */
}

TEST(ns_name_rules_and_errno_are_unchanged)
{
    need_rtshm();
    const char *dir = make_ns_dir();
    use_rtshm_dir(dir);
    CHECK_ERR(shm_open("", O_RDWR | O_CREAT, 0600), EINVAL);
    CHECK_ERR(shm_open("/a/b", O_RDWR | O_CREAT, 0600), EINVAL);
    CHECK_ERR(shm_unlink("/a/b"), ENOENT);
    CHECK_ERR(shm_open("/..", O_RDONLY, 0), EINVAL);
    static char longname[NAME_MAX + 3] = "/";
    memset(longname + 1, 'l', NAME_MAX + 1);
    CHECK_ERR(shm_open(longname, O_RDWR | O_CREAT, 0600), ENAMETOOLONG);
    const char *name = tname("r");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC);
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST);
    close(fd);
    CHECK_OK(shm_unlink(name));
    CHECK_ERR(shm_unlink(name), ENOENT);
    CHECK(entries_in(dir) == 0);
    CHECK_OK(rmdir(dir));
}

TEST(ns_rtshm_dir_is_read_once)
{
    need_rtshm();
    const char *dir = make_ns_dir();
    use_rtshm_dir(dir);
    const char *name = tname("once");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    close(fd);
    use_rtshm_dir("/nonexistent"); /* too late: the setting was read at the first call */
    CHECK(strcmp(current_rtshm_dir(), dir) == 0);
    CHECK_OK(shm_unlink(name));
    CHECK_OK(rmdir(dir));
}

static const char *race_dir;
static void *first_call(void *arg)
{
    int fd = shm_open((const char *)arg, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return (void *)1;
    close(fd);
    const char *d = current_rtshm_dir();
    return d && strcmp(d, race_dir) == 0 ? NULL : (void *)2;
}

static void racing_first_calls(void *arg)
{
    (void)arg;
    use_rtshm_dir(race_dir);
    enum { N = 16 };
    pthread_t t[N];
    static char names[N][128];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "%s%d", tname("race"), i);
        CHECK(pthread_create(&t[i], NULL, first_call, names[i]) == 0);
    }
    for (int i = 0; i < N; i++) {
        void *ret;
        CHECK(pthread_join(t[i], &ret) == 0 && ret == NULL);
    }
    CHECK(entries_in(race_dir) == N);
    for (int i = 0; i < N; i++)
        CHECK_OK(shm_unlink(names[i]));
}

TEST(ns_first_calls_racing_in_threads_agree)
{
    need_rtshm();
    race_dir = make_ns_dir();
    for (int round = 0; round < 20; round++) /* a fresh process each round: a fresh first call */
        CHECK_CHILD(in_child(racing_first_calls, NULL));
    CHECK_OK(rmdir(race_dir));
}

/* A setuid-root copy of this program, run by an unprivileged user, ignores RTSHM_DIR. */
static char copy_path[256];
static char secure_out[512];

static void run_copy_as_nobody(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(126);
        char *argv[] = {copy_path, "--print-rtshm-dir", NULL};
        char *envp[] = {"RTSHM_DIR=/tmp/rtshm-should-be-ignored", NULL};
        execve(copy_path, argv, envp);
        _exit(127);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], secure_out, sizeof secure_out - 1);
    secure_out[n > 0 ? n : 0] = 0;
    int status;
    waitpid(pid, &status, 0);
    CHECK_CHILD(status);
}

TEST(ns_secure_execution_ignores_rtshm_dir)
{
    need_rtshm();
    need_root();
    if (strcmp(link_mode, "preload") == 0)
        skip("the dynamic linker itself ignores LD_PRELOAD paths in setuid programs");
    snprintf(copy_path, sizeof copy_path, "/tmp/%ssuid", test_prefix());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp /proc/%d/exe %s && chown 0:0 %s && chmod 0755 %s", (int)getpid(),
             copy_path, copy_path, copy_path);
    CHECK(system(cmd) == 0);
    /* Control: without the setuid bit, the same copy obeys RTSHM_DIR. */
    run_copy_as_nobody();
    int obeys = strcmp(secure_out, "0 /tmp/rtshm-should-be-ignored\n") == 0;
    CHECK_OK(chmod(copy_path, 04755));
    run_copy_as_nobody();
    unlink(copy_path);
    if (!obeys)
        FAIL("without setuid the copy printed \"%s\"", secure_out);
    if (strcmp(secure_out, "1 /dev/shm\n") != 0)
        FAIL("the setuid copy printed \"%s\", not \"1 /dev/shm\"", secure_out);
}
