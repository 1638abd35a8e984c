/* The linking tests' host: a program that uses the probe (probe.c) as a user's program would use
 * a library, and checks how the dynamic linker bound the names. Built plain (it knows nothing of
 * rtshm), linked with -lrtshm, or with librtshm.a; with -DHOST_HAS_PROBE it is linked with a
 * probe (a library it needs, or probe.c itself).
 *   host probe EXPECT               calls the probe it is linked with
 *   host dlopen local|global|deepbind LIB EXPECT
 *                                   loads LIB (RTLD_LOCAL, RTLD_GLOBAL or RTLD_DEEPBIND) and
 *                                   calls its probe
 *   host own OBJECT                 the host's own references are to functions in OBJECT (a
 *                                   part of the object's path: "librtshm.so", "libc.so.6")
 *   host registry same|split A B    A and B ("self" or a library with a probe) sem_open one name:
 *                                   the same sem_t (one registry) or two (split)
 *   host versions                   under LD_PRELOAD: the plain references (glibc 2.34's
 *                                   versions), dlsym(RTLD_DEFAULT), dlsym(RTLD_NEXT) and
 *                                   dlvsym(RTLD_DEFAULT, name, "GLIBC_2.34") reach librtshm.so
 * EXPECT is the probe's (probe.c). Exits 0 when every check passed; prints a line for each that
 * failed. Object names are "/rtshm-t.<what>.<RTSHM_TEST_RUN>.<pid>". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "probe.h"

#ifndef HOST_HAS_PROBE
/* Only the dlopen modes run in a host that is not linked with a probe. */
int rtshm_probe(const char *expect)
{
    (void)expect;
    printf("host: built without a probe\n");
    return 1;
}
#endif

static int failed;

static const char *object_of(const void *fn)
{
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_fname ? info.dli_fname : "(no object)";
}

/* FN is in an object whose path contains OBJECT. */
static void from(const char *what, const void *fn, const char *object)
{
    const char *where = object_of(fn);
    if (!strstr(where, object)) {
        printf("host: %s is from %s, not %s\n", what, where, object);
        failed++;
    }
}

static const char *const names[] = {"shm_open", "shm_unlink", "sem_open", "sem_close",
                                    "sem_unlink"};

static int own(const char *object)
{
    const void *direct[] = {(void *)shm_open, (void *)shm_unlink, (void *)sem_open,
                            (void *)sem_close, (void *)sem_unlink};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        from(names[i], direct[i], object);
    return failed != 0;
}

static void *must_load(const char *lib, int how)
{
    void *h = dlopen(lib, RTLD_NOW | how);
    if (!h) {
        printf("host: dlopen: %s\n", dlerror());
        exit(1);
    }
    return h;
}

static void *must_find(void *h, const char *symbol)
{
    void *p = dlsym(h, symbol);
    if (!p) {
        printf("host: dlsym(%s): %s\n", symbol, dlerror());
        exit(1);
    }
    return p;
}

/* The semaphore calls of SIDE: the host's own, or a probe library's. */
struct side {
    void *(*open)(const char *);
    int (*close)(void *);
    int (*unlink)(const char *);
};

static void *own_open(const char *name)
{
    return sem_open(name, O_CREAT, 0600, 0);
}

static int own_close(void *sem)
{
    return sem_close(sem);
}

static struct side side_of(const char *what)
{
    if (strcmp(what, "self") == 0)
        return (struct side){own_open, own_close, sem_unlink};
    void *h = must_load(what, RTLD_LOCAL);
    return (struct side){(void *(*)(const char *))must_find(h, "probe_sem_open"),
                         (int (*)(void *))must_find(h, "probe_sem_close"),
                         (int (*)(const char *))must_find(h, "probe_sem_unlink")};
}

static int registry(const char *want, const char *a_name, const char *b_name)
{
    struct side a = side_of(a_name), b = side_of(b_name);
    char name[64];
    snprintf(name, sizeof name, "/rtshm-t.registry.%s.%d", getenv("RTSHM_TEST_RUN") ? getenv("RTSHM_TEST_RUN") : "0",
             (int)getpid());
    void *sa = a.open(name), *sb = b.open(name);
    if (sa == SEM_FAILED || sb == SEM_FAILED) {
        printf("host: sem_open failed\n");
        failed++;
    } else if (strcmp(want, "same") == 0) {
        /* One registry: the same sem_t, counted twice; either side closes either. */
        if (sa != sb) {
            printf("host: %s and %s got different sem_t (%p, %p): two registries\n", a_name,
                   b_name, sa, sb);
            failed++;
        }
        if (b.close(sa) != 0 || a.close(sb) != 0) {
            printf("host: closing one sem_t twice, once from each side, failed\n");
            failed++;
        }
    } else {
        /* Two copies of librtshm.a: each has its own registry, and each closes its own; the
         * other's sem_close refuses it (EINVAL) and leaves it open. */
        if (sa == sb) {
            printf("host: %s and %s got the same sem_t: one registry\n", a_name, b_name);
            failed++;
        }
        errno = 0;
        if (b.close(sa) != -1 || errno != EINVAL) {
            printf("host: %s's sem_close of %s's sem_t did not fail with EINVAL\n", b_name, a_name);
            failed++;
        }
        if (a.close(sa) != 0 || b.close(sb) != 0) {
            printf("host: each side closing its own sem_t failed\n");
            failed++;
        }
    }
    if (a.unlink(name) != 0) {
        printf("host: sem_unlink(%s) failed\n", name);
        failed++;
    }
    return failed != 0;
}

static int versions(void)
{
    own("librtshm.so");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char what[80];
        snprintf(what, sizeof what, "dlsym(RTLD_DEFAULT, \"%s\")", names[i]);
        from(what, dlsym(RTLD_DEFAULT, names[i]), "librtshm.so");
        snprintf(what, sizeof what, "dlsym(RTLD_NEXT, \"%s\")", names[i]);
        from(what, dlsym(RTLD_NEXT, names[i]), "librtshm.so");
        snprintf(what, sizeof what, "dlvsym(RTLD_DEFAULT, \"%s\", \"GLIBC_2.34\")", names[i]);
        from(what, dlvsym(RTLD_DEFAULT, names[i], "GLIBC_2.34"), "librtshm.so");
    }
    return failed != 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "probe") == 0)
        return rtshm_probe(argv[2]) != 0;
    if (argc == 5 && strcmp(argv[1], "dlopen") == 0) {
        int how = strcmp(argv[2], "global") == 0     ? RTLD_GLOBAL
                  : strcmp(argv[2], "deepbind") == 0 ? RTLD_LOCAL | RTLD_DEEPBIND
                                                     : RTLD_LOCAL;
        void *h = must_load(argv[3], how);
        int (*probe)(const char *) = (int (*)(const char *))must_find(h, "rtshm_probe");
        return probe(argv[4]) != 0;
    }
    if (argc == 5 && strcmp(argv[1], "registry") == 0)
        return registry(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "own") == 0)
        return own(argv[2]);
    if (argc == 2 && strcmp(argv[1], "versions") == 0)
        return versions();
    fprintf(stderr, "usage: see the comment at the top of tests-c/linking/host.c\n");
    return 2;
}
