/* A plain glibc program for interoperability tests: it includes only <sys/mman.h>, links no
 * rtshm, and refuses to run if its shm_open is not glibc's.
 *   peer create NAME TEXT   create (O_EXCL), size 4096, write TEXT
 *   peer read NAME          print the text in the object
 *   peer write NAME TEXT    write TEXT into the existing object
 *   peer unlink NAME
 *   peer sem-create NAME V  create a named semaphore (O_EXCL) with value V
 *   peer sem-post NAME      sem_post it
 *   peer sem-value NAME     print its value
 * Exit 0 on success; 1 with the errno's number on stdout ("errno N") when a call fails. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <semaphore.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE 4096

static int failed(void)
{
    printf("errno %d\n", errno);
    return 1;
}

int main(int argc, char **argv)
{
    Dl_info info;
    if (!dladdr((void *)shm_open, &info) || strncmp(basename((char *)info.dli_fname), "libc.so", 7)) {
        printf("peer: shm_open is not glibc's\n");
        return 3;
    }
    if (argc < 3)
        return 2;
    const char *cmd = argv[1], *name = argv[2];
    if (strncmp(cmd, "sem-", 4) == 0) {
        if (!dladdr((void *)sem_open, &info) || strncmp(basename((char *)info.dli_fname), "libc.so", 7)) {
            printf("peer: sem_open is not glibc's\n");
            return 3;
        }
        sem_t *sem = strcmp(cmd, "sem-create") == 0
                         ? sem_open(name, O_CREAT | O_EXCL, 0600, (unsigned)atoi(argc > 3 ? argv[3] : "0"))
                         : sem_open(name, 0);
        if (sem == SEM_FAILED)
            return failed();
        int v;
        if (strcmp(cmd, "sem-post") == 0 && sem_post(sem) != 0)
            return failed();
        if (strcmp(cmd, "sem-value") == 0) {
            if (sem_getvalue(sem, &v) != 0)
                return failed();
            printf("%d", v);
        }
        return sem_close(sem) == 0 ? 0 : failed();
    }
    if (strcmp(cmd, "unlink") == 0)
        return shm_unlink(name) == 0 ? 0 : failed();
    int create = strcmp(cmd, "create") == 0;
    int fd = shm_open(name, create ? O_RDWR | O_CREAT | O_EXCL : strcmp(cmd, "read") == 0 ? O_RDONLY : O_RDWR, 0600);
    if (fd < 0 || (create && ftruncate(fd, SIZE) != 0))
        return failed();
    int writing = strcmp(cmd, "read") != 0;
    char *mem = mmap(NULL, SIZE, writing ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED)
        return failed();
    if (writing && argc > 3)
        snprintf(mem, SIZE, "%s", argv[3]);
    else
        printf("%.*s", SIZE, mem);
    return 0;
}
