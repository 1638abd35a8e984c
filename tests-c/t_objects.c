/* The objects themselves: what shm_open(3), shm_overview(7) and POSIX say an object is and does.
 * docs/CONFORMANCE.md maps each statement to the tests here. */
#define _GNU_SOURCE
#include "check.h"

#include <limits.h>
#include <linux/magic.h>
#include <semaphore.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>

static long page(void) { return sysconf(_SC_PAGESIZE); }

static void fstat_or_fail(int fd, struct stat *st)
{
    if (fstat(fd, st) != 0)
        FAIL("fstat: %s", strerror(errno));
}

static int make(const char *name, mode_t mode)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        FAIL("shm_open(%s, O_RDWR|O_CREAT|O_EXCL): %s", name, errname_(errno));
    return fd;
}

TEST(creates_then_opens_existing)
{
    const char *name = tname("o");
    umask(0);
    int fd = shm_open(name, O_RDWR | O_CREAT, 0640);
    CHECK(fd >= 0);
    struct stat a, b, c;
    fstat_or_fail(fd, &a);
    CHECK(S_ISREG(a.st_mode) && (a.st_mode & 07777) == 0640 && a.st_size == 0);
    CHECK(write(fd, "data", 4) == 4);
    int again = shm_open(name, O_RDWR, 0);
    CHECK(again >= 0 && again != fd);
    fstat_or_fail(again, &b);
    CHECK(b.st_ino == a.st_ino && b.st_dev == a.st_dev);
    /* O_CREAT on an existing object opens it and changes nothing: not its mode, nor its data. */
    int third = shm_open(name, O_RDWR | O_CREAT, 0600);
    CHECK(third >= 0);
    fstat_or_fail(third, &c);
    CHECK(c.st_ino == a.st_ino && (c.st_mode & 07777) == 0640 && c.st_size == 4);
    close(fd);
    close(again);
    close(third);
    CHECK_OK(shm_unlink(name));
}

TEST(portable_names_up_to_name_max)
{
    /* "/somename": one slash, then 1 to NAME_MAX bytes, any but '/' and NUL. */
    const char *base = tname("");
    char name[NAME_MAX + 2];
    size_t lens[] = {strlen(base), strlen(base) + 1, 100, NAME_MAX};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        snprintf(name, sizeof name, "%s", base);
        memset(name + strlen(base), 'z', lens[i] + 1 - strlen(base));
        name[lens[i] + 1] = 0;
        int fd = make(name, 0600);
        close(fd);
        CHECK(access(shm_path_of(name), F_OK) == 0);
        CHECK_OK(shm_unlink(name));
    }
    /* Every byte value but '/' and NUL. */
    size_t n = strlen(base);
    memcpy(name, base, n);
    for (int c = 1; c < 256 && n < NAME_MAX; c++)
        if (c != '/')
            name[n++] = (char)c;
    name[n] = 0;
    close(make(name, 0600));
    CHECK(access(shm_path_of(name), F_OK) == 0);
    CHECK_OK(shm_unlink(name));
}

TEST(new_object_is_empty_and_zero_filled)
{
    const char *name = tname("z");
    int fd = make(name, 0600);
    struct stat st;
    fstat_or_fail(fd, &st);
    CHECK(st.st_size == 0);
    size_t size = 3 * (size_t)page() + 5;
    CHECK_OK(ftruncate(fd, (off_t)size));
    fstat_or_fail(fd, &st);
    CHECK(st.st_size == (off_t)size);
    unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    for (size_t i = 0; i < size; i++)
        if (p[i])
            FAIL("byte %zu of a new object is %d", i, p[i]);
    memset(p, 0xab, size);
    /* Shrinking and growing again: the bytes that come back are zero too. */
    CHECK_OK(ftruncate(fd, 10));
    CHECK_OK(ftruncate(fd, (off_t)size));
    CHECK(p[9] == 0xab && p[10] == 0 && p[size - 1] == 0);
    munmap(p, size);
    close(fd);
    CHECK_OK(shm_unlink(name));
}

static void setids_and_create(void *name)
{
    /* Real ids stay root; only the effective ones change. */
    if (setegid(4242) != 0 || seteuid(4343) != 0)
        FAIL("seteuid: %s", strerror(errno));
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    struct stat st;
    fstat_or_fail(fd, &st);
    CHECK(st.st_uid == 4343 && st.st_gid == 4242);
}

static void create_as_nobody(void *name)
{
    umask(022);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0666);
    CHECK(fd >= 0);
    struct stat st;
    fstat_or_fail(fd, &st);
    CHECK(st.st_uid == NOBODY && st.st_gid == NOBODY && (st.st_mode & 0777) == 0644);
}

