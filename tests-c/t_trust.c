/* Trust: whose word rtshm takes. RTSHM_DIR moves every object a process makes, so it is taken
 * only from a process the kernel did not privilege at exec (AT_SECURE 0), and only when every
 * directory on the way to it is one that nobody but root and the process's own user could
 * have changed; a value that is refused says so once on stderr. And nothing rtshm keeps (the
 * setting, the semaphore registry, the umask) may be wedged by fork, signals, a small signal
 * stack or a failed allocation. */
#define _GNU_SOURCE
#include "check.h"

#include <dlfcn.h>
#include <endian.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/xattr.h>


/* A second unprivileged user, for "owned by someone else" when the test runs as NOBODY. */
#define OTHER 65533

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

static void need_rtshm(void)
{
    if (!testing_rtshm())
        skip("these are rtshm's rules");
}

static int under_valgrind(void) { return getenv("RTSHM_UNDER_VALGRIND") != NULL; }


/* Skips the test, first removing all it made: the runner fails a test that leaves anything,
 * skipped or not. Callable in the test's children too. */
__attribute__((noreturn, format(printf, 1, 2))) static void skip_tidily(const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    remove_objects();
    skip("%s", why);
}

/* Called first in every child: one that hangs must end by itself, since the runner's alarm
 * ends only the test's own process and an orphan would spin on. Grandchildren get less time
 * than their parents, so that the parent lives to say which of them hung. */
enum { CHILD_SECONDS = 60, GRANDCHILD_SECONDS = 30 };
static void hang_guard(unsigned seconds) { alarm(seconds); }

/* "<top>/<this test's prefix><tag>", top being /dev/shm or /tmp: a path the runner removes
 * (whatever it holds) after the test, so a failing test leaves nothing behind. Valid until the
 * sixteenth call after it. */
static const char *mine_in(const char *top, const char *tag)
{
    static char paths[16][256];
    static unsigned next;
    char *p = paths[next++ % 16];
    snprintf(p, sizeof paths[0], "%s/%s%s", top, test_prefix(), tag);
    return p;
}

static const char *joined(const char *dir, const char *file)
{
    static char paths[8][PATH_MAX];
    static unsigned next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, file);
    return p;
}

