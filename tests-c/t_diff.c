/* Differential test: glibc's shm_open/shm_unlink and rtshm's, called on the same inputs from
 * the same on-disk state, must give the same result, errno, descriptor, descriptor flags,
 * fstat and leave the same things in /dev/shm; the four documented deviations are checked
 * against what the README promises instead. Run as the caller (root in CI: objects are
 * root's) and, from root, as an unprivileged uid meeting root's objects. */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/wait.h>

enum { GLIBC, RTSHM };
enum { OP_OPEN, OP_UNLINK };

struct request {
    int impl, op, name, flags, emfile;
    mode_t mode, umask;
};

struct result {
    int ret, err, fdflags, flflags;
    mode_t mode;
    uid_t uid;
    gid_t gid;
    long long size;
    long nlink;
};

#define ERRNO_SENTINEL 12345

/* ---- the names ---- */

#define MAX_NAMES 64
static struct {
    char *name;
    char base[PATH_MAX]; /* the object's path when the name is valid, else "" */
} names[MAX_NAMES];
static int nnames;

static void add_name(const char *name, size_t len, const char *base)
{
    if (nnames == MAX_NAMES)
        FAIL("too many names");
    names[nnames].name = malloc(len + 1);
    memcpy(names[nnames].name, name, len);
    names[nnames].name[len] = 0;
    snprintf(names[nnames].base, PATH_MAX, "%s%s", base ? "/dev/shm/" : "", base ? base : "");
    nnames++;
}

/* `slashes` slashes, then `rest`, padded with 'p' to `len` bytes after the slashes when len is
 * larger. */
static void add_padded(int slashes, const char *rest, size_t len, int valid)
{
    size_t rlen = strlen(rest) > len ? strlen(rest) : len;
    char *n = malloc(slashes + rlen + 1);
    memset(n, '/', slashes);
    memcpy(n + slashes, rest, strlen(rest));
    memset(n + slashes + strlen(rest), 'p', rlen - strlen(rest));
    n[slashes + rlen] = 0;
    add_name(n, slashes + rlen, valid ? n + slashes : NULL);
    free(n);
}

static void make_names(void)
{
    const char *b = tname("n") + 1; /* without its slash */
    char buf[512];
    /* Valid forms of one name, and of the longest rest (255 bytes). */
    snprintf(buf, sizeof buf, "/%s", b);
    add_name(buf, strlen(buf), b);
    add_name(b, strlen(b), b);
    snprintf(buf, sizeof buf, "//%s", b);
    add_name(buf, strlen(buf), b);
    snprintf(buf, sizeof buf, "////////%s", b);
    add_name(buf, strlen(buf), b);
    add_padded(1, b, NAME_MAX, 1);
    add_padded(3, b, NAME_MAX, 1);
    snprintf(buf, sizeof buf, "/%s\xff\xfe\x01 \t\n*?", b);
    add_name(buf, strlen(buf), buf + 1);
    add_padded(PATH_MAX - 1 - strlen(b), b, 0, 1); /* PATH_MAX - 1 bytes in all */
    /* Invalid forms: empty, slashes inside, dots, too long. */
    add_name("", 0, NULL);
    add_name("/", 1, NULL);
    add_name("//", 2, NULL);
    snprintf(buf, sizeof buf, "/%s/", b);
    add_name(buf, strlen(buf), NULL);
    snprintf(buf, sizeof buf, "/%s/x", b);
    add_name(buf, strlen(buf), NULL);
    snprintf(buf, sizeof buf, "%s//x", b);
    add_name(buf, strlen(buf), NULL);
    static const char *const dots[] = {".", "..", "/.", "/..", "///..", "./", "../x"};
    for (size_t i = 0; i < sizeof dots / sizeof dots[0]; i++)
        add_name(dots[i], strlen(dots[i]), NULL);
    snprintf(buf, sizeof buf, "/%s..", b); /* dots are ordinary bytes in a longer name */
    add_name(buf, strlen(buf), buf + 1);
    static const size_t long_rests[] = {256, 257, 259, 260, 261, 270, 300, 1000, 4000};
    for (size_t i = 0; i < sizeof long_rests / sizeof long_rests[0]; i++)
        add_padded(1, b, long_rests[i], 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/", b);
    add_padded(1, inner, 300, 0);         /* a slash inside a long rest */
    add_padded(1, b, PATH_MAX - 1, 0);    /* PATH_MAX bytes in all */
    add_padded(1, inner, PATH_MAX - 1, 0);
    add_padded(PATH_MAX - strlen(b), b, 0, 0); /* PATH_MAX bytes, a short rest */
    add_padded(PATH_MAX, b, 0, 0);
    add_padded(1, b, 1 << 20, 0);
}

/* What rtshm promises where it deviates from glibc (README, "Deviations"), else 0. */
static int deviation(const char *name, int op)
{
    if (strnlen(name, PATH_MAX) >= PATH_MAX)
        return ENAMETOOLONG;
    while (*name == '/')
        name++;
    if (!*name || strchr(name, '/'))
        return 0;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return op == OP_OPEN ? EINVAL : ENOENT;
    if (strlen(name) > NAME_MAX)
        return ENAMETOOLONG;
    return 0;
}

/* ---- on-disk states ---- */

enum {
    ST_ABSENT, ST_FILE, ST_FILE_0600, ST_FILE_0400, ST_FILE_0000, ST_NOBODYS, ST_DIR,
    ST_SYMLINK, ST_DANGLING, N_STATES
};
static const char *const state_names[] = {
    "absent", "file 0644", "file 0600", "file 0400", "file 0000", "nobody's 0666 file",
    "directory", "symlink to a file", "dangling symlink",
};

static void make_file(const char *path, mode_t mode, uid_t owner)
{
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0)
        FAIL("creating %s: %s", path, strerror(errno));
    if (write(fd, "hello", 5) != 5 || fchmod(fd, mode) != 0 ||
        (owner != geteuid() && fchown(fd, owner, owner) != 0))
        FAIL("setting up %s: %s", path, strerror(errno));
    close(fd);
}

