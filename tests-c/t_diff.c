/* Differential test: glibc's shm_open/shm_unlink/sem_open/sem_unlink and rtshm's, called on
 * the same inputs from the same on-disk state, must give the same result, errno, descriptor,
 * descriptor flags, fstat, semaphore address reuse, and leave the same files (with the same
 * bytes) behind; the documented deviations are checked against what docs/BEHAVIOUR.md promises
 * instead. Run as the caller (root in CI: objects are root's), from root as an unprivileged
 * uid meeting root's objects, and with rtshm in an RTSHM_DIR while glibc stays in /dev/shm:
 * the same behaviour relative to the directory. */
#define _GNU_SOURCE
#include "check.h"
#include "deviation.h"

#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <semaphore.h>
#include <sys/resource.h>
#include <sys/wait.h>

enum { GLIBC, RTSHM };
enum { OP_OPEN, OP_UNLINK, OP_SEM_OPEN, OP_SEM_UNLINK };
static const char *const op_names[] = {"shm_open", "shm_unlink", "sem_open", "sem_unlink"};

struct request {
    int impl, op, name, flags, emfile;
    mode_t mode, umask;
    unsigned value;
};

struct result {
    int ret, err, fdflags, flflags, same;
    mode_t mode;
    uid_t uid;
    gid_t gid;
    long long size;
    long nlink;
};

#define ERRNO_SENTINEL 12345

typedef sem_t *(*sem_open_fn)(const char *, int, ...);
static sem_open_fn sem_opens[2];
static int (*sem_closes[2])(sem_t *);
static int (*sem_unlinks[2])(const char *);

/* Where each implementation keeps its objects: /dev/shm, or for rtshm an RTSHM_DIR. */
static char dirs[2][512];
/* The RTSHM_DIR's own name in /dev/shm, to pass over when looking at glibc's objects. */
static const char *ns_name = "";

/* ---- the names ---- */

#define MAX_NAMES 64
static struct {
    char *name;
    const char *rest; /* the object's file name when the name is valid, else NULL */
} names[MAX_NAMES];
static int nnames;

static void add_name(const char *name, size_t len, const char *base)
{
    if (nnames == MAX_NAMES)
        FAIL("too many names");
    names[nnames].name = malloc(len + 1);
    memcpy(names[nnames].name, name, len);
    names[nnames].name[len] = 0;
    names[nnames].rest = base ? names[nnames].name + strspn(names[nnames].name, "/") : NULL;
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

/* What rtshm promises where it deviates from glibc (deviation.c), else 0. */
static int deviation(const char *name, int op)
{
    static const enum deviation_op ops[] = {[OP_OPEN] = DEV_SHM_OPEN, [OP_UNLINK] = DEV_SHM_UNLINK,
                                            [OP_SEM_OPEN] = DEV_SEM_OPEN,
                                            [OP_SEM_UNLINK] = DEV_SEM_UNLINK};
    return rtshm_deviation(name, ops[op]);
}

static int is_sem(int op) { return op == OP_SEM_OPEN || op == OP_SEM_UNLINK; }

/* ---- on-disk states ---- */

enum {
    ST_ABSENT, ST_FILE, ST_FILE_0600, ST_FILE_0400, ST_FILE_0000, ST_NOBODYS, ST_DIR,
    ST_SYMLINK, ST_DANGLING, ST_SEM, ST_EMPTY, N_STATES
};
static const char *const state_names[] = {
    "absent", "file 0644", "file 0600", "file 0400", "file 0000", "nobody's 0666 file",
    "directory", "symlink to a file", "dangling symlink", "semaphore 0600", "empty file",
};

static void make_file(const char *path, mode_t mode, uid_t owner, const void *data, size_t len)
{
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0)
        FAIL("creating %s: %s", path, strerror(errno));
    if (write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) != 0 ||
        (owner != geteuid() && fchown(fd, owner, owner) != 0))
        FAIL("setting up %s: %s", path, strerror(errno));
    close(fd);
}