/* Text for a failure message: newlines shown as \n, so that the message stays one line. */
static const char *escaped(const char *text)
{
    static char buf[2 * 65536];
    char *o = buf;
    for (const char *i = text; *i && o < buf + sizeof buf - 3; i++) {
        if (*i == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else {
            *o++ = *i;
        }
    }
    *o = 0;
    return buf;
}

/* A directory with exactly this owner and mode (mkdir's mode would be masked by the umask). */
static void make_dir(const char *path, uid_t owner, mode_t mode)
{
    if (mkdir(path, 0700) != 0 || chown(path, owner, owner) != 0 || chmod(path, mode) != 0)
        FAIL("making %s: %s", path, strerror(errno));
}

/* A mount namespace of this process's own, whose mounts and unmounts nobody else sees.
 * Returns NULL, or why not. */
static const char *private_mounts(void)
{
    if (unshare(CLONE_NEWNS) != 0)
        return "unshare(CLONE_NEWNS) failed";
    /* The source and type are ignored here; "none" rather than NULL for valgrind. */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
        return "cannot make the mounts private";
    return NULL;
}

/* Makes /proc vanish for this process and its children: a private mount namespace in which
 * it is unmounted (or, failing that, covered by an empty tmpfs). Returns NULL, or why not. */
static const char *hide_proc(void)
{
    const char *why = private_mounts();
    if (why)
        return why;
    if (umount2("/proc", MNT_DETACH) != 0 &&
        mount("none", "/proc", "tmpfs", MS_RDONLY, "size=4k,mode=0555") != 0)
        return "cannot unmount or cover /proc";
    if (access("/proc/self/auxv", F_OK) == 0 || access("/proc/self/status", F_OK) == 0)
        return "/proc is still there";
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* 1. Secure execution is the kernel's AT_SECURE, whatever the process does with its ids.    */

static char first_dir[PATH_MAX];

/* The first rtshm call (rtshm_dir(), which reads the settings) made as the real user, as a
 * setuid program does while it works for its user; its answer lands in first_dir. Then, with
 * `back`, the effective uid again. Returns 0, or 2 with a line printed when an id change
 * fails. */
static int first_call_as_user(uid_t euid, int back)
{
    if (seteuid(getuid()) != 0) {
        printf("seteuid(%d): %s\n", (int)getuid(), strerror(errno));
        return 2;
    }
    const char *dir = current_rtshm_dir();
    snprintf(first_dir, sizeof first_dir, "%s", dir ? dir : "(null)");
    if (back && seteuid(euid) != 0) {
        printf("seteuid(%d): %s\n", (int)euid, strerror(errno));
        return 2;
    }
    return 0;
}

/* The privileged copies' side. Each mode prints one line, "<AT_SECURE> <rtshm_dir() at the
 * first call>[ <result>]", and returns 0; an id change that fails returns 2. */
static int helper_mode(int argc, char **argv)
{
    uid_t euid = geteuid();
    gid_t egid = getegid();
    if (argc == 3 && strcmp(argv[1], "--trust-print-rtshm-dir") == 0) {
        /* plain: no id change; seteuid: the real uid as effective one for the first call, as
         * a setuid program does while it works for its user; setresuid: all ids set to the
         * effective ones, so that nothing but AT_SECURE tells it was setuid. */
        const char *how = argv[2];
        int bad = strcmp(how, "seteuid") == 0     ? seteuid(getuid()) != 0
                  : strcmp(how, "setresuid") == 0 ? setresgid(egid, egid, egid) != 0 ||
                                                        setresuid(euid, euid, euid) != 0
                                                  : strcmp(how, "plain") != 0;
        if (bad) {
            printf("%s: %s\n", how, strerror(errno));
            return 2;
        }
        const char *dir = current_rtshm_dir();
        printf("%lu %s\n", getauxval(AT_SECURE), dir ? dir : "(null)");
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--trust-open-state") == 0) {
        /* A setuid-root program that makes its first rtshm call as its user, then creates
         * its own state as root: RTSHM_DIR must not have been let in by the first call. */
        if (first_call_as_user(euid, 1) != 0)
            return 2;
        int fd = shm_open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
        printf("%lu %s %s\n", getauxval(AT_SECURE), first_dir,
               fd >= 0 ? "opened" : errname_(errno));
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--trust-compat") == 0) {
        /* As --trust-open-state, with an object name macOS's rules refuse (too long), made as
         * the user. */
        if (first_call_as_user(euid, 0) != 0)
            return 2;
        int fd = shm_open(argv[2], O_RDWR | O_CREAT | O_EXCL, 0600);
        printf("%lu %s %s\n", getauxval(AT_SECURE), first_dir,
               fd >= 0 ? "opened" : errname_(errno));
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--trust-reserve") == 0) {
        /* As --trust-open-state, then ftruncate to 1 TiB, which RTSHM_RESERVE=1 refuses
         * (ENOSPC) and glibc's ftruncate makes sparse. */
        if (first_call_as_user(euid, 1) != 0)
            return 2;
        int fd = shm_open(argv[2], O_RDWR | O_CREAT | O_EXCL, 0600);
        int r = fd >= 0 ? ftruncate(fd, (off_t)1 << 40) : -1;
        int e = errno;
        shm_unlink(argv[2]);
        printf("%lu %s %s\n", getauxval(AT_SECURE), first_dir, r == 0 ? "grown" : errname_(e));
        return 0;
    }
    printf("unknown helper mode %s\n", argv[1]);
    return 2;
}

/* main.c hands every "--trust-..." argument list to this. The copy ends with _exit: in an
 * ASan build, LeakSanitizer's check at exit would die trying to trace a setuid non-root
 * process (not dumpable, and no CAP_SYS_PTRACE), losing the line with it. */
__attribute__((noreturn)) void trust_helper(int argc, char **argv);
void trust_helper(int argc, char **argv)
{
    int status = helper_mode(argc, argv);
    fflush(stdout);
    _exit(status);
}

/* Copies of this program: exec'd setuid or with a file capability, they see AT_SECURE 1. */
static void need_privileged_copies(void)
{
    need_rtshm();
    need_root();
    if (strcmp(link_mode, "preload") == 0)
        skip("the dynamic linker ignores LD_PRELOAD in setuid and file-capability programs");
    if (under_valgrind())
        skip("valgrind cannot run setuid or file-capability programs");
}

static char copy_path[256];

/* /tmp/<prefix>copy: this program, owned by uid and gid `owner`, with `mode` (set after the
 * owner, which would clear a setuid bit). */
static void make_copy(uid_t owner, mode_t mode)
{
    snprintf(copy_path, sizeof copy_path, "%s", mine_in("/tmp", "copy"));
    int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    int out = open(copy_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (in < 0 || out < 0)
        FAIL("copying /proc/self/exe to %s: %s", copy_path, strerror(errno));
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            FAIL("writing %s: %s", copy_path, strerror(errno));
    CHECK(n == 0);
    close(in);
    /* Closed before any exec: a file open for writing cannot be run (ETXTBSY). */
    CHECK_OK(close(out));
    CHECK_OK(chown(copy_path, owner, owner));
    CHECK_OK(chmod(copy_path, mode));
}

enum proc { WITH_PROC, WITHOUT_PROC };
static char copy_out[PATH_MAX + 64];

/* {"RTSHM_DIR=<dir>", NULL}: the environment most copies run with. */
static const char *const *dir_env(const char *dir)
{
    static char var[PATH_MAX + 16];
    static const char *env[2];
    snprintf(var, sizeof var, "RTSHM_DIR=%s", dir);
    env[0] = var;
    env[1] = NULL;
    return env;
}

/* Runs the copy as uid (and gid) `uid`, with nothing in its environment but `env` and the
 * arguments a1 a2; what it writes on stdout and stderr, less the last newline, lands in
 * copy_out (a privileged program has nothing to say on stderr). Skips the test when /proc
 * cannot be hidden. */
static void run_copy(uid_t uid, const char *const *env, enum proc proc, const char *a1,
                     const char *a2)
{
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        hang_guard(CHILD_SECONDS); /* kept across execve */
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        if (proc == WITHOUT_PROC) {
            const char *why = hide_proc(); /* before the uid change: it needs root */
            if (why) {
                printf("%s", why);
                fflush(stdout);
                _exit(77);
            }
        }
        if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
            _exit(126);
        char *argv[] = {copy_path, (char *)a1, (char *)a2, NULL};
        execve(copy_path, argv, (char *const *)env);
        printf("exec %s: %s", copy_path, strerror(errno));
        fflush(stdout);
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t n;
    while (used < sizeof copy_out - 1 &&
           (n = read(fds[0], copy_out + used, sizeof copy_out - 1 - used)) > 0)
        used += (size_t)n;
    copy_out[used] = 0;
    if (used && copy_out[used - 1] == '\n')
        copy_out[used - 1] = 0;
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            FAIL("waitpid: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        skip_tidily("without /proc: %s", copy_out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL("%s %s as uid %d: status %#x, printed \"%s\"", a1, a2 ? a2 : "", (int)uid, status,
             escaped(copy_out));
}

/* Fails unless the copy printed `want`; skips when the kernel did not make a copy that should
 * be privileged so (a nosuid /tmp, file capabilities not supported). */
static void copy_said(const char *want, const char *what)
{
    if (want[0] == '1' && copy_out[0] == '0' && copy_out[1] == ' ')
        skip_tidily("the kernel ran %s with AT_SECURE 0 (is /tmp mounted nosuid?)", what);
    if (strcmp(copy_out, want) != 0) {
        unlink(copy_path);
        FAIL("%s printed \"%s\", not \"%s\"", what, escaped(copy_out), want);
    }
}

static char secure_want[PATH_MAX + 8];
static const char *printed(int secure, const char *dir)
{
    snprintf(secure_want, sizeof secure_want, "%d %s", secure, dir);
    return secure_want;
}

TEST(trust_setuid_seteuid_dance_ignores_rtshm_dir)
{
    need_privileged_copies();
    /* A root-only file where an unprivileged user points RTSHM_DIR, named as the setuid
     * program's own state. */
    char victim_dir[256], victim[512];
    snprintf(victim_dir, sizeof victim_dir, "%s", mine_in("/tmp", "victim"));
    make_dir(victim_dir, 0, 0755);
    const char *name = tname("state");
    snprintf(victim, sizeof victim, "%s/%s", victim_dir, name + 1);
    static const char precious[] = "root's own state\n";
    int fd = open(victim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, precious, sizeof precious - 1) == (ssize_t)sizeof precious - 1);
    CHECK_OK(close(fd));
    make_copy(0, 04755);
    run_copy(NOBODY, dir_env(victim_dir), WITH_PROC, "--trust-open-state", name);
    char now[64] = "";
    fd = open(victim, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, now, sizeof now - 1) : -1;
    if (fd >= 0)
        close(fd);
    now[n > 0 ? n : 0] = 0;
    int in_dev_shm = access(shm_path_of(name), F_OK) == 0;
    unlink(shm_path_of(name));
    unlink(victim);
    rmdir(victim_dir);
    unlink(copy_path);
    if (strcmp(now, precious) != 0)
        FAIL("the root-owned file in RTSHM_DIR now holds %zd bytes \"%s\" (the copy printed "
             "\"%s\")",
             n, now, escaped(copy_out));
    if (strcmp(copy_out, "1 /dev/shm opened") != 0)
        FAIL("the copy printed \"%s\", not \"1 /dev/shm opened\"", escaped(copy_out));
    CHECK(in_dev_shm); /* its state went where it always goes */
}

TEST(trust_setuid_ignores_rtshm_reserve)
{
    need_privileged_copies();
    const char *name = tname("reserve");
    const char *const reserve[] = {"RTSHM_RESERVE=1", NULL};
    /* Control: not setuid, the copy obeys it. */
    make_copy(0, 0755);
    run_copy(NOBODY, reserve, WITH_PROC, "--trust-reserve", name);
    if (strcmp(copy_out, "0 /dev/shm ENOSPC") != 0)
        FAIL("without setuid the copy printed \"%s\"", escaped(copy_out));
    /* Setuid: RTSHM_RESERVE is ignored, and so is an unusable value (nothing said). */
    CHECK_OK(chmod(copy_path, 04755));
    run_copy(NOBODY, reserve, WITH_PROC, "--trust-reserve", name);
    copy_said("1 /dev/shm grown", "the setuid copy with RTSHM_RESERVE=1");
    const char *const unusable[] = {"RTSHM_RESERVE=yes", NULL};
    run_copy(NOBODY, unusable, WITH_PROC, "--trust-reserve", name);
    copy_said("1 /dev/shm grown", "the setuid copy with RTSHM_RESERVE=yes");
    unlink(copy_path);
}

TEST(trust_setuid_ignores_rtshm_compat_and_its_log)
{
    need_privileged_copies();
    const char *name = tname("compat-name-longer-than-macos-allows");
    const char *const compat[] = {"RTSHM_COMPAT=macos", "RTSHM_COMPAT_LOG=1", NULL};
    /* Control: not setuid, the copy obeys both: ENAMETOOLONG, and a line on stderr. */
    make_copy(0, 0755);
    run_copy(NOBODY, compat, WITH_PROC, "--trust-compat", name);
    if (!strstr(copy_out, "rtshm: RTSHM_COMPAT=macos") ||
        !strstr(copy_out, "0 /dev/shm ENAMETOOLONG"))
        FAIL("without setuid the copy printed \"%s\"", escaped(copy_out));
    /* Setuid, with its first call made as its user: neither is obeyed, nothing is said, and
     * neither are unusable values reported. */
    CHECK_OK(chmod(copy_path, 04755));
    run_copy(NOBODY, compat, WITH_PROC, "--trust-compat", name);
    copy_said("1 /dev/shm opened", "the setuid copy with RTSHM_COMPAT=macos");
    CHECK_OK(unlink(shm_path_of(name)));
    const char *const unusable[] = {"RTSHM_COMPAT=garbage", "RTSHM_DIR=relative", NULL};
    run_copy(NOBODY, unusable, WITH_PROC, "--trust-compat", name);
    copy_said("1 /dev/shm opened", "the setuid copy with unusable RTSHM_COMPAT and RTSHM_DIR");
    CHECK_OK(unlink(shm_path_of(name)));
    CHECK_OK(unlink(copy_path));
}

TEST(trust_setuid_nonroot_ignores_rtshm_dir)
{
    need_privileged_copies();
    const char *dir = make_ns_dir();
    make_copy(NOBODY, 0755);
    /* Control: the same copy, not setuid, obeys RTSHM_DIR. */
    run_copy(OTHER, dir_env(dir), WITH_PROC, "--trust-print-rtshm-dir", "plain");
    copy_said(printed(0, dir), "the copy owned by 65534 without its setuid bit");
    CHECK_OK(chmod(copy_path, 04755));
    run_copy(OTHER, dir_env(dir), WITH_PROC, "--trust-print-rtshm-dir", "plain");
    copy_said("1 /dev/shm", "the copy setuid 65534 run by 65533");
    /* Every id 65534 (the real one too): only AT_SECURE still tells. */
    run_copy(OTHER, dir_env(dir), WITH_PROC, "--trust-print-rtshm-dir", "setresuid");
    copy_said("1 /dev/shm", "the copy setuid 65534 that set all its uids to 65534");
    unlink(copy_path);
    CHECK_OK(rmdir(dir));
}

TEST(trust_setresuid_before_first_call_ignores_rtshm_dir)
{
    need_privileged_copies();
    const char *dir = make_ns_dir();
    make_copy(0, 04755);
    run_copy(NOBODY, dir_env(dir), WITH_PROC, "--trust-print-rtshm-dir", "setresuid");
    copy_said("1 /dev/shm", "the setuid-root copy that set all its uids to 0");
#ifdef UNDER_ASAN
    note("not run without /proc: there the ASan runtime cannot find its stack");
#else
    /* Without /proc, comparing the ids is no substitute for AT_SECURE: they are all 0. */
    run_copy(NOBODY, dir_env(dir), WITHOUT_PROC, "--trust-print-rtshm-dir", "setresuid");
    copy_said("1 /dev/shm", "the setuid-root copy that set all its uids to 0, without /proc");
#endif
    unlink(copy_path);
    CHECK_OK(rmdir(dir));
}

TEST(trust_file_capabilities_ignore_rtshm_dir)
{
    need_privileged_copies();
    const char *dir = make_ns_dir();
    make_copy(0, 0755);
    run_copy(NOBODY, dir_env(dir), WITH_PROC, "--trust-print-rtshm-dir", "plain");
    copy_said(printed(0, dir), "the copy without a file capability");
    /* Written by hand rather than with setcap(8), which may not be installed: permitted and
     * effective CAP_NET_BIND_SERVICE, harmless and enough for AT_SECURE. */
    struct vfs_cap_data cap;
    memset(&cap, 0, sizeof cap);
    cap.magic_etc = htole32(VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE);
    cap.data[0].permitted = htole32(1u << CAP_NET_BIND_SERVICE);
    if (setxattr(copy_path, "security.capability", &cap, XATTR_CAPS_SZ_2, 0) != 0)
        skip_tidily("setting security.capability on %s: %s", copy_path, strerror(errno));
    run_copy(NOBODY, dir_env(dir), WITH_PROC, "--trust-print-rtshm-dir", "plain");
    copy_said("1 /dev/shm", "the copy with CAP_NET_BIND_SERVICE as a file capability");
    unlink(copy_path);
    CHECK_OK(rmdir(dir));
}

TEST(trust_setuid_without_proc_ignores_rtshm_dir)
{
    need_privileged_copies();
#ifdef UNDER_ASAN
    skip("without /proc the ASan runtime cannot find its stack (and warns of false reports)");
#endif
    const char *dir = make_ns_dir();
    make_copy(0, 04755);
    run_copy(NOBODY, dir_env(dir), WITHOUT_PROC, "--trust-print-rtshm-dir", "plain");
    copy_said("1 /dev/shm", "the setuid-root copy without /proc");
    /* Real and effective uid equal at the first call, and no /proc to read AT_SECURE from. */
    run_copy(NOBODY, dir_env(dir), WITHOUT_PROC, "--trust-print-rtshm-dir", "seteuid");
    copy_said("1 /dev/shm", "the setuid-root copy without /proc, euid lowered to 65534");
    unlink(copy_path);
    CHECK_OK(rmdir(dir));
}

struct lowered {
    const char *dir;
    int euid, egid; /* which to set to NOBODY before the first call */
};

static void first_call_with_lowered_ids(void *arg)
{
    hang_guard(CHILD_SECONDS);
    struct lowered *l = arg;
    use_rtshm_dir(l->dir);
    if ((l->egid && setegid(NOBODY) != 0) || (l->euid && seteuid(NOBODY) != 0))
        FAIL("lowering ids: %s", strerror(errno));
    CHECK(getauxval(AT_SECURE) == 0);
    const char *d = current_rtshm_dir();
    if (!d || strcmp(d, l->dir) != 0)
        FAIL("euid %d egid %d: rtshm_dir() is \"%s\", not \"%s\"", (int)geteuid(), (int)getegid(),
             d ? d : "(null)", l->dir);
    const char *name = tname("low");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK(access(joined(l->dir, name + 1), F_OK) == 0);
    CHECK_OK(shm_unlink(name));
}

TEST(trust_seteuid_before_first_call_honours_rtshm_dir)
{
    need_rtshm();
    need_root();
    /* Ids that differ are no sign of secure execution: a root daemon that lowers its
     * effective ids was exec'd with AT_SECURE 0, and its RTSHM_DIR is its own user's word. */
    const char *dir = make_ns_dir(); /* root's, sticky: safe for any euid */
    struct lowered cases[] = {{dir, 1, 0}, {dir, 0, 1}, {dir, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_CHILD(in_child(first_call_with_lowered_ids, &cases[i]));
    CHECK(entries_in(dir) == 0);
    CHECK_OK(rmdir(dir));
}

/* ---------------------------------------------------------------------------------------- */
/* 2. RTSHM_DIR is used only if it is safe, and a refusal is said once.                      */

static char err_text[65536];

struct captured {
    void (*fn)(void *);
    void *arg;
    int fd;
};

static void with_stderr_to_pipe(void *arg)
{
    hang_guard(CHILD_SECONDS);
    struct captured *c = arg;
    if (dup2(c->fd, 2) < 0)
        FAIL("dup2: %s", strerror(errno));
    c->fn(c->arg);
}

/* Runs fn in a child (as uid 65534 when `nobody`), its standard error going to err_text;
 * fails unless it exits 0. */
static void run_capturing(void (*fn)(void *), void *arg, int nobody)
{
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    /* Read only after the child has ended: room for far more than any sane output. */
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    struct captured c = {fn, arg, fds[1]};
    int status = nobody ? as_nobody(with_stderr_to_pipe, &c) : in_child(with_stderr_to_pipe, &c);
    close(fds[1]);
    size_t used = 0;
    ssize_t n;
    while (used < sizeof err_text - 1 &&
           (n = read(fds[0], err_text + used, sizeof err_text - 1 - used)) > 0)
        used += (size_t)n;
    err_text[used] = 0;
    close(fds[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL("child status %#x; its stderr: \"%s\"", status, escaped(err_text));
}

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

/* Fails unless err_text is exactly `line` and a newline (any_case: \xNN may be \xnn too). */
static void check_line(const char *line, const char *setting, int any_case)
{
    size_t n = strlen(line);
    int same = any_case ? strncasecmp(err_text, line, n) == 0 : strncmp(err_text, line, n) == 0;
    if (!same || strcmp(err_text + n, "\n") != 0)
        FAIL("%s: stderr was \"%s\", not the one line \"%s\"", setting, escaped(err_text), line);
}

/* Fails unless err_text is one line: the notice that RTSHM_DIR=value is not used because of
 * `component`, for `reason`: matched by its parts (head, quoted component and reason, tail). */
static void check_notice(const char *value, const char *component, const char *reason)
{
    static char head[PATH_MAX + 64], body[PATH_MAX + 256];
    snprintf(head, sizeof head, "rtshm: RTSHM_DIR=\"%s\" is not used: ", value);
    snprintf(body, sizeof body, "\"%s\" %s", component, reason);
    const char *nl = strchr(err_text, '\n');
    if (!nl || nl[1] != 0 || strncmp(err_text, head, strlen(head)) != 0 ||
        !strstr(err_text, body) || !ends_with(err_text, "; calls fail with EINVAL\n"))
        FAIL("stderr was \"%s\", not the one line \"%s%s; calls fail with EINVAL\"",
             escaped(err_text), head, body);
}

/* In a child: every call fails with EINVAL, however many times it is made. */
static void refused_calls(void *arg)
{
    use_rtshm_dir((const char *)arg);
    load_bsd();
    CHECK(rename_fn && mkstemp_fn);
    const char *probe = tname("probe");
    char tmpl[160];
    for (int round = 0; round < 3; round++) {
        CHECK_ERR(shm_open(probe, O_RDWR | O_CREAT, 0600), EINVAL);
        CHECK_ERR(shm_open(probe, O_RDONLY, 0), EINVAL);
        CHECK_ERR(shm_unlink(probe), EINVAL);
        errno = 0;
        CHECK(sem_open(probe, O_CREAT, 0600, 1) == SEM_FAILED && errno == EINVAL);
        errno = 0;
        CHECK(sem_open(probe, 0) == SEM_FAILED && errno == EINVAL);
        CHECK_ERR(sem_unlink(probe), EINVAL);
        CHECK_ERR(rename_fn(probe, tname("probe2"), 0), EINVAL);
        snprintf(tmpl, sizeof tmpl, "%s.XXXXXX", probe);
        CHECK_ERR(mkstemp_fn(tmpl), EINVAL);
        CHECK(current_rtshm_dir() == NULL);
    }
    CHECK(access(shm_path_of(probe), F_OK) == -1);
}

struct accepted {
    const char *value; /* RTSHM_DIR */
    const char *where; /* where its objects must land */
};

/* In a child: objects and semaphores are made, found and removed in c->where. */
static void accepted_calls(void *arg)
{
    struct accepted *c = arg;
    use_rtshm_dir(c->value);
    int before = entries_in(c->where);
    const char *name = tname("ok");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        FAIL("RTSHM_DIR=%s: shm_open: %s", c->value, errname_(errno));
    close(fd);
    const char *d = current_rtshm_dir();
    CHECK(d && strcmp(d, c->value) == 0);
    CHECK(access(joined(c->where, name + 1), F_OK) == 0);
    sem_t *sem = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
    CHECK(sem != SEM_FAILED);
    char semfile[200];
    snprintf(semfile, sizeof semfile, "sem.%s", name + 1);
    CHECK(access(joined(c->where, semfile), F_OK) == 0);
    CHECK_OK(sem_close(sem));
    CHECK_OK(sem_unlink(name));
    CHECK_OK(shm_unlink(name));
    CHECK(entries_in(c->where) == before);
}

static void expect_refused(const char *value, const char *component, const char *reason,
                           int nobody)
{
    run_capturing(refused_calls, (void *)value, nobody);
    check_notice(value, component, reason);
}

static void expect_accepted(const char *value, const char *where, int nobody)
{
    struct accepted c = {value, where};
    run_capturing(accepted_calls, &c, nobody);
    if (err_text[0])
        FAIL("RTSHM_DIR=%s was used, but stderr said \"%s\"", value, escaped(err_text));
}

#define OWNED_BY(uid, euid) "is owned by uid " #uid ", not by root or the effective uid " #euid
#define LINK_OWNED_BY(uid, euid)                                                              \
    "is a symbolic link owned by uid " #uid ", not by root or the effective uid " #euid
#define WRITABLE "is writable by group or others and not sticky"

TEST(trust_rtshm_dir_owned_by_another_user_is_refused)
{
    need_rtshm();
    need_root();
    /* Its owner could swap in a link to any file root then creates, truncates or unlinks. */
    char owned[256], sub[300];
    snprintf(owned, sizeof owned, "%s", mine_in("/dev/shm", "owned"));
    make_dir(owned, NOBODY, 0755);
    expect_refused(owned, owned, OWNED_BY(65534, 0), 0);
    /* Root's own directory is no safer inside one that another user owns. */
    snprintf(sub, sizeof sub, "%s/sub", owned);
    make_dir(sub, 0, 0755);
    expect_refused(sub, owned, OWNED_BY(65534, 0), 0);
    CHECK_OK(rmdir(sub));
    CHECK_OK(rmdir(owned));
}

TEST(trust_writable_not_sticky_is_refused)
{
    need_rtshm();
    need_root();
    char open_dir[256], group_dir[256], sub[300], sticky[256];
    snprintf(open_dir, sizeof open_dir, "%s", mine_in("/dev/shm", "w777"));
    snprintf(group_dir, sizeof group_dir, "%s", mine_in("/dev/shm", "w770"));
    snprintf(sticky, sizeof sticky, "%s", mine_in("/dev/shm", "sticky"));
    snprintf(sub, sizeof sub, "%s/sub", open_dir);
    make_dir(open_dir, 0, 0777);
    make_dir(group_dir, 0, 0770);
    make_dir(sub, 0, 0755);
    make_dir(sticky, 0, 01777);
    expect_refused(open_dir, open_dir, WRITABLE, 0);
    expect_refused(group_dir, group_dir, WRITABLE, 0);
    /* Anyone may rename sub away and put their own in its place. */
    expect_refused(sub, open_dir, WRITABLE, 0);
    /* Control: sticky, like /tmp and /dev/shm, where nobody may replace root's entries. */
    expect_accepted(sticky, sticky, 0);
    CHECK_OK(rmdir(sub));
    CHECK_OK(rmdir(open_dir));
    CHECK_OK(rmdir(group_dir));
    CHECK_OK(rmdir(sticky));
}

TEST(trust_symlink_owned_by_another_user_is_refused)
{
    need_rtshm();
    need_root();
    char target[256], target_sub[300], link[256], link_sub[300], root_link[256], root_sub[300];
    snprintf(target, sizeof target, "%s", mine_in("/dev/shm", "target"));
    snprintf(target_sub, sizeof target_sub, "%s/sub", target);
    snprintf(link, sizeof link, "%s", mine_in("/dev/shm", "link"));
    snprintf(link_sub, sizeof link_sub, "%s/sub", link);
    snprintf(root_link, sizeof root_link, "%s", mine_in("/dev/shm", "rootlink"));
    snprintf(root_sub, sizeof root_sub, "%s/sub", root_link);
    make_dir(target, 0, 0755);
    make_dir(target_sub, 0, 0755);
    /* It points somewhere safe today; its owner may repoint it at any moment. */
    CHECK_OK(symlink(target, link));
    CHECK_OK(lchown(link, NOBODY, NOBODY));
    expect_refused(link, link, LINK_OWNED_BY(65534, 0), 0);
    expect_refused(link_sub, link, LINK_OWNED_BY(65534, 0), 0);
    /* Control: root's link to the same directory is followed. */
    CHECK_OK(symlink(target, root_link));
    expect_accepted(root_link, target, 0);
    expect_accepted(root_sub, target_sub, 0);
    CHECK_OK(unlink(link));
    CHECK_OK(unlink(root_link));
    CHECK_OK(rmdir(target_sub));
    CHECK_OK(rmdir(target));
}

/* In a child whose effective uid is lowered but whose real and saved uids stay root's: every
 * call refused. */
static void refused_with_switchable_ids(void *arg)
{
    if (seteuid(NOBODY) != 0)
        FAIL("seteuid: %s", strerror(errno));
    refused_calls(arg);
}

TEST(trust_switchable_ids_trust_only_root_dirs)
{
    need_rtshm();
    need_root();
    /* Root that set its effective uid to 65534 for a while can switch back: a directory 65534
     * owns could then be swapped under root's own calls. Only root's directories are trusted
     * while the real, effective and saved uids differ. */
    char owned[256];
    snprintf(owned, sizeof owned, "%s", mine_in("/dev/shm", "switch"));
    make_dir(owned, NOBODY, 0755);
    run_capturing(refused_with_switchable_ids, owned, 0);
    check_notice(owned, owned,
                 "is owned by uid 65534, not by root (this process's real, effective and saved "
                 "uids differ: only root's directories are trusted)");
    CHECK_OK(rmdir(owned));
}

TEST(trust_unprivileged_user_trusts_own_dir_only)
{
    need_rtshm();
    need_root();
    char own[256], parent[256], nested[300], others[256];
    snprintf(own, sizeof own, "%s", mine_in("/dev/shm", "own"));
    snprintf(parent, sizeof parent, "%s", mine_in("/dev/shm", "parent"));
    snprintf(nested, sizeof nested, "%s/own", parent);
    snprintf(others, sizeof others, "%s", mine_in("/dev/shm", "others"));
    make_dir(own, NOBODY, 0755);
    make_dir(parent, 0, 0755);
    make_dir(nested, NOBODY, 0700);
    make_dir(others, OTHER, 0755);
    /* The effective uid's own directories, under root's sticky and 0755 ones. */
    expect_accepted(own, own, 1);
    expect_accepted(nested, nested, 1);
    /* Another unprivileged user's directory is no more trusted by 65534 than by root. */
    expect_refused(others, others, OWNED_BY(65533, 65534), 1);
    CHECK_OK(rmdir(own));
    CHECK_OK(rmdir(nested));
    CHECK_OK(rmdir(parent));
    CHECK_OK(rmdir(others));
}

struct appearing {
    const char *dir;
    uid_t owner; /* of the directory made after the first calls */
};

/* In a child: ENOENT while the directory is missing, then whatever the directory made at
 * the same path deserves: its objects if safe, EINVAL if not. */
static void dir_made_later(void *arg)
{
    struct appearing *a = arg;
    use_rtshm_dir(a->dir);
    const char *name = tname("later");
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), ENOENT);
    errno = 0;
    CHECK(sem_open(name, O_CREAT, 0600, 1) == SEM_FAILED && errno == ENOENT);
    CHECK_ERR(shm_unlink(name), ENOENT);
    make_dir(a->dir, a->owner, 0755);
    if (a->owner != 0) {
        CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), EINVAL);
        CHECK_ERR(shm_open(name, O_RDWR | O_CREAT, 0600), EINVAL);
        CHECK(current_rtshm_dir() == NULL);
        return;
    }
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        FAIL("shm_open once %s exists: %s", a->dir, errname_(errno));
    close(fd);
    CHECK(access(joined(a->dir, name + 1), F_OK) == 0);
    const char *d = current_rtshm_dir();
    CHECK(d && strcmp(d, a->dir) == 0);
    CHECK_OK(shm_unlink(name));
}

TEST(trust_missing_rtshm_dir_is_enoent_until_made)
{
    need_rtshm();
    need_root();
    /* A directory made late (by a service starting after its clients, say) is a normal
     * case: the kernel's ENOENT, nothing said, and the check made when it is there. */
    struct appearing safe = {mine_in("/dev/shm", "later"), 0};
    run_capturing(dir_made_later, &safe, 0);
    if (err_text[0])
        FAIL("stderr said \"%s\"", escaped(err_text));
    CHECK_OK(rmdir(safe.dir));
    struct appearing unsafe = {mine_in("/dev/shm", "later-owned"), NOBODY};
    run_capturing(dir_made_later, &unsafe, 0);
    check_notice(unsafe.dir, unsafe.dir, OWNED_BY(65534, 0));
    CHECK_OK(rmdir(unsafe.dir));
}

TEST(trust_rtshm_dir_not_a_directory_is_refused)
{
    need_rtshm();
    need_root();
    char file[256], below[300];
    snprintf(file, sizeof file, "%s", mine_in("/dev/shm", "file"));
    snprintf(below, sizeof below, "%s/sub", file);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    close(fd);
    expect_refused(file, file, "is not a directory", 0);
    expect_refused(below, file, "is not a directory", 0);
    CHECK_OK(unlink(file));
}

TEST(trust_rtshm_dir_that_cannot_be_checked_is_refused)
{
    need_rtshm();
    need_root();
    /* 65534 cannot look inside root's 0700 directory, so cannot tell who owns sub. */
    char closed[256], sub[300];
    snprintf(closed, sizeof closed, "%s", mine_in("/dev/shm", "closed"));
    snprintf(sub, sizeof sub, "%s/sub", closed);
    make_dir(closed, 0, 0700);
    make_dir(sub, 0, 01777);
    run_capturing(refused_calls, sub, 1);
    /* Which component is named (sub, which could not be examined, or closed, which could
     * not be searched) is the library's choice. */
    char a[400], b[400];
    snprintf(a, sizeof a, "\"%s\" cannot be checked: EACCES; calls fail with EINVAL\n", sub);
    snprintf(b, sizeof b, "\"%s\" cannot be checked: EACCES; calls fail with EINVAL\n", closed);
    char head[400];
    snprintf(head, sizeof head, "rtshm: RTSHM_DIR=\"%s\" is not used: ", sub);
    const char *nl = strchr(err_text, '\n');
    if (!nl || nl[1] != 0 || strncmp(err_text, head, strlen(head)) != 0 ||
        !(ends_with(err_text, a) || ends_with(err_text, b)))
        FAIL("stderr was \"%s\", not one line \"%s...cannot be checked: EACCES; calls fail "
             "with EINVAL\"",
             escaped(err_text), head);
    CHECK_OK(rmdir(sub));
    CHECK_OK(rmdir(closed));
}

TEST(trust_relative_or_too_long_rtshm_dir_reported_once)
{
    need_rtshm();
    static char too_long[3841], want[512];
    too_long[0] = '/';
    memset(too_long + 1, 'd', 3839); /* 3840 bytes */
    const char *relatives[] = {"relative/dir", ""};
    for (size_t i = 0; i < sizeof relatives / sizeof relatives[0]; i++) {
        run_capturing(refused_calls, (void *)relatives[i], 0);
        snprintf(want, sizeof want,
                 "rtshm: RTSHM_DIR=\"%s\" is not used: not an absolute path; calls fail with "
                 "EINVAL",
                 relatives[i]);
        char setting[64];
        snprintf(setting, sizeof setting, "RTSHM_DIR=\"%s\"", relatives[i]);
        check_line(want, setting, 0);
    }
    run_capturing(refused_calls, too_long, 0);
    snprintf(want, sizeof want,
             "rtshm: RTSHM_DIR=\"%.64s...\" is not used: longer than 3839 bytes; calls fail "
             "with EINVAL",
             too_long);
    check_line(want, "RTSHM_DIR of 3840 bytes", 0);
    /* What the user set is shown, not sent to the terminal: an escape sequence stays text. */
    run_capturing(refused_calls, "rel\x1b[1m\x7f", 0);
    check_line("rtshm: RTSHM_DIR=\"rel\\x1b[1m\\x7f\" is not used: not an absolute path; calls "
               "fail with EINVAL",
               "RTSHM_DIR with control bytes", 1);
}

/* In a child: with RTSHM_COMPAT set to what the child's argument says, calls behave as
 * without it (long names, names without a slash: refused by macOS and FreeBSD rules). */
static void unknown_compat_calls(void *arg)
{
    use_rtshm_dir(NULL);
    setenv("RTSHM_COMPAT", (const char *)arg, 1);
    setenv("RTSHM_COMPAT_LOG", "1", 1);
    const char *name = tname("compat-unknown-long-name");
    for (int round = 0; round < 3; round++) {
        CHECK(strcmp(current_rtshm_dir(), "/dev/shm") == 0);
        int fd = shm_open(name + 1, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0600);
        if (fd < 0)
            FAIL("RTSHM_COMPAT=%s: shm_open: %s", (const char *)arg, errname_(errno));
        close(fd);
        CHECK_OK(shm_unlink(name + 1));
    }
}

TEST(trust_unknown_rtshm_compat_reported_once)
{
    need_rtshm();
    const char *values[] = {"macOS", "garbage"};
    static char want[256];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        run_capturing(unknown_compat_calls, (void *)values[i], 0);
        snprintf(want, sizeof want,
                 "rtshm: RTSHM_COMPAT=\"%s\" is not used: not posix, freebsd or macos",
                 values[i]);
        char setting[64];
        snprintf(setting, sizeof setting, "RTSHM_COMPAT=\"%s\"", values[i]);
        check_line(want, setting, 0);
    }
    run_capturing(unknown_compat_calls, "mac\tos\x01", 0);
    check_line("rtshm: RTSHM_COMPAT=\"mac\\x09os\\x01\" is not used: not posix, freebsd or macos",
               "RTSHM_COMPAT with control bytes", 1);
}

/* ---------------------------------------------------------------------------------------- */
/* 3. Nothing that fork, or a failed allocation, can leave half done.                        */

static const char *fork_dir;
static const char *fork_name;
static atomic_int first_call_started;

static void *make_first_call(void *arg)
{
    atomic_store(&first_call_started, 1);
    if ((intptr_t)arg % 2) {
        int fd = shm_open(fork_name, O_RDONLY, 0); /* missing: ENOENT, nothing made */
        if (fd >= 0)
            close(fd);
    } else {
        current_rtshm_dir();
    }
    return NULL;
}

/* In a child forked while another thread made the first call: every call works. Returns
 * 0, or the step that failed. */
static int calls_after_fork(void)
{
    const char *d = current_rtshm_dir();
    if (!d || strcmp(d, fork_dir) != 0)
        return 2;
    int fd = shm_open(fork_name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return 3;
    close(fd);
    if (shm_unlink(fork_name) != 0)
        return 4;
    sem_t *s = sem_open(fork_name, O_CREAT | O_EXCL, 0600, 1);
    if (s == SEM_FAILED)
        return 5;
    if (sem_close(s) != 0)
        return 6;
    if (sem_unlink(fork_name) != 0)
        return 7;
    return 0;
}

static void fork_during_first_call(void *arg)
{
    hang_guard(CHILD_SECONDS);
    int trial = (int)(intptr_t)arg;
    use_rtshm_dir(fork_dir);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, make_first_call, arg) == 0);
    while (!atomic_load(&first_call_started))
        ;
    /* A different moment of the first call each trial. */
    for (volatile int i = 0; i < trial % 40 * 25; i++)
        ;
    pid_t pid = fork();
    if (pid == 0) {
        hang_guard(GRANDCHILD_SECONDS);
        _exit(calls_after_fork());
    }
    CHECK(pid > 0);
    CHECK(pthread_join(t, NULL) == 0);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            FAIL("waitpid: %s", strerror(errno));
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        FAIL("trial %d: the child forked during the first call hung", trial);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL("trial %d: the child forked during the first call: status %#x (step %d)", trial,
             status, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

TEST(trust_fork_racing_first_call_never_hangs)
{
    need_rtshm();
    fork_dir = make_ns_dir();
    fork_name = tname("fork");
    int trials = under_valgrind() ? 40 : 300;
    for (int trial = 0; trial < trials; trial++) /* a fresh process each: a fresh first call */
        CHECK_CHILD(in_child(fork_during_first_call, (void *)(intptr_t)trial));
    CHECK(entries_in(fork_dir) == 0);
    CHECK_OK(rmdir(fork_dir));
}

static const char *busy_name;
static atomic_int busy_stop;
static atomic_long busy_rounds;

static void *open_close_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&busy_stop)) {
        sem_t *s = sem_open(busy_name, 0);
        if (s == SEM_FAILED) {
            atomic_store(&busy_rounds, -1);
            break;
        }
        sem_close(s);
        atomic_fetch_add(&busy_rounds, 1);
    }
    return NULL;
}