static void set_state(const char *path, int state)
{
    char target[PATH_MAX + 16];
    switch (state) {
    case ST_ABSENT:
        return;
    case ST_FILE:
        return make_file(path, 0644, geteuid());
    case ST_FILE_0600:
        return make_file(path, 0600, geteuid());
    case ST_FILE_0400:
        return make_file(path, 0400, geteuid());
    case ST_FILE_0000:
        return make_file(path, 0000, geteuid());
    case ST_NOBODYS:
        return make_file(path, 0666, NOBODY);
    case ST_DIR:
        if (mkdir(path, 0755) != 0)
            FAIL("mkdir %s: %s", path, strerror(errno));
        return;
    case ST_SYMLINK:
    case ST_DANGLING:
        /* The target sits beside the link under this test's names, so cleanup finds it. */
        snprintf(target, sizeof target, "/dev/shm%s.target", tname("n"));
        if (state == ST_SYMLINK)
            make_file(target, 0644, geteuid());
        if (symlink(target, path) != 0)
            FAIL("symlink %s: %s", path, strerror(errno));
        return;
    }
}

/* Everything this test has in /dev/shm, one line per entry, sorted: what a call left. */
static void snapshot(char *out, size_t size)
{
    const char *mine = test_prefix();
    struct dirent **list;
    int n = scandir("/dev/shm", &list, NULL, alphasort);
    if (n < 0)
        FAIL("scandir /dev/shm: %s", strerror(errno));
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        char path[PATH_MAX + 16], link[64] = "";
        if (strncmp(list[i]->d_name, mine, strlen(mine)) == 0) {
            snprintf(path, sizeof path, "/dev/shm/%s", list[i]->d_name);
            if (lstat(path, &st) != 0)
                FAIL("lstat %s: %s", path, strerror(errno));
            if (S_ISLNK(st.st_mode)) {
                ssize_t l = readlink(path, link, sizeof link - 1);
                link[l > 0 ? l : 0] = 0;
            }
            used += snprintf(out + used, size - used, "[%.40s mode %o uid %d gid %d size %lld links %ld%s%s]",
                             list[i]->d_name + strlen(mine), (unsigned)st.st_mode,
                             (int)st.st_uid, (int)st.st_gid, (long long)st.st_size,
                             (long)st.st_nlink, *link ? " -> " : "", link);
            if (used >= size)
                FAIL("snapshot too large");
        }
        free(list[i]);
    }
    free(list);
}

/* ---- the worker: makes the calls, as root or as nobody ---- */

static int lowest_free_fd(void)
{
    int fd = dup(0);
    close(fd);
    return fd;
}

