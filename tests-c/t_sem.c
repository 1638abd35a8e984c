/* Named semaphores: glibc's sem_open, sem_close and sem_unlink, file for file and byte for
 * byte, so that glibc's sem_wait/sem_post/sem_getvalue work on them and glibc programs share
 * them. */
#define _GNU_SOURCE
#include "check.h"

#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/wait.h>

static const char *sem_file(const char *name)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "/dev/shm/sem.%s", name + (name[0] == '/'));
    return path;
}

static sem_t *make_sem(const char *name, unsigned value)
{
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, value);
    if (s == SEM_FAILED)
        FAIL("sem_open(%s, O_CREAT|O_EXCL): %s", name, errname_(errno));
    return s;
}

static int value_of(sem_t *s)
{
    int v = -1;
    if (sem_getvalue(s, &v) != 0)
        FAIL("sem_getvalue: %s", errname_(errno));
    return v;
}

TEST(sem_create_use_close_unlink)
{
    const char *name = tname("s");
    umask(022);
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0640, 2);
    CHECK(s != SEM_FAILED);
    struct stat st;
    CHECK_OK(stat(sem_file(name), &st));
    CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640 && st.st_size == (off_t)sizeof(sem_t));
    CHECK(value_of(s) == 2);
    CHECK_OK(sem_wait(s));
    CHECK_OK(sem_trywait(s));
    CHECK_ERR(sem_trywait(s), EAGAIN);
    CHECK_OK(sem_post(s));
    CHECK(value_of(s) == 1);
    CHECK_OK(sem_close(s));
    CHECK_OK(sem_unlink(name));
    CHECK(access(sem_file(name), F_OK) == -1 && errno == ENOENT);
    CHECK_ERR(sem_unlink(name), ENOENT);
}