static void set_state(int impl, const char *path, int state)
{
    char target[PATH_MAX + 16];
    uid_t me = geteuid();
    sem_t image;
    switch (state) {
    case ST_ABSENT:
        return;
    case ST_FILE:
        return make_file(path, 0644, me, "hello", 5);
    case ST_FILE_0600:
        return make_file(path, 0600, me, "hello", 5);
    case ST_FILE_0400:
        return make_file(path, 0400, me, "hello", 5);
    case ST_FILE_0000:
        return make_file(path, 0000, me, "hello", 5);
    case ST_NOBODYS:
        return make_file(path, 0666, NOBODY, "hello", 5);
    case ST_EMPTY:
        return make_file(path, 0644, me, "", 0);
    case ST_SEM:
        memset(&image, 0, sizeof image);
        sem_init(&image, 1, 3);
        return make_file(path, 0600, me, &image, sizeof image);
    case ST_DIR:
        if (mkdir(path, 0755) != 0)
            FAIL("mkdir %s: %s", path, strerror(errno));
        return;
    case ST_SYMLINK:
    case ST_DANGLING:
        /* The target sits beside the link under this test's names, so cleanup finds it. */
        snprintf(target, sizeof target, "%s%s.target", dirs[impl], tname("n"));
        if (state == ST_SYMLINK)
            make_file(target, 0644, me, "hello", 5);
        if (symlink(target, path) != 0)
            FAIL("symlink %s: %s", path, strerror(errno));
        return;
    }
}

/* Whether a directory entry is this test's (its objects, or its semaphores). */
static int mine(const char *entry)
{
    if (strncmp(entry, "sem.", 4) == 0)
        entry += 4;
    return strncmp(entry, test_prefix(), strlen(test_prefix())) == 0 && strcmp(entry, ns_name) != 0;
}

/* Everything this test has in an implementation's directory, one line per entry, sorted,
 * with small files' bytes: what a call left. */
static void snapshot(int impl, char *out, size_t size)
{
    struct dirent **list;
    int n = scandir(dirs[impl], &list, NULL, alphasort);
    if (n < 0)
        FAIL("scandir %s: %s", dirs[impl], strerror(errno));
    size_t used = 0, plen = strlen(test_prefix());
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        char path[PATH_MAX + 16], extra[PATH_MAX + 80] = "";
        const char *e = list[i]->d_name;
        if (mine(e)) {
            snprintf(path, sizeof path, "%s/%s", dirs[impl], e);
            if (lstat(path, &st) != 0)
                FAIL("lstat %s: %s", path, strerror(errno));
            if (S_ISLNK(st.st_mode)) {
                char link[PATH_MAX] = "";
                ssize_t l = readlink(path, link, sizeof link - 1);
                link[l > 0 ? l : 0] = 0;
                size_t dl = strlen(dirs[impl]);
                snprintf(extra, sizeof extra, " -> <dir>%s", strncmp(link, dirs[impl], dl) == 0 ? link + dl : link);
            } else if (S_ISREG(st.st_mode) && st.st_size <= 64) {
                unsigned char bytes[64];
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                ssize_t got = fd >= 0 ? read(fd, bytes, sizeof bytes) : -1;
                if (fd >= 0)
                    close(fd);
                size_t x = snprintf(extra, sizeof extra, " bytes ");
                for (ssize_t b = 0; b < got && x < sizeof extra - 3; b++)
                    x += snprintf(extra + x, sizeof extra - x, "%02x", bytes[b]);
            }
            const char *shown = strncmp(e, "sem.", 4) == 0 ? e + 4 + plen : e + plen;
            used += snprintf(out + used, size - used, "[%s%.40s mode %o uid %d gid %d size %lld links %ld%s]",
                             strncmp(e, "sem.", 4) == 0 ? "sem." : "", shown, (unsigned)st.st_mode,
                             (int)st.st_uid, (int)st.st_gid,
                             /* a link's size is its target's length, which names the directory */
                             S_ISLNK(st.st_mode) ? 0LL : (long long)st.st_size, (long)st.st_nlink, extra);
            if (used >= size)
                FAIL("snapshot too large");
        }
        free(list[i]);
    }
    free(list);
}