static struct result call(const struct request *q)
{
    struct result r = {0};
    const char *name = names[q->name].name;
    struct rlimit saved, lim;
    umask(q->umask);
    if (q->emfile) {
        getrlimit(RLIMIT_NOFILE, &saved);
        lim = saved;
        lim.rlim_cur = lowest_free_fd();
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    errno = ERRNO_SENTINEL;
    if (q->op == OP_OPEN)
        r.ret = (q->impl == GLIBC ? glibc_shm_open : shm_open)(name, q->flags, q->mode);
    else
        r.ret = (q->impl == GLIBC ? glibc_shm_unlink : shm_unlink)(name);
    r.err = errno;
    if (q->emfile)
        setrlimit(RLIMIT_NOFILE, &saved);
    if (q->op == OP_OPEN && r.ret >= 0) {
        struct stat st;
        r.fdflags = fcntl(r.ret, F_GETFD);
        r.flflags = fcntl(r.ret, F_GETFL);
        if (fstat(r.ret, &st) == 0) {
            r.mode = st.st_mode;
            r.uid = st.st_uid;
            r.gid = st.st_gid;
            r.size = st.st_size;
            r.nlink = (long)st.st_nlink;
        } else {
            r.mode = (mode_t)-1;
        }
        close(r.ret);
    }
    return r;
}

static void full_io(int fd, void *buf, size_t len, int writing)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = writing ? write(fd, (char *)buf + done, len - done)
                            : read(fd, (char *)buf + done, len - done);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (!writing && n == 0 && done == 0)
                _exit(0); /* the other side has finished */
            FAIL("pipe %s: %s", writing ? "write" : "read", n ? strerror(errno) : "EOF");
        }
        done += (size_t)n;
    }
}

static int to_worker = -1, from_worker = -1;
static pid_t worker_pid;
static uid_t worker_uid;

static void serve(int in, int out)
{
    for (;;) {
        struct request q;
        full_io(in, &q, sizeof q, 0);
        struct result r = call(&q);
        full_io(out, &r, sizeof r, 1);
    }
}

static void start_worker(int unprivileged)
{
    int down[2], up[2];
    if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0)
        FAIL("pipe: %s", strerror(errno));
    fflush(stdout);
    worker_pid = fork();
    if (worker_pid < 0)
        FAIL("fork: %s", strerror(errno));
    if (worker_pid == 0) {
        close(down[1]);
        close(up[0]);
        if (unprivileged && (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0))
            FAIL("dropping to uid %d: %s", NOBODY, strerror(errno));
        serve(down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);
    worker_uid = unprivileged ? NOBODY : geteuid();
    to_worker = down[1];
    from_worker = up[0];
}