TEST(sem_bytes_are_glibc_sem_init_bytes)
{
    const unsigned values[] = {0, 1, 7, 65536, SEM_VALUE_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        const char *name = tname("bytes");
        sem_close(make_sem(name, values[i]));
        sem_t want;
        memset(&want, 0, sizeof want);
        CHECK_OK(sem_init(&want, 1, values[i]));
        unsigned char got[sizeof(sem_t) + 1];
        int fd = open(sem_file(name), O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK(read(fd, got, sizeof got) == (ssize_t)sizeof(sem_t));
        close(fd);
        if (memcmp(got, &want, sizeof want) != 0)
            FAIL("value %u: the file's bytes are not sem_init's", values[i]);
        CHECK_OK(sem_unlink(name));
    }
}

TEST(sem_same_address_until_the_matching_close)
{
    const char *name = tname("addr");
    sem_t *a = make_sem(name, 1);
    sem_t *b = sem_open(name, 0);
    sem_t *c = sem_open(name, O_CREAT, 0600, 9); /* exists: mode and value ignored */
    CHECK(b == a && c == a);
    CHECK(value_of(a) == 1);
    CHECK_OK(sem_close(a));
    CHECK_OK(sem_close(b));
    CHECK(value_of(c) == 1); /* still mapped: one open left */
    CHECK_OK(sem_close(c));
    CHECK_ERR(sem_close(c), EINVAL);
    /* Reopened after the last close: a new mapping, the same semaphore. */
    sem_t *d = sem_open(name, 0);
    CHECK(d != SEM_FAILED && value_of(d) == 1);
    CHECK_OK(sem_close(d));
    CHECK_OK(sem_unlink(name));
}

TEST(sem_registry_keys_the_name_as_given_like_glibc)
{
    /* glibc keys its mappings by device, inode and the name string: "/x" and "x" are one
     * semaphore but two mappings. */
    if (!testing_rtshm())
        skip("compares rtshm with glibc");
    load_glibc();
    sem_t *(*g_open)(const char *, int, ...) = (sem_t * (*)(const char *, int, ...)) dlsym_libc("sem_open");
    int (*g_close)(sem_t *) = (int (*)(sem_t *))dlsym_libc("sem_close");
    const char *name = tname("key");
    sem_close(make_sem(name, 0));
    sem_t *a = sem_open(name, 0), *b = sem_open(name + 1, 0);
    sem_t *ga = g_open(name, 0), *gb = g_open(name + 1, 0);
    CHECK(a != SEM_FAILED && b != SEM_FAILED && ga != SEM_FAILED && gb != SEM_FAILED);
    CHECK((a == b) == (ga == gb));
    CHECK(a != b);
    CHECK_OK(sem_post(a));
    CHECK(value_of(b) == 1 && value_of(ga) == 1); /* one semaphore all the same */
    sem_close(a);
    sem_close(b);
    g_close(ga);
    g_close(gb);
    CHECK_OK(sem_unlink(name));
}

TEST(sem_errors)
{
    const char *name = tname("err");
    errno = 0;
    CHECK(sem_open(name, 0) == SEM_FAILED && errno == ENOENT);
    errno = 0;
    CHECK(sem_open(name, O_CREAT, 0600, (unsigned)SEM_VALUE_MAX + 1) == SEM_FAILED && errno == EINVAL);
    CHECK(access(sem_file(name), F_OK) == -1); /* nothing made */
    sem_t *s = make_sem(name, 0);
    errno = 0;
    CHECK(sem_open(name, O_CREAT | O_EXCL, 0600, 0) == SEM_FAILED && errno == EEXIST);
    /* An existing semaphore is opened before the value is looked at, as in glibc. */
    sem_t *again = sem_open(name, O_CREAT, 0600, (unsigned)SEM_VALUE_MAX + 1);
    CHECK(again == s);
    sem_close(again);
    const char *bad[] = {"", "/", "//", "/a/b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        CHECK(sem_open(bad[i], O_CREAT, 0600, 0) == SEM_FAILED && errno == EINVAL);
        CHECK_ERR(sem_unlink(bad[i]), ENOENT);
    }
    sem_t bogus;
    CHECK_ERR(sem_close(&bogus), EINVAL);
    sem_close(s);
    CHECK_OK(sem_unlink(name));
}

TEST(sem_deviations_null_and_long_names)
{
    if (!testing_rtshm())
        skip("documented rtshm deviations");
    /* <semaphore.h> declares the names nonnull: call through pointers that promise nothing. */
    sem_t *(*volatile open_fn)(const char *, int, ...) = sem_open;
    int (*volatile unlink_fn)(const char *) = sem_unlink;
#ifndef UNDER_ASAN /* ASan's own sem_open wrapper reads the name first */
    errno = 0;
    CHECK(open_fn(NULL, 0) == SEM_FAILED && errno == EFAULT);
    CHECK_ERR(unlink_fn(NULL), EFAULT);
#else
    (void)open_fn;
    (void)unlink_fn;
#endif
    char name[NAME_MAX + 3];
    name[0] = '/';
    memset(name + 1, 's', NAME_MAX - 3); /* "sem." + 252 bytes: one too many */
    name[NAME_MAX - 2] = 0;
    errno = 0;
    CHECK(sem_open(name, O_CREAT, 0600, 0) == SEM_FAILED && errno == ENAMETOOLONG);
    CHECK_ERR(sem_unlink(name), ENAMETOOLONG);
    /* A short name behind so many slashes that the whole is over NAME_MAX bytes: glibc
     * fails without setting errno (and after creating it); rtshm says ENAMETOOLONG first. */
    char slashed[NAME_MAX + 64];
    memset(slashed, '/', NAME_MAX);
    snprintf(slashed + NAME_MAX, 64, "%s", tname("sl") + 1);
    errno = 0;
    CHECK(sem_open(slashed, O_CREAT, 0600, 0) == SEM_FAILED && errno == ENAMETOOLONG);
    CHECK(access(sem_file(tname("sl")), F_OK) == -1);
}

static void nobody_uses_roots_sem(void *name)
{
    errno = 0;
    CHECK(sem_open(name, 0) == SEM_FAILED && errno == EACCES);
    CHECK_ERR(sem_unlink(name), EACCES);
}

TEST(sem_eacces_for_another_users_semaphore)
{
    need_root();
    const char *name = tname("acc");
    sem_close(make_sem(name, 0)); /* 0600, root's */
    CHECK_CHILD(as_nobody(nobody_uses_roots_sem, (void *)name));
    CHECK(access(sem_file(name), F_OK) == 0);
    CHECK_OK(sem_unlink(name));
}

TEST(sem_glibc_program_shares_rtshm_semaphores)
{
    static char out[64];
    const char *name = tname("pg");
    sem_t *s = make_sem(name, 3);
    CHECK(run_peer(out, sizeof out, "sem-value", name, NULL) == 0 && strcmp(out, "3") == 0);
    CHECK(run_peer(out, sizeof out, "sem-post", name, NULL) == 0);
    CHECK(value_of(s) == 4);
    CHECK_OK(sem_wait(s));
    CHECK(run_peer(out, sizeof out, "sem-value", name, NULL) == 0 && strcmp(out, "3") == 0);
    sem_close(s);
    CHECK_OK(sem_unlink(name));
    /* And the other way: glibc creates, rtshm opens. */
    CHECK(run_peer(out, sizeof out, "sem-create", name, "5", NULL) == 0);
    s = sem_open(name, 0);
    CHECK(s != SEM_FAILED && value_of(s) == 5);
    CHECK_OK(sem_post(s));
    CHECK(run_peer(out, sizeof out, "sem-value", name, NULL) == 0 && strcmp(out, "6") == 0);
    sem_close(s);
    CHECK_OK(sem_unlink(name));
}

/* Many processes and threads open one name with O_CREAT at once: every one gets a complete
 * semaphore (the file appears whole, by link), one file results, and no temporary is left. */
static const char *race_name;
static void *open_and_check(void *arg)
{
    (void)arg;
    sem_t *s = sem_open(race_name, O_CREAT, 0600, 5);
    if (s == SEM_FAILED)
        return (void *)1;
    int v = -1;
    sem_getvalue(s, &v);
    sem_close(s);
    return v == 5 ? NULL : (void *)2;
}

TEST(sem_concurrent_creation_is_atomic)
{
    race_name = tname("race");
    enum { PROCS = 4, THREADS = 4 };
    for (int round = 0; round < 10; round++) {
        pid_t pids[PROCS];
        fflush(stdout);
        for (int p = 0; p < PROCS; p++)
            if ((pids[p] = fork()) == 0) {
                pthread_t t[THREADS];
                for (int i = 0; i < THREADS; i++)
                    pthread_create(&t[i], NULL, open_and_check, NULL);
                int bad = 0;
                for (int i = 0; i < THREADS; i++) {
                    void *r;
                    pthread_join(t[i], &r);
                    bad |= r != NULL;
                }
                _exit(bad);
            }
        for (int p = 0; p < PROCS; p++) {
            int status;
            CHECK(waitpid(pids[p], &status, 0) == pids[p]);
            CHECK_CHILD(status);
        }
        CHECK_OK(sem_unlink(race_name));
    }
    /* No temporary file "sem.XXXXXX" may be left in /dev/shm by anyone. */
    CHECK(system("! ls /dev/shm | grep -qE '^sem\\.[A-Za-z0-9]{6}$'") == 0);
}

TEST(sem_unlink_keeps_open_semaphores_working)
{
    const char *name = tname("ul");
    sem_t *s = make_sem(name, 1);
    CHECK_OK(sem_unlink(name));
    CHECK_OK(sem_post(s));
    CHECK(value_of(s) == 2);
    errno = 0;
    CHECK(sem_open(name, 0) == SEM_FAILED && errno == ENOENT);
    sem_t *fresh = make_sem(name, 0); /* a new, distinct semaphore */
    CHECK(fresh != s && value_of(fresh) == 0);
    sem_close(fresh);
    sem_close(s);
    CHECK_OK(sem_unlink(name));
}
