/* rtshm and glibc processes share objects both ways: a plain glibc program (build/peer, no
 * rtshm, no LD_PRELOAD) opens, writes and unlinks what rtshm made, and the other way round.
 * Unrelated processes (fork + exec) see each other's writes. */
#define _GNU_SOURCE
#include "check.h"

static char out[4096];

TEST(glibc_program_uses_rtshm_objects)
{
    const char *name = tname("r2g");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 4096) == 0);
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    strcpy(p, "from rtshm");
    CHECK(run_peer(out, sizeof out, "read", name, NULL) == 0);
    CHECK(strcmp(out, "from rtshm") == 0);
    CHECK(run_peer(out, sizeof out, "write", name, "from glibc", NULL) == 0);
    CHECK(strcmp(p, "from glibc") == 0); /* seen through rtshm's live mapping */
    CHECK(run_peer(out, sizeof out, "unlink", name, NULL) == 0);
    CHECK_ERR(shm_open(name, O_RDONLY, 0), ENOENT);
    munmap(p, 4096);
    close(fd);
}

TEST(rtshm_uses_glibc_program_objects)
{
    const char *name = tname("g2r");
    CHECK(run_peer(out, sizeof out, "create", name, "made by glibc", NULL) == 0);
    int fd = shm_open(name, O_RDWR, 0);
    CHECK(fd >= 0);
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    CHECK(strcmp(p, "made by glibc") == 0);
    strcpy(p, "changed by rtshm");
    CHECK(run_peer(out, sizeof out, "read", name, NULL) == 0);
    CHECK(strcmp(out, "changed by rtshm") == 0);
    CHECK_OK(shm_unlink(name));
    CHECK(run_peer(out, sizeof out, "read", name, NULL) == 1);
    CHECK(atoi(out + strlen("errno ")) == ENOENT);
    /* A glibc program's O_EXCL sees rtshm's object, and rtshm's sees glibc's. */
    CHECK(run_peer(out, sizeof out, "create", name, "again", NULL) == 0);
    CHECK_ERR(shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST);
    CHECK_OK(shm_unlink(name));
    int mine = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(mine >= 0);
    CHECK(run_peer(out, sizeof out, "create", name, "x", NULL) == 1);
    CHECK(atoi(out + strlen("errno ")) == EEXIST);
    close(mine);
    CHECK_OK(shm_unlink(name));
    munmap(p, 4096);
    close(fd);
}

TEST(same_name_forms_reach_the_same_object_across_processes)
{
    const char *name = tname("forms");
    char doubled[256];
    snprintf(doubled, sizeof doubled, "//%s", name + 1);
    int fd = shm_open(doubled, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 4096) == 0 && write(fd, "one object", 10) == 10);
    CHECK(run_peer(out, sizeof out, "read", name + 1, NULL) == 0); /* no slash at all */
    CHECK(strcmp(out, "one object") == 0);
    close(fd);
    CHECK_OK(shm_unlink(name));
}