static void stop_worker(void)
{
    close(to_worker);
    close(from_worker);
    int status;
    waitpid(worker_pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL("the worker failed (status %#x)", status);
}

static struct result remote_call(const struct request *q)
{
    struct result r;
    full_io(to_worker, (void *)q, sizeof *q, 1);
    full_io(from_worker, &r, sizeof r, 0);
    return r;
}

/* ---- comparing ---- */

struct flag { int value; const char *name; };
#define F(x) {x, #x}
static const struct flag accmodes[] = {F(O_RDONLY), F(O_WRONLY), F(O_RDWR), F(O_ACCMODE)};
static const struct flag extras[] = {
    {0, "0"}, F(O_CREAT), F(O_CREAT | O_EXCL), F(O_EXCL), F(O_TRUNC), F(O_CREAT | O_TRUNC),
    F(O_CREAT | O_EXCL | O_TRUNC), F(O_APPEND), F(O_NONBLOCK), F(O_DIRECTORY), F(O_NOFOLLOW),
    F(O_CLOEXEC), F(O_SYNC), F(O_DSYNC), F(O_NOCTTY), F(O_NOATIME), F(O_PATH), F(O_TMPFILE),
    F(O_DIRECT), F(O_ASYNC), F(O_CREAT | O_DIRECTORY), F(0x40000000), F(INT_MIN),
};
#undef F
static const mode_t create_modes[] = {0644, 0, 07777, 0xffffffff};
static const mode_t umasks[] = {022, 077};

static struct {
    long cases, deviations, glibc_differs, mismatches;
} stats;

static const char *describe_name(const char *name)
{
    static char out[128];
    size_t len = strlen(name), o = 0;
    o += snprintf(out, sizeof out, "%zu bytes \"", len);
    for (size_t i = 0; i < len && o < sizeof out - 12; i++) {
        unsigned char c = (unsigned char)name[i];
        o += snprintf(out + o, sizeof out - o, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
        if (i == 24 && len > 48) {
            o += snprintf(out + o, sizeof out - o, "...");
            i = len - 16;
        }
    }
    snprintf(out + o, sizeof out - o, "\"");
    return out;
}

static int same_result(const struct result *a, const struct result *b)
{
    return a->ret == b->ret && a->err == b->err && a->fdflags == b->fdflags &&
           a->flflags == b->flflags && a->mode == b->mode && a->uid == b->uid &&
           a->gid == b->gid && a->size == b->size && a->nlink == b->nlink;
}

static void print_result(const char *who, const struct result *r, const char *disk)
{
    printf("  #   %-6s ret %d errno %s", who, r->ret, r->err == ERRNO_SENTINEL ? "untouched" : errname_(r->err));
    if (r->ret >= 0 && r->mode)
        printf(" FD_CLOEXEC=%d flags %#o mode %o uid %d size %lld", r->fdflags, r->flflags,
               (unsigned)r->mode, (int)r->uid, r->size);
    printf("\n  #   %-6s left: %s\n", "", *disk ? disk : "nothing");
}

static void run_case(struct request q, int state, const char *flagname)
{
    static char disk[2][8192];
    struct result r[2];
    const char *base = names[q.name].base;
    for (int impl = GLIBC; impl <= RTSHM; impl++) {
        if (*base)
            set_state(base, state);
        q.impl = impl;
        r[impl] = remote_call(&q);
        snapshot(disk[impl], sizeof disk[impl]);
        remove_objects();
    }
    stats.cases++;
    int dev = deviation(names[q.name].name, q.op);
    int good;
    if (dev) {
        stats.deviations++;
        stats.glibc_differs += !same_result(&r[GLIBC], &r[RTSHM]);
        good = r[RTSHM].ret == -1 && r[RTSHM].err == dev && !*disk[RTSHM];
    } else {
        good = same_result(&r[GLIBC], &r[RTSHM]) && strcmp(disk[GLIBC], disk[RTSHM]) == 0;
    }
    if (good)
        return;
    if (stats.mismatches++ < 20) {
        printf("  # DIFFERENCE: %s(%s", q.op == OP_OPEN ? "shm_open" : "shm_unlink",
               describe_name(names[q.name].name));
        if (q.op == OP_OPEN)
            printf(", %s, %#o) umask %03o%s", flagname, (unsigned)q.mode, (unsigned)q.umask,
                   q.emfile ? " at RLIMIT_NOFILE" : "");
        else
            printf(")");
        printf(" on %s, uid %d%s\n", *base ? state_names[state] : "no object", (int)worker_uid,
               dev ? ", a documented deviation" : "");
        if (dev)
            printf("  #   wanted -1 %s and nothing left\n", errname_(dev));
        print_result("glibc", &r[GLIBC], disk[GLIBC]);
        print_result("rtshm", &r[RTSHM], disk[RTSHM]);
    }
}

static void differential(int unprivileged)
{
    if (!testing_rtshm())
        skip("built against the system's libc: nothing to compare");
    load_glibc();
    if (!is_rtshm((void *)shm_open) || !is_rtshm((void *)shm_unlink))
        FAIL("shm_open/shm_unlink are not rtshm's");
    if (unprivileged && geteuid() != 0)
        skip("not root: cannot drop to uid %d", NOBODY);
    make_names();
    start_worker(unprivileged);
    for (int n = 0; n < nnames; n++) {
        int nstates = *names[n].base ? N_STATES : 1;
        for (int state = 0; state < nstates; state++) {
            if (state == ST_NOBODYS && geteuid() != 0)
                continue; /* only root can give an object away */
            struct request q = {.op = OP_UNLINK, .name = n, .umask = 022};
            run_case(q, state, "");
            q.op = OP_OPEN;
            for (size_t a = 0; a < sizeof accmodes / sizeof accmodes[0]; a++)
                for (size_t e = 0; e < sizeof extras / sizeof extras[0]; e++) {
                    char flagname[96];
                    snprintf(flagname, sizeof flagname, "%s|%s", accmodes[a].name, extras[e].name);
                    q.flags = accmodes[a].value | extras[e].value;
                    int creating = (q.flags & O_CREAT) || (q.flags & O_TMPFILE) == O_TMPFILE;
                    for (size_t m = 0; m < (creating ? 4 : 1); m++)
                        for (size_t u = 0; u < (creating ? 2 : 1); u++) {
                            q.mode = creating ? create_modes[m] : 0644;
                            q.umask = umasks[u];
                            q.emfile = 0;
                            run_case(q, state, flagname);
                            if (m == 0 && u == 0 && (q.flags == O_RDWR || q.flags == (O_RDWR | O_CREAT))) {
                                q.emfile = 1;
                                run_case(q, state, flagname);
                            }
                        }
                }
        }
    }
    stop_worker();
    note("%d names, %d flag sets: %ld cases as uid %d: %ld differences; %ld cases under a documented deviation, %ld "
         "of them answered differently by glibc",
         nnames, (int)(sizeof accmodes / sizeof accmodes[0] * (sizeof extras / sizeof extras[0])),
         stats.cases, (int)worker_uid, stats.mismatches,
         stats.deviations, stats.glibc_differs);
    if (stats.mismatches)
        FAIL("%ld difference(s) from glibc", stats.mismatches);
}

TEST(differential_as_caller) { differential(0); }
TEST(differential_unprivileged) { differential(1); }