static void fork_while_registry_busy(void *arg)
{
    hang_guard(CHILD_SECONDS);
    (void)arg;
    sem_t *held = sem_open(busy_name, O_CREAT | O_EXCL, 0600, 1);
    CHECK(held != SEM_FAILED);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, open_close_loop, NULL) == 0);
    while (atomic_load(&busy_rounds) == 0)
        ;
    int forks = under_valgrind() ? 40 : 200;
    for (int i = 0; i < forks && atomic_load(&busy_rounds) > 0; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            hang_guard(GRANDCHILD_SECONDS);
            sem_t *s = sem_open(busy_name, 0);
            if (s == SEM_FAILED)
                _exit(2);
            if (sem_post(s) != 0 || sem_wait(s) != 0)
                _exit(3);
            _exit(sem_close(s) == 0 ? 0 : 4);
        }
        CHECK(pid > 0);
        int status;
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR)
                FAIL("waitpid: %s", strerror(errno));
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
            FAIL("fork %d: the child's sem_open or sem_close hung", i);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            FAIL("fork %d: child status %#x", i, status);
    }
    atomic_store(&busy_stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(atomic_load(&busy_rounds) > 0);
    CHECK_OK(sem_close(held));
    CHECK_OK(sem_unlink(busy_name));
}

TEST(trust_fork_while_registry_locked)
{
    need_rtshm();
    busy_name = tname("busy");
    CHECK_CHILD(in_child(fork_while_registry_busy, NULL));
}

