/* The linking tests' probe: code that calls rtshm's functions by their plain names, built into
 * a shared library (linked -lrtshm, linked with librtshm.a, or plain, for LD_PRELOAD), a Python
 * extension module or an executable. It checks that every call it makes reaches rtshm:
 *   - dladdr names the object each function is in: librtshm.so ("shared"), the object the
 *     probe itself is in ("self", for a copy of librtshm.a) or the main program ("main", which
 *     has a copy, or is not position-independent: its address of a function is its own);
 *     with "libc", glibc's functions are expected, and the probe stops there;
 *   - an object and a semaphore it makes are where RTSHM_DIR says, and are gone after unlink;
 *   - shm_open(SHM_ANON) makes an anonymous object (glibc's would crash on it).
 * Prints one line per failed check; returns how many failed. Built with -DGLIBC_NAMES_ONLY it
 * calls only the functions glibc also has (a plugin that knows nothing of rtshm). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef GLIBC_NAMES_ONLY
#include <rtshm.h>
#endif

#include "probe.h"

static int failed;

__attribute__((format(printf, 1, 2))) static void problem(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("probe: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failed++;
}

static const char *object_of(const void *fn)
{
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_fname ? info.dli_fname : "(no object)";
}

static void from(const char *what, const void *fn, const char *expect)
{
    const char *where = object_of(fn);
    const char *base = strrchr(where, '/') ? strrchr(where, '/') + 1 : where;
    const char *want = strcmp(expect, "self") == 0   ? object_of((void *)rtshm_probe)
                       : strcmp(expect, "main") == 0 ? program_invocation_name
                       : strcmp(expect, "libc") == 0 ? "libc.so.6"
                                                     : "librtshm.so";
    int ok = strcmp(expect, "shared") == 0 || strcmp(expect, "libc") == 0
                 ? strncmp(base, want, strlen(want)) == 0
                 : strcmp(where, want) == 0;
    if (!ok)
        problem("%s is from %s, not %s", what, where, want);
}

/* The path where rtshm puts the object NAME (RTSHM_DIR must be set). */
static const char *placed(const char *prefix, const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", getenv("RTSHM_DIR"), prefix, name + 1);
    return path;
}

int rtshm_probe(const char *expect)
{
    failed = 0;
    if (!getenv("RTSHM_DIR")) {
        problem("RTSHM_DIR is not set");
        return failed;
    }
    from("shm_open", (void *)shm_open, expect);
    from("shm_unlink", (void *)shm_unlink, expect);
    from("sem_open", (void *)sem_open, expect);
    from("sem_close", (void *)sem_close, expect);
    from("sem_unlink", (void *)sem_unlink, expect);
    from("ftruncate", (void *)ftruncate, expect);
    from("ftruncate64", (void *)ftruncate64, expect);
#ifndef GLIBC_NAMES_ONLY
    from("shm_rename", (void *)shm_rename, expect);
    from("shm_mkstemp", (void *)shm_mkstemp, expect);
    from("rtshm_dir", (void *)rtshm_dir, expect);
#endif
    if (failed || strcmp(expect, "libc") == 0)
        return failed; /* glibc's functions: the calls below would leave objects or crash */

    char name[64];
    snprintf(name, sizeof name, "/rtshm-t.link.%s.%d", getenv("RTSHM_TEST_RUN") ? getenv("RTSHM_TEST_RUN") : "0",
             (int)getpid());
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        problem("shm_open(%s): %s", name, strerror(errno));
    else {
        close(fd);
        if (access(placed("", name), F_OK) != 0)
            problem("shm_open made no %s", placed("", name));
        if (shm_unlink(name) != 0 || access(placed("", name), F_OK) == 0)
            problem("shm_unlink left %s", placed("", name));
    }
    sem_t *sem = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
    if (sem == SEM_FAILED)
        problem("sem_open(%s): %s", name, strerror(errno));
    else {
        if (access(placed("sem.", name), F_OK) != 0)
            problem("sem_open made no %s", placed("sem.", name));
        if (sem_close(sem) != 0)
            problem("sem_close: %s", strerror(errno));
        if (sem_unlink(name) != 0 || access(placed("sem.", name), F_OK) == 0)
            problem("sem_unlink left %s", placed("sem.", name));
    }
#ifndef GLIBC_NAMES_ONLY
    fd = shm_open(SHM_ANON, O_RDWR, 0600);
    if (fd < 0)
        problem("shm_open(SHM_ANON): %s", strerror(errno));
    else
        close(fd);
    if (strcmp(rtshm_dir(), getenv("RTSHM_DIR")) != 0)
        problem("rtshm_dir() is %s, not RTSHM_DIR", rtshm_dir());
#endif
    return failed;
}

void *probe_sem_open(const char *name)
{
    return sem_open(name, O_CREAT, 0600, 0);
}

int probe_sem_close(void *sem)
{
    return sem_close(sem);
}

int probe_sem_unlink(const char *name)
{
    return sem_unlink(name);
}
