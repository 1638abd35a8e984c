/* The demo's writer: a program linked with -lrtshm. It creates a shared memory object, writes
 * a message into it, runs the reader (given on its command line) and, once the reader is done,
 * prints the reply the reader wrote into the same memory, then removes the object. It says
 * where the object lives: /dev/shm, or the directory RTSHM_DIR names. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <rtshm.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define SIZE 4096

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s NAME READER-COMMAND...\n", argv[0]);
        return 2;
    }
    const char *name = argv[1];
    Dl_info info;
    dladdr((void *)shm_open, &info);
    printf("writer (pid %d): shm_open is from %s; objects live in %s\n", (int)getpid(),
           info.dli_fname, rtshm_dir());

    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        perror("writer: shm_open");
        return 1;
    }
    int status = 1;
    char *mem = MAP_FAILED;
    if (ftruncate(fd, SIZE) != 0 ||
        (mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        perror("writer: ftruncate/mmap");
        goto out;
    }
    close(fd);
    fd = -1;
    snprintf(mem, SIZE / 2, "hello from pid %d, linked with -lrtshm", (int)getpid());
    printf("writer: created %s (%d bytes), wrote \"%s\"\n", name, SIZE, mem);

    fflush(stdout);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ);
    if (err) {
        fprintf(stderr, "writer: starting %s: %s\n", argv[2], strerror(err));
        goto out;
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "writer: the reader failed\n");
        status = 1;
        goto out;
    }
    printf("writer: the reader replied \"%s\"\n", mem + SIZE / 2);
    status = 0;
out:
    if (mem != MAP_FAILED)
        munmap(mem, SIZE);
    if (fd >= 0)
        close(fd);
    if (shm_unlink(name) != 0) {
        perror("writer: shm_unlink");
        status = 1;
    } else {
        printf("writer: removed %s\n", name);
    }
    return status;
}