/* How far the child under RLIMIT_AS got: in a shared page, for the parent to read after a
 * hang. */
static volatile int *as_step;

/* Grows the stack now, while mappings may still grow: under the limit a deeper stack would
 * be SIGSEGV, not the library's doing. */
__attribute__((noinline)) static void grow_stack(void)
{
    volatile char pad[256 * 1024];
    for (size_t i = 0; i < sizeof pad; i += 512)
        pad[i] = 1;
}

static void calls_without_address_space(void *arg)
{
    hang_guard(CHILD_SECONDS);
    const char *dir = arg;
    use_rtshm_dir(dir);
    const char *name = tname("as");
    const char *want = dir ? dir : "/dev/shm";
    grow_stack();
    struct rlimit saved, none;
    CHECK_OK(getrlimit(RLIMIT_AS, &saved));
    none = saved;
    none.rlim_cur = 0; /* below what is mapped already: no new mapping fits */
    CHECK_OK(setrlimit(RLIMIT_AS, &none));
    /* Nothing that might allocate (no CHECK, no printf) until the limit is back. */
    void *probe = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *as_step = 1;
    const char *d = current_rtshm_dir();
    int dir_ok = d && strcmp(d, want) == 0;
    *as_step = 2;
    errno = 0;
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    int fd_err = errno;
    if (fd >= 0)
        close(fd);
    *as_step = 3;
    errno = 0;
    sem_t *sem = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
    int sem_err = errno;
    if (sem != SEM_FAILED)
        sem_close(sem);
    *as_step = 4;
    setrlimit(RLIMIT_AS, &saved);
    CHECK(probe == MAP_FAILED);
    if (!dir_ok)
        FAIL("with no address space left, rtshm_dir() is \"%s\", not \"%s\"", d ? d : "(null)",
             want);
    if (dir ? fd < 0 && fd_err != ENOMEM : fd < 0)
        FAIL("with no address space left, shm_open: %s", errname_(fd_err));
    if (sem == SEM_FAILED && sem_err != ENOMEM)
        FAIL("with no address space left, sem_open: %s", errname_(sem_err));
    /* The limit raised, everything works, where it should. */
    fd = shm_open(name, O_RDWR | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK(access(joined(want, name + 1), F_OK) == 0);
    CHECK_OK(shm_unlink(name));
    sem = sem_open(name, O_CREAT, 0600, 1);
    CHECK(sem != SEM_FAILED);
    CHECK_OK(sem_close(sem));
    CHECK_OK(sem_unlink(name));
    if (dir)
        CHECK(entries_in(dir) == 0);
}

TEST(trust_rlimit_as_does_not_wedge)
{
    need_rtshm();
    if (under_valgrind())
        skip("valgrind's own mappings count against RLIMIT_AS");
    as_step = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(as_step != MAP_FAILED);
    const char *dir = make_ns_dir();
    const char *cases[] = {dir, NULL};
    for (size_t i = 0; i < 2; i++) {
        *as_step = 0;
        int status = in_child(calls_without_address_space, (void *)cases[i]);
        static const char *const steps[] = {"before the first call", "in rtshm_dir()",
                                            "in shm_open()", "in sem_open()", "after the calls"};
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
            FAIL("RTSHM_DIR %s: hung %s with no address space left", cases[i] ? "set" : "unset",
                 steps[*as_step]);
        CHECK_CHILD(status);
    }
    CHECK_OK(rmdir(dir));
}

/* ---------------------------------------------------------------------------------------- */
/* 4. SHM_ANON learns the umask without changing it, even with no /proc to read it from.     */

static atomic_int anon_stop, anon_started;
static atomic_long anon_calls, anon_failed, anon_bad_mode;

static void *anon_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&anon_stop)) {
        int fd = shm_open(SHM_ANON, O_RDWR, 0666);
        struct stat st;
        if (fd < 0)
            atomic_fetch_add(&anon_failed, 1);
        else if (fstat(fd, &st) != 0 || (st.st_mode & 0777) != 0600)
            atomic_fetch_add(&anon_bad_mode, 1);
        if (fd >= 0)
            close(fd);
        atomic_fetch_add(&anon_calls, 1);
        atomic_store(&anon_started, 1);
    }
    return NULL;
}

