/* The demo's reader: an ordinary glibc program that knows nothing of rtshm (it includes only
 * <sys/mman.h> and links no extra library). Run under LD_PRELOAD=librtshm.so, its shm_open
 * is rtshm's. It opens the writer's object, prints the message, and writes a reply. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s NAME\n", argv[0]);
        return 2;
    }
    Dl_info info;
    dladdr((void *)shm_open, &info);
    printf("reader (pid %d): shm_open is from %s\n", (int)getpid(), info.dli_fname);

    int fd = shm_open(argv[1], O_RDWR, 0);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror("reader: shm_open");
        return 1;
    }
    char *mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (mem == MAP_FAILED) {
        perror("reader: mmap");
        return 1;
    }
    printf("reader: opened %s (%lld bytes), read \"%s\"\n", argv[1], (long long)st.st_size, mem);
    snprintf(mem + st.st_size / 2, (size_t)st.st_size / 2, "thanks, from pid %d under LD_PRELOAD",
             (int)getpid());
    munmap(mem, (size_t)st.st_size);
    return 0;
}