TEST(owner_and_group_are_effective_ids)
{
    need_root();
    const char *name = tname("ids");
    CHECK_CHILD(in_child(setids_and_create, (void *)name));
    struct stat st;
    CHECK_OK(stat(shm_path_of(name), &st));
    CHECK(st.st_uid == 4343 && st.st_gid == 4242);
    CHECK_OK(shm_unlink(name));
    name = tname("nobody");
    CHECK_CHILD(as_nobody(create_as_nobody, (void *)name));
    CHECK_OK(shm_unlink(name));
}

TEST(mode_is_mode_less_umask)
{
    static const mode_t umasks[] = {0, 022, 077, 0777, 0257};
    static const mode_t modes[] = {0600, 0644, 0777, 0440, 0, 0751};
    for (size_t u = 0; u < sizeof umasks / sizeof umasks[0]; u++)
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            const char *name = tname("mode");
            umask(umasks[u]);
            int fd = make(name, modes[m]);
            struct stat st;
            fstat_or_fail(fd, &st);
            if ((st.st_mode & 0777) != (modes[m] & ~umasks[u]))
                FAIL("mode %03o under umask %03o gave %03o", (unsigned)modes[m],
                     (unsigned)umasks[u], (unsigned)(st.st_mode & 0777));
            close(fd);
            CHECK_OK(shm_unlink(name));
        }
}

TEST(fstat_reports_size_mode_owner_group)
{
    const char *name = tname("st");
    umask(022);
    int fd = make(name, 0640);
    CHECK_OK(ftruncate(fd, 12345));
    struct stat st;
    fstat_or_fail(fd, &st);
    CHECK(st.st_size == 12345 && (st.st_mode & 07777) == 0640 && S_ISREG(st.st_mode));
    CHECK(st.st_uid == geteuid() && st.st_gid == getegid());
    close(fd);
    CHECK_OK(shm_unlink(name));
}

static void open_rdwr(void *name)
{
    int fd = shm_open(name, O_RDWR, 0);
    CHECK(fd >= 0);
    CHECK(write(fd, "x", 1) == 1);
}

TEST(fchmod_and_fchown_change_the_object)
{
    need_root();
    const char *name = tname("own");
    int fd = make(name, 0600);
    CHECK_OK(fchmod(fd, 0604));
    struct stat st;
    CHECK_OK(stat(shm_path_of(name), &st));
    CHECK((st.st_mode & 07777) == 0604);
    CHECK_OK(fchown(fd, NOBODY, NOBODY));
    fstat_or_fail(fd, &st);
    CHECK(st.st_uid == NOBODY && st.st_gid == NOBODY);
    /* The new owner's permissions now apply. */
    CHECK_CHILD(as_nobody(open_rdwr, (void *)name));
    close(fd);
    CHECK_OK(shm_unlink(name));
}

TEST(descriptor_has_fd_cloexec_and_exec_closes_it)
{
    const char *name = tname("cx");
    int fd = make(name, 0600);
    CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
    int ro = shm_open(name, O_RDONLY, 0);
    CHECK(ro >= 0 && fcntl(ro, F_GETFD) == FD_CLOEXEC);
    char script[128];
    snprintf(script, sizeof script, "[ ! -e /proc/$$/fd/%d ] && [ ! -e /proc/$$/fd/%d ]", fd, ro);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_CHILD(status);
    close(fd);
    close(ro);
    CHECK_OK(shm_unlink(name));
}

TEST(each_open_is_a_new_open_file_description)
{
    const char *name = tname("ofd");
    int a = make(name, 0600);
    CHECK(write(a, "0123456789", 10) == 10);
    int b = shm_open(name, O_RDWR, 0);
    CHECK(b >= 0);
    CHECK(lseek(a, 0, SEEK_CUR) == 10 && lseek(b, 0, SEEK_CUR) == 0);
    CHECK_OK(fcntl(b, F_SETFL, O_APPEND));
    CHECK((fcntl(a, F_GETFL) & O_APPEND) == 0);
    close(a);
    close(b);
    CHECK_OK(shm_unlink(name));
}