static mode_t anon_mode(void)
{
    int fd = shm_open(SHM_ANON, O_RDWR, 0666);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        FAIL("shm_open(SHM_ANON): %s", errname_(errno));
    close(fd);
    return st.st_mode & 0777;
}

static void anon_beside_file_creation(void *arg)
{
    hang_guard(CHILD_SECONDS);
    const char *dir = arg;
    const char *why = hide_proc();
    if (why)
        skip_tidily("%s", why);
    umask(022);
    mode_t m = anon_mode();
    if (m != 0644)
        FAIL("SHM_ANON under umask 022, without /proc: mode %04o, not 0644", (unsigned)m);
    umask(077);
    m = anon_mode();
    if (m != 0600)
        FAIL("SHM_ANON under umask 077, without /proc: mode %04o, not 0600", (unsigned)m);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, anon_loop, NULL) == 0);
    while (!atomic_load(&anon_started))
        ;
    /* A file made now gets 0666 less the umask, 077: any other mode means the umask was
     * changed under this thread's feet. */
    const char *path = joined(dir, "f");
    int files = under_valgrind() ? 2000 : 20000, wrong = 0;
    for (int i = 0; i < files; i++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0)
            FAIL("creating %s: %s", path, strerror(errno));
        wrong += (st.st_mode & 0777) != 0600;
        close(fd);
        CHECK_OK(unlink(path));
    }
    atomic_store(&anon_stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    if (wrong)
        FAIL("%d of %d files made beside %ld shm_open(SHM_ANON) calls did not get mode 0600",
             wrong, files, atomic_load(&anon_calls));
    CHECK(atomic_load(&anon_failed) == 0 && atomic_load(&anon_bad_mode) == 0);
}