/* Removes this test's entries from an implementation's directory. */
static void clear(int impl)
{
    struct dirent **list;
    int n = scandir(dirs[impl], &list, NULL, NULL);
    for (int i = 0; i < n; i++) {
        if (mine(list[i]->d_name)) {
            char path[PATH_MAX + 16];
            snprintf(path, sizeof path, "%s/%s", dirs[impl], list[i]->d_name);
            if (unlink(path) != 0 && rmdir(path) != 0)
                FAIL("removing %s: %s", path, strerror(errno));
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
    sem_t *sem = SEM_FAILED;
    switch (q->op) {
    case OP_OPEN:
        r.ret = (q->impl == GLIBC ? glibc_shm_open : shm_open)(name, q->flags, q->mode);
        break;
    case OP_UNLINK:
        r.ret = (q->impl == GLIBC ? glibc_shm_unlink : shm_unlink)(name);
        break;
    case OP_SEM_OPEN:
        sem = sem_opens[q->impl](name, q->flags, q->mode, q->value);
        r.ret = sem == SEM_FAILED ? -1 : 0;
        break;
    case OP_SEM_UNLINK:
        r.ret = sem_unlinks[q->impl](name);
        break;
    }
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
            r.size = S_ISLNK(st.st_mode) ? 0 : st.st_size; /* a link's: its target's length */
            r.nlink = (long)st.st_nlink;
        } else {
            r.mode = (mode_t)-1;
        }
        close(r.ret);
    }
    if (sem != SEM_FAILED) {
        /* Opened again, the same semaphore comes back at the same address. */
        sem_t *again = sem_opens[q->impl](name, 0);
        r.same = again == sem ? 1 : again == SEM_FAILED ? -errno : 2;
        if (again != SEM_FAILED)
            sem_closes[q->impl](again);
        if (sem_closes[q->impl](sem) != 0)
            r.same = 3;
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
static const struct flag sem_flags[] = {
    {0, "0"}, F(O_CREAT), F(O_CREAT | O_EXCL), F(O_EXCL), F(O_TRUNC), F(O_CREAT | O_TRUNC),
    F(O_WRONLY | O_CREAT), F(O_DIRECTORY), F(O_NONBLOCK | O_CREAT), F(O_PATH),
    F(O_CREAT | O_DIRECTORY), F(O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW),
};
#undef F
static const mode_t create_modes[] = {0644, 0, 07777, 0xffffffff};
static const mode_t umasks[] = {022, 077};
static const unsigned sem_values[] = {0, 5, SEM_VALUE_MAX, (unsigned)SEM_VALUE_MAX + 1};

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

static int same_result(const struct result *a, const struct result *b, int op)
{
    /* glibc's sem_open leaves errno changed after some successes (ENOENT, after creating);
     * rtshm leaves it alone: errno is compared where the call failed. */
    int err_same = a->err == b->err || (op == OP_SEM_OPEN && a->ret == 0 && b->ret == 0);
    return a->ret == b->ret && err_same && a->fdflags == b->fdflags && a->same == b->same &&
           a->flflags == b->flflags && a->mode == b->mode && a->uid == b->uid &&
           a->gid == b->gid && a->size == b->size && a->nlink == b->nlink;
}

static void print_result(const char *who, const struct result *r, const char *disk)
{
    printf("  #   %-6s ret %d errno %s", who, r->ret, r->err == ERRNO_SENTINEL ? "untouched" : errname_(r->err));
    if (r->ret >= 0 && r->mode)
        printf(" FD_CLOEXEC=%d flags %#o mode %o uid %d size %lld", r->fdflags, r->flflags,
               (unsigned)r->mode, (int)r->uid, r->size);
    if (r->same)
        printf(" reopened: %s", r->same == 1 ? "same address" : r->same == 2 ? "other address" : "failed");
    printf("\n  #   %-6s left: %s\n", "", *disk ? disk : "nothing");
}


static void run_case(struct request q, int state, const char *flagname)
{
    static char disk[2][8192], before[8192];
    /* Under valgrind one case in eight, under ASan one in four: the sanitizers look for errors
     * on the code paths, which every kind of case still reaches; the three plain builds run
     * every case. */
    static unsigned long seen;
#ifdef UNDER_ASAN
    const unsigned long sample = 4;
#else
    const unsigned long sample = getenv("RTSHM_UNDER_VALGRIND") ? 8 : 1;
#endif
    if (seen++ % sample != 0)
        return;
    struct result r[2];
    const char *rest = names[q.name].rest;
    const char *nm = names[q.name].name + strspn(names[q.name].name, "/");
    int dots = strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0;
    for (int impl = GLIBC; impl <= RTSHM; impl++) {
        if (impl == GLIBC && dots && is_sem(q.op)) {
            /* glibc would make "sem.." in /dev/shm, outside this test's names. */
            r[GLIBC] = (struct result){.ret = -2};
            disk[GLIBC][0] = 0;
            continue;
        }
        if (rest) {
            char path[PATH_MAX + 16];
            snprintf(path, sizeof path, "%s/%s%s", dirs[impl], is_sem(q.op) ? "sem." : "", rest);
            set_state(impl, path, state);
        }
        if (impl == RTSHM)
            snapshot(impl, before, sizeof before);
        q.impl = impl;
        r[impl] = remote_call(&q);
        snapshot(impl, disk[impl], sizeof disk[impl]);
        clear(impl);
    }
    stats.cases++;
    const char *name = names[q.name].name;
    int dev = deviation(name, q.op);
    int good;
    if (dev) {
        stats.deviations++;
        stats.glibc_differs += !same_result(&r[GLIBC], &r[RTSHM], q.op);
        good = r[RTSHM].ret == -1 && r[RTSHM].err == dev && strcmp(before, disk[RTSHM]) == 0;
    } else {
        good = same_result(&r[GLIBC], &r[RTSHM], q.op) && strcmp(disk[GLIBC], disk[RTSHM]) == 0;
    }
    /* rtshm leaves errno alone on every success. */
    if (r[RTSHM].ret >= 0 && r[RTSHM].err != ERRNO_SENTINEL)
        good = 0;
    if (good)
        return;
    if (stats.mismatches++ < 20) {
        printf("  # DIFFERENCE: %s(%s", op_names[q.op], describe_name(name));
        if (q.op == OP_OPEN || q.op == OP_SEM_OPEN)
            printf(", %s, %#o%s) umask %03o%s", flagname, (unsigned)q.mode,
                   q.op == OP_SEM_OPEN ? (q.value > SEM_VALUE_MAX ? ", > SEM_VALUE_MAX" : ", value") : "",
                   (unsigned)q.umask, q.emfile ? " at RLIMIT_NOFILE" : "");
        else
            printf(")");
        printf(" on %s, uid %d%s\n", rest ? state_names[state] : "no object", (int)worker_uid,
               dev ? ", a documented deviation" : "");
        if (dev)
            printf("  #   wanted -1 %s and nothing changed\n", errname_(dev));
        print_result("glibc", &r[GLIBC], disk[GLIBC]);
        print_result("rtshm", &r[RTSHM], disk[RTSHM]);
    }
}

static void shm_cases(int n, int state)
{
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

static void sem_cases(int n, int state)
{
    struct request q = {.op = OP_SEM_UNLINK, .name = n, .umask = 022};
    run_case(q, state, "");
    q.op = OP_SEM_OPEN;
    for (size_t f = 0; f < sizeof sem_flags / sizeof sem_flags[0]; f++) {
        q.flags = sem_flags[f].value;
        int creating = q.flags & O_CREAT;
        for (size_t v = 0; v < (creating ? 4 : 1); v++)
            for (size_t m = 0; m < (creating ? 2 : 1); m++) {
                q.value = sem_values[v];
                q.mode = m ? 0777 : 0640;
                q.umask = m ? 077 : 022;
                run_case(q, state, sem_flags[f].name);
            }
    }
}

static void differential(int unprivileged, int in_rtshm_dir)
{
    if (!testing_rtshm())
        skip("built against the system's libc: nothing to compare");
    load_glibc();
    if (!is_rtshm((void *)shm_open) || !is_rtshm((void *)shm_unlink))
        FAIL("shm_open/shm_unlink are not rtshm's");
#ifndef UNDER_ASAN /* where ASan's sem_open wrapper stands first, passing on to rtshm's */
    if (!is_rtshm((void *)sem_open))
        FAIL("sem_open is not rtshm's");
#endif
    if (unprivileged && geteuid() != 0)
        skip("not root: cannot drop to uid %d", NOBODY);
    sem_opens[GLIBC] = (sem_open_fn)dlsym_libc("sem_open");
    sem_closes[GLIBC] = (int (*)(sem_t *))dlsym_libc("sem_close");
    sem_unlinks[GLIBC] = (int (*)(const char *))dlsym_libc("sem_unlink");
    sem_opens[RTSHM] = (sem_open_fn)sem_open;
    sem_closes[RTSHM] = sem_close;
    sem_unlinks[RTSHM] = sem_unlink;
    snprintf(dirs[GLIBC], sizeof dirs[GLIBC], "/dev/shm");
    snprintf(dirs[RTSHM], sizeof dirs[RTSHM], "/dev/shm");
    if (in_rtshm_dir) {
        /* Set before the worker's first call: rtshm reads RTSHM_DIR once, there. */
        snprintf(dirs[RTSHM], sizeof dirs[RTSHM], "%s", make_ns_dir());
        ns_name = strrchr(dirs[RTSHM], '/') + 1;
        use_rtshm_dir(dirs[RTSHM]);
    }
    make_names();
    start_worker(unprivileged);
    for (int n = 0; n < nnames; n++) {
        const char *rest = names[n].rest;
        for (int state = 0; state < (rest ? N_STATES : 1); state++) {
            if (state == ST_NOBODYS && geteuid() != 0)
                continue; /* only root can give an object away */
            shm_cases(n, state);
        }
        /* "sem." takes four bytes of the file name: longer rests cannot be set up as states. */
        int sem_states = rest && strlen(rest) + 4 <= NAME_MAX ? N_STATES : 1;
        for (int state = 0; state < sem_states; state++) {
            if (state == ST_NOBODYS && geteuid() != 0)
                continue;
            sem_cases(n, state);
        }
    }
    stop_worker();
    note("%d names: %ld cases as uid %d%s: %ld differences; %ld cases under a documented deviation, %ld "
         "of them answered differently by glibc",
         nnames, stats.cases, (int)worker_uid, in_rtshm_dir ? ", rtshm in an RTSHM_DIR" : "",
         stats.mismatches, stats.deviations, stats.glibc_differs);
    if (in_rtshm_dir && (entries_in(dirs[RTSHM]) != 0 || rmdir(dirs[RTSHM]) != 0))
        FAIL("the RTSHM_DIR was not left empty");
    if (stats.mismatches)
        FAIL("%ld difference(s) from glibc", stats.mismatches);
}

TEST(differential_as_caller) { differential(0, 0); }
TEST(differential_unprivileged) { differential(1, 0); }
TEST(differential_in_rtshm_dir) { differential(0, 1); }
TEST(differential_unprivileged_in_rtshm_dir) { differential(1, 1); }