TEST(closing_the_descriptor_keeps_the_mapping)
{
    const char *name = tname("keep");
    int fd = make(name, 0600);
    CHECK_OK(ftruncate(fd, page()));
    char *p = mmap(NULL, (size_t)page(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    CHECK_OK(close(fd));
    strcpy(p, "after close");
    int again = shm_open(name, O_RDONLY, 0);
    CHECK(again >= 0);
    char buf[16] = "";
    CHECK(pread(again, buf, 11, 0) == 11 && memcmp(buf, "after close", 11) == 0);
    close(again);
    munmap(p, (size_t)page());
    CHECK_OK(shm_unlink(name));
}

TEST(o_rdonly_maps_only_for_reading)
{
    const char *name = tname("ro");
    int fd = make(name, 0600);
    CHECK_OK(ftruncate(fd, page()));
    CHECK(write(fd, "seen", 4) == 4);
    int ro = shm_open(name, O_RDONLY, 0);
    CHECK(ro >= 0);
    size_t n = (size_t)page();
    char *r = mmap(NULL, n, PROT_READ, MAP_SHARED, ro, 0);
    CHECK(r != MAP_FAILED && memcmp(r, "seen", 4) == 0);
    CHECK(mmap(NULL, n, PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED && errno == EACCES);
    CHECK(mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED && errno == EACCES);
    CHECK_ERR(mprotect(r, n, PROT_READ | PROT_WRITE), EACCES);
    CHECK_ERR(write(ro, "x", 1), EBADF);
    CHECK(ftruncate(ro, 0) == -1 && (errno == EINVAL || errno == EBADF));
    /* A private copy may be written; the object is not. */
    char *priv = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
    CHECK(priv != MAP_FAILED);
    priv[0] = 'S';
    CHECK(r[0] == 's');
    munmap(priv, n);
    munmap(r, n);
    close(ro);
    close(fd);
    CHECK_OK(shm_unlink(name));
}

TEST(o_rdwr_maps_for_reading_and_writing)
{
    const char *name = tname("rw");
    int fd = make(name, 0600);
    CHECK_OK(ftruncate(fd, page()));
    char *p = mmap(NULL, (size_t)page(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    strcpy(p, "via mapping");
    char buf[12] = "";
    CHECK(pread(fd, buf, 11, 0) == 11 && strcmp(buf, "via mapping") == 0);
    munmap(p, (size_t)page());
    close(fd);
    CHECK_OK(shm_unlink(name));
}

TEST(o_trunc_truncates_keeping_mode_and_owner)
{
    const char *name = tname("tr");
    int fd = make(name, 0640);
    CHECK_OK(fchmod(fd, 0640));
    CHECK_OK(ftruncate(fd, 8192));
    if (geteuid() == 0)
        CHECK_OK(fchown(fd, NOBODY, NOBODY));
    struct stat before, st;
    fstat_or_fail(fd, &before);
    int t = shm_open(name, O_RDWR | O_TRUNC, 0600);
    CHECK(t >= 0);
    fstat_or_fail(t, &st);
    CHECK(st.st_size == 0 && st.st_mode == before.st_mode && st.st_uid == before.st_uid &&
          st.st_gid == before.st_gid && st.st_ino == before.st_ino);
    close(t);
    /* Linux truncates with O_RDONLY too (POSIX leaves it unspecified). */
    CHECK_OK(ftruncate(fd, 100));
    t = shm_open(name, O_RDONLY | O_TRUNC, 0);
    CHECK(t >= 0);
    fstat_or_fail(fd, &st);
    CHECK(st.st_size == 0);
    close(t);
    close(fd);
    CHECK_OK(shm_unlink(name));
}

TEST(o_excl_fails_on_an_existing_object_and_leaves_it)
{
    const char *name = tname("ex");
    int fd = make(name, 0600);
    CHECK(write(fd, "mine", 4) == 4);
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0666), EEXIST);
    CHECK_ERR(shm_open(name, O_RDONLY | O_CREAT | O_EXCL | O_TRUNC, 0666), EEXIST);
    struct stat st;
    fstat_or_fail(fd, &st);
    CHECK(st.st_size == 4 && (st.st_mode & 0777) == 0600);
    close(fd);
    CHECK_OK(shm_unlink(name));
}

static void create_and_exit(void *name)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 4096) == 0);
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    strcpy(p, "outlives its maker");
    _exit(0); /* no unmap, no close, no unlink */
}

TEST(kernel_persistence)
{
    const char *name = tname("kp");
    CHECK_CHILD(in_child(create_and_exit, (void *)name));
    int fd = shm_open(name, O_RDONLY, 0);
    CHECK(fd >= 0);
    char buf[19] = "";
    CHECK(pread(fd, buf, 18, 0) == 18 && strcmp(buf, "outlives its maker") == 0);
    close(fd);
    CHECK_OK(shm_unlink(name));
}