TEST(trust_shm_anon_never_widens_umask)
{
    need_rtshm();
    need_root();
    char dir[256];
    snprintf(dir, sizeof dir, "%s", mine_in("/dev/shm", "files"));
    make_dir(dir, 0, 0700);
    CHECK_CHILD(in_child(anon_beside_file_creation, dir));
    CHECK_OK(rmdir(dir));
}

static void anon_with_a_forged_name(void *arg)
{
    (void)arg;
    hang_guard(CHILD_SECONDS);
    /* The first line of /proc/self/status shows the name, tabs and all; whoever runs a
     * program chooses its name (the file's), so a "Umask:" there must not be believed. */
    if (prctl(PR_SET_NAME, "Umask:\t0000") != 0)
        FAIL("PR_SET_NAME: %s", strerror(errno));
    umask(077);
    mode_t mode = anon_mode();
    if (mode != 0600)
        FAIL("SHM_ANON under umask 077, named \"Umask:\\t0000\": mode %o, not 600", (unsigned)mode);
}

TEST(trust_shm_anon_umask_not_taken_from_the_name)
{
    need_rtshm();
    CHECK_CHILD(in_child(anon_with_a_forged_name, NULL));
}

/* ---------------------------------------------------------------------------------------- */
/* 5. Semaphores where write(2) does not work: hugetlbfs.                                    */

