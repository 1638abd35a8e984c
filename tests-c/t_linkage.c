/* The suite tests what it claims to test: rtshm's functions, not glibc's. */
#define _GNU_SOURCE
#include "check.h"

#include <dlfcn.h>
#include <libgen.h>

int (*glibc_shm_open)(const char *, int, mode_t);
int (*glibc_shm_unlink)(const char *);

static const char *object_of(void *fn)
{
    Dl_info info;
    if (!dladdr(fn, &info) || !info.dli_fname)
        FAIL("dladdr(%p) found no object", fn);
    return info.dli_fname;
}

int is_rtshm(void *fn)
{
    const char *where = object_of(fn);
    if (strcmp(link_mode, "static") == 0)
        return strcmp(where, object_of((void *)is_rtshm)) == 0;
    return strncmp(basename((char *)where), "librtshm.so", 11) == 0;
}

void *dlsym_libc(const char *symbol)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_LOCAL);
    void *fn = libc ? dlsym(libc, symbol) : NULL;
    if (!fn || strncmp(basename((char *)object_of(fn)), "libc.so", 7) != 0)
        FAIL("glibc's %s not found in libc.so.6", symbol);
    return fn;
}

void load_glibc(void)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_LOCAL);
    if (!libc)
        FAIL("dlopen(libc.so.6): %s", dlerror());
    glibc_shm_open = (int (*)(const char *, int, mode_t))dlsym(libc, "shm_open");
    glibc_shm_unlink = (int (*)(const char *))dlsym(libc, "shm_unlink");
    if (!glibc_shm_open || !glibc_shm_unlink)
        FAIL("libc.so.6 has no shm_open/shm_unlink: %s", dlerror());
    const char *where = basename((char *)object_of((void *)glibc_shm_open));
    if (strncmp(where, "libc.so", 7) != 0)
        FAIL("glibc's shm_open resolved to %s, not libc.so.6", where);
}

TEST(linkage_is_rtshm)
{
    if (!testing_rtshm())
        skip("built against the system's libc, not rtshm");
    if (!is_rtshm((void *)shm_open) || !is_rtshm((void *)shm_unlink))
        FAIL("shm_open is %s's, shm_unlink %s's: not rtshm's", object_of((void *)shm_open),
             object_of((void *)shm_unlink));
    load_glibc();
    CHECK((void *)glibc_shm_open != (void *)shm_open);
    CHECK(!is_rtshm((void *)glibc_shm_open));
    note("shm_open from %s", object_of((void *)shm_open));
}

#if defined(RTSHM_LINK_PRELOAD) && defined(__x86_64__)
/* A binary built against glibc before 2.34 refers to shm_open@GLIBC_2.2.5 (librt's old
 * version); under LD_PRELOAD, rtshm's alias at that version must serve the reference
 * (src/versions.rs; tests-c/linking.sh has a binary built as old glibc built them). */
extern int shm_open_glibc_2_2_5(const char *, int, mode_t);
extern int shm_unlink_glibc_2_2_5(const char *);
__asm__(".symver shm_open_glibc_2_2_5, shm_open@GLIBC_2.2.5");
__asm__(".symver shm_unlink_glibc_2_2_5, shm_unlink@GLIBC_2.2.5");

TEST(preload_serves_the_old_symbol_version)
{
    if (!is_rtshm((void *)shm_open_glibc_2_2_5) || !is_rtshm((void *)shm_unlink_glibc_2_2_5))
        FAIL("shm_open@GLIBC_2.2.5 resolved to %s", object_of((void *)shm_open_glibc_2_2_5));
    const char *name = tname("old");
    int fd = shm_open_glibc_2_2_5(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK(shm_unlink_glibc_2_2_5(name) == 0);
}
#endif