TEST(unlink_removes_the_name_not_the_memory)
{
    const char *name = tname("ul");
    int fd = make(name, 0600);
    CHECK_OK(ftruncate(fd, page()));
    char *p = mmap(NULL, (size_t)page(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    strcpy(p, "old");
    struct stat old, st;
    fstat_or_fail(fd, &old);
    CHECK_OK(shm_unlink(name));
    /* The name is gone before shm_unlink returns... */
    CHECK(access(shm_path_of(name), F_OK) == -1 && errno == ENOENT);
    CHECK_ERR(shm_open(name, O_RDWR, 0), ENOENT);
    CHECK_ERR(shm_unlink(name), ENOENT);
    /* ...the memory stays for its mappings and descriptors... */
    strcat(p, " and still here");
    char buf[32] = "";
    CHECK(pread(fd, buf, sizeof buf - 1, 0) > 0 && strcmp(buf, "old and still here") == 0);
    /* ...and O_CREAT makes a new, distinct object. */
    int fresh = shm_open(name, O_RDWR | O_CREAT, 0600);
    CHECK(fresh >= 0);
    fstat_or_fail(fresh, &st);
    CHECK(st.st_ino != old.st_ino && st.st_size == 0);
    CHECK(strcmp(p, "old and still here") == 0);
    close(fresh);
    munmap(p, (size_t)page());
    close(fd);
    CHECK_OK(shm_unlink(name));
}

static unsigned long long free_bytes(void)
{
    struct statvfs v;
    if (statvfs("/dev/shm", &v) != 0)
        FAIL("statvfs /dev/shm: %s", strerror(errno));
    return (unsigned long long)v.f_bfree * v.f_frsize;
}

TEST(memory_is_freed_when_the_last_reference_goes)
{
    const size_t size = 64 << 20;
    const char *name = tname("free");
    int fd = make(name, 0600);
    CHECK_OK(ftruncate(fd, (off_t)size));
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    memset(p, 1, size);
    close(fd);
    unsigned long long used = free_bytes();
    CHECK_OK(shm_unlink(name));
    /* Unlinked but mapped: the pages are still there. */
    CHECK(free_bytes() < used + size / 2);
    CHECK(p[size - 1] == 1);
    munmap(p, size);
    /* The last reference gone, the space comes back (allowing for others' use). */
    CHECK(free_bytes() >= used + size / 2);
}

TEST(objects_live_in_tmpfs_under_dev_shm)
{
    const char *name = tname("fs");
    int fd = make(name, 0600);
    struct stat a, b;
    fstat_or_fail(fd, &a);
    CHECK_OK(lstat(shm_path_of(name), &b));
    CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    struct statfs fs;
    CHECK_OK(fstatfs(fd, &fs));
    CHECK(fs.f_type == TMPFS_MAGIC);
    close(fd);
    CHECK_OK(shm_unlink(name));
}

static void open_rdwr_fails_eacces(void *name)
{
    CHECK_ERR(shm_open(name, O_RDWR, 0), EACCES);
}

TEST(acl_grants_access)
{
    need_root();
    const char *name = tname("acl");
    int fd = make(name, 0600);
    CHECK_CHILD(as_nobody(open_rdwr_fails_eacces, (void *)name));
    /* system.posix_acl_access: version 2, then {tag, perm, id} entries in tag order. */
    struct { unsigned int version; struct { unsigned short tag, perm; unsigned int id; } e[5]; }
    acl = {2, {{0x01, 6, ~0u}, {0x02, 6, NOBODY}, {0x04, 0, ~0u}, {0x10, 6, ~0u}, {0x20, 0, ~0u}}};
    if (fsetxattr(fd, "system.posix_acl_access", &acl, sizeof acl, 0) != 0) {
        int err = errno;
        close(fd);
        shm_unlink(name);
        skip("this tmpfs has no POSIX ACLs: %s", strerror(err));
    }
    CHECK_CHILD(as_nobody(open_rdwr, (void *)name));
    close(fd);
    CHECK_OK(shm_unlink(name));
}

TEST(process_shared_semaphore_synchronizes_access)
{
    const char *name = tname("sem");
    struct shared { sem_t ready; char text[64]; };
    int fd = make(name, 0600);
    CHECK_OK(ftruncate(fd, sizeof(struct shared)));
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(s != MAP_FAILED);
    CHECK_OK(sem_init(&s->ready, 1, 0));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int cfd = shm_open(name, O_RDWR, 0);
        struct shared *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
        if (cfd < 0 || c == MAP_FAILED)
            _exit(1);
        usleep(20000);
        strcpy(c->text, "posted");
        sem_post(&c->ready);
        _exit(0);
    }
    CHECK_OK(sem_wait(&s->ready));
    CHECK(strcmp(s->text, "posted") == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_CHILD(status);
    sem_destroy(&s->ready);
    munmap(s, sizeof *s);
    close(fd);
    CHECK_OK(shm_unlink(name));
}