static long free_huge_pages(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    long n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

static void semaphore_in_hugetlbfs(void *arg)
{
    hang_guard(CHILD_SECONDS);
    const char *dir = arg;
    const char *why = private_mounts();
    if (why)
        skip_tidily("%s", why);
    if (mount("none", dir, "hugetlbfs", 0, "mode=01777") != 0)
        skip_tidily("mounting hugetlbfs: %s", strerror(errno));
    use_rtshm_dir(dir);
    const char *name = tname("huge");
    errno = 0;
    sem_t *sem = sem_open(name, O_CREAT | O_EXCL, 0600, 3);
    if (sem == SEM_FAILED)
        FAIL("sem_open in hugetlbfs: %s", errname_(errno));
    int v = -1;
    CHECK(sem_getvalue(sem, &v) == 0 && v == 3);
    CHECK_OK(sem_post(sem));
    CHECK(sem_getvalue(sem, &v) == 0 && v == 4);
    CHECK_OK(sem_wait(sem));
    CHECK_OK(sem_wait(sem));
    CHECK(sem_getvalue(sem, &v) == 0 && v == 2);
    sem_t *again = sem_open(name, 0);
    CHECK(again == sem);
    CHECK_OK(sem_close(again));
    CHECK_OK(sem_close(sem));
    CHECK_OK(sem_unlink(name));
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        FAIL("shm_open in hugetlbfs: %s", errname_(errno));
    close(fd);
    CHECK(access(joined(dir, name + 1), F_OK) == 0);
    CHECK_OK(shm_unlink(name));
    CHECK(entries_in(dir) == 0);
    CHECK_OK(umount2(dir, 0));
}

TEST(trust_semaphore_in_hugetlbfs_rtshm_dir)
{
    need_rtshm();
    need_root();
    long free_pages = free_huge_pages();
    if (free_pages < 2)
        skip("HugePages_Free is %ld in /proc/meminfo (needs 2; vm.nr_hugepages is left alone)",
             free_pages);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", mine_in("/tmp", "huge"));
    make_dir(dir, 0, 0755);
    CHECK_CHILD(in_child(semaphore_in_hugetlbfs, dir));
    CHECK_OK(rmdir(dir));
}

/* ---------------------------------------------------------------------------------------- */
/* 6. Async-signal-safe means callable on a small alternate signal stack, first call too.    */

static const char *alt_name;
static volatile sig_atomic_t alt_ran, alt_named, alt_anon;
/* The calls the handler makes, through pointers taken beforehand: a first call through this
 * program's own lazily bound PLT would spend about 3 KiB of the stack in the dynamic linker
 * (it saves every vector register: AVX-512's take 2.7 KiB), which is this program's cost, not
 * rtshm's. (Lazy binding inside the library is the library's cost, and is counted.) */
static int (*volatile open_fn)(const char *, int, mode_t);
static int (*volatile unlink_fn)(const char *);

static void on_alt_stack_handler(int sig)
{
    (void)sig;
    int fd = open_fn(alt_name, O_RDWR | O_CREAT, 0600);
    alt_named = fd >= 0 && close(fd) == 0 && unlink_fn(alt_name) == 0;
    fd = open_fn(SHM_ANON, O_RDWR, 0600);
    alt_anon = fd >= 0 && close(fd) == 0;
    alt_ran = 1;
}

struct alt_case {
    const char *dir;
    int later; /* calls made before, outside the handler */
    const char *what;
};

static void calls_on_alt_stack(void *arg)
{
    hang_guard(CHILD_SECONDS);
    struct alt_case *c = arg;
    use_rtshm_dir(c->dir);
    alt_name = tname("alt");
    open_fn = shm_open;
    unlink_fn = shm_unlink;
    close(dup(0)); /* close's binding, as the handler uses it */
    if (c->later) {
        int fd = shm_open(alt_name, O_RDWR | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0);
        close(fd);
        CHECK_OK(shm_unlink(alt_name));
        fd = shm_open(SHM_ANON, O_RDWR, 0600);
        CHECK(fd >= 0);
        close(fd);
    }
    /* 8 KiB, and an inaccessible page below it: an overflow is a SIGSEGV, not corruption. It
     * must kill at once: a handler of SIGSEGV (ASan's) would run on the same overflowing
     * stack, fault again, and loop. */
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size = 8192;
    char *base = mmap(NULL, page + size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(base != MAP_FAILED);
    CHECK_OK(mprotect(base + page, size, PROT_READ | PROT_WRITE));
    stack_t ss = {.ss_sp = base + page, .ss_size = size, .ss_flags = 0};
    CHECK_OK(sigaltstack(&ss, NULL));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alt_stack_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
    CHECK_OK(raise(SIGUSR1));
    CHECK(alt_ran);
    if (!alt_named || !alt_anon)
        FAIL("%s, on the alternate stack: shm_open by name %s, shm_open(SHM_ANON) %s", c->what,
             alt_named ? "worked" : "failed", alt_anon ? "worked" : "failed");
}

TEST(trust_8k_alternate_stack_is_enough)
{
    need_rtshm();
    unsigned long frame = getauxval(AT_MINSIGSTKSZ);
    if (frame > 4096)
        skip("this CPU's signal frame alone takes %lu of the 8 KiB", frame);
    const char *dir = make_ns_dir();
    struct alt_case cases[] = {
        {NULL, 0, "the first call, RTSHM_DIR unset"},
        {dir, 0, "the first call, RTSHM_DIR set"},
        {NULL, 1, "a later call, RTSHM_DIR unset"},
        {dir, 1, "a later call, RTSHM_DIR set"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int status = in_child(calls_on_alt_stack, &cases[i]);
        if (WIFSIGNALED(status))
            FAIL("%s: killed by signal %d (%s) on the 8 KiB alternate stack", cases[i].what,
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
        CHECK_CHILD(status);
    }
    CHECK(entries_in(dir) == 0);
    CHECK_OK(rmdir(dir));
}
