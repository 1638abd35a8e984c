/* The suite's tiny harness: TEST() registers a test, CHECK() and friends fail it.
 *
 * Every test runs in a child process of its own, so a crash fails that test alone, and the
 * runner removes whatever a test left under its names in /dev/shm (and counts that as a
 * failure). Test names come from tname(), unique to this run and this test. */
#ifndef RTSHM_CHECK_H
#define RTSHM_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every build includes the header, beside <sys/mman.h> (which it must be able to), for its
 * constants; only the shared and static builds link rtshm's own functions by name. */
#include <rtshm.h>

/* Built with AddressSanitizer, by gcc (__SANITIZE_ADDRESS__) or clang (__has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

struct test {
    const char *name;
    void (*fn)(void);
    struct test *next;
};
void register_test(struct test *t);

#define TEST(n)                                                                   \
    static void test_##n(void);                                                   \
    static struct test test_entry_##n = {#n, test_##n, NULL};                     \
    __attribute__((constructor)) static void test_register_##n(void)             \
    {                                                                             \
        register_test(&test_entry_##n);                                           \
    }                                                                             \
    static void test_##n(void)

/* Fails the running test: prints where and why, then ends its process. */
__attribute__((noreturn, format(printf, 3, 4))) void fail_at(const char *file, int line,
                                                             const char *fmt, ...);
/* The exit status of a test (or a child of it) that is skipped. */
#define SKIP_STATUS 77
/* Ends the running test as skipped, with the reason. */
__attribute__((noreturn, format(printf, 1, 2))) void skip(const char *fmt, ...);
/* A line of detail under the test's result line. */
__attribute__((format(printf, 1, 2))) void note(const char *fmt, ...);

#define FAIL(...) fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond))                                                                          \
            FAIL("CHECK(%s)", #cond);                                                         \
    } while (0)
/* The call returns -1 and sets errno to err. */
#define CHECK_ERR(call, err)                                                                  \
    do {                                                                                      \
        errno = 0;                                                                            \
        long check_ret_ = (long)(call);                                                       \
        int check_errno_ = errno;                                                             \
        if (check_ret_ != -1 || check_errno_ != (err))                                        \
            FAIL("%s: want -1 %s, got %ld %s", #call, errname_(err), check_ret_,              \
                 check_ret_ == -1 ? errname_(check_errno_) : "");                             \
    } while (0)
/* The call does not return -1. */
#define CHECK_OK(call)                                                                        \
    do {                                                                                      \
        errno = 0;                                                                            \
        if ((long)(call) == -1)                                                               \
            FAIL("%s: %s", #call, errname_(errno));                                           \
    } while (0)

/* The symbolic name of an errno value ("EINVAL"), or its number. */
const char *errname_(int err);

/* A name unique to this run and test: "/rtshm-t.<run>.<test>.<tag>". The result is valid
 * until the eighth call after it. */
const char *tname(const char *tag);
/* The prefix every tname() of this run starts with, without the slash ("rtshm-t.<run>."). */
const char *run_prefix(void);

/* The prefix of this test's names, without the slash ("rtshm-t.<run>.<test>."). */
const char *test_prefix(void);
/* Removes everything in /dev/shm and /tmp named with this test's prefix (files, links,
 * directories and what they hold); returns how many entries there were. */
int remove_objects(void);

/* Which implementation the suite was built against: "shared", "static", "preload", "none". */
extern const char *const link_mode;
/* True when the suite tests rtshm (not another libc's shm_open). */
int testing_rtshm(void);

/* Runs fn in a child process that has dropped to uid/gid 65534 (no supplementary groups);
 * returns its exit status as waitpid reports it. A child that fails a CHECK exits 1. */
int as_nobody(void (*fn)(void *), void *arg);
/* Runs fn in a plain child process; returns its status as waitpid reports it. */
int in_child(void (*fn)(void *), void *arg);
#define NOBODY 65534
/* Fails unless a child's status is a normal exit 0. */
#define CHECK_CHILD(status)                                                                   \
    do {                                                                                      \
        int check_status_ = (status);                                                         \
        if (!WIFEXITED(check_status_) || WEXITSTATUS(check_status_) != 0)                     \
            FAIL("%s: child status %#x", #status, check_status_);                             \
    } while (0)
/* Skips the test unless the suite runs as root. */
void need_root(void);

/* From here on, the system calls nr and nr2 (-1: none) fail with err in this process, which
 * should be a child (in_child): seccomp SECCOMP_RET_ERRNO, the kernel's own way of answering
 * with an errno. Skips the test where seccomp cannot be used (under valgrind, or not built
 * in). */
void inject_errno(long nr, long nr2, int err);
/* From now on system call nr fails with err when its argument number `arg` has a bit of `flag`
 * set (its low 32 bits; little-endian machines). */
void inject_errno_with_flag(long nr, int arg, unsigned flag, int err);

/* How many descriptors this process has open. */
int open_fds(void);
/* How many descriptors below 256 are open, counted without opening anything (for when openat
 * is made to fail). */
int low_fds(void);

/* Runs the plain glibc program build/peer (no rtshm, no LD_PRELOAD) with the arguments up to
 * NULL; its standard output goes to out (NUL-terminated). Returns its exit status (0-255), or
 * -1 if it died. The peer checks that its shm_open is glibc's. */
int run_peer(char *out, size_t size, ...) __attribute__((sentinel));

/* rtshm_dir() of the library under test (NULL when the suite tests another libc). */
const char *current_rtshm_dir(void);
/* Makes a directory for RTSHM_DIR under this test's names in /dev/shm (mode 1777, like
 * /dev/shm itself, on the same tmpfs) and returns its path. */
const char *make_ns_dir(void);
/* Points RTSHM_DIR at dir (NULL: unsets it). rtshm reads it once per process, at the first
 * call: a test sets it before its first call, or in a child (in_child). */
void use_rtshm_dir(const char *dir);
/* How many entries a directory holds (. and .. aside). */
int entries_in(const char *dir);

/* The path of an object: "/dev/shm" followed by the name. */
const char *shm_path_of(const char *name);

/* rtshm's shm_rename and shm_mkstemp, found by name so that the preload build can call them
 * too (NULL where the library under test has none), set by load_bsd(). */
extern int (*rename_fn)(const char *, const char *, int);
extern int (*mkstemp_fn)(char *);
void load_bsd(void);

/* glibc's own shm_open and shm_unlink, from dlopen("libc.so.6"), checked to live there. */
extern int (*glibc_shm_open)(const char *, int, mode_t);
extern int (*glibc_shm_unlink)(const char *);
void load_glibc(void);
/* A symbol of glibc's own (libc.so.6), checked to live there. */
void *dlsym_libc(const char *symbol);
/* True when fn is rtshm's: in librtshm.so, or (static link) in the test program itself. */
int is_rtshm(void *fn);

#endif
