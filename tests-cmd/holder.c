/* The test's other process: makes objects and semaphores with rtshm, holds them as asked,
 * says "ready" on standard output, and waits to be killed.
 *   shm NAME SIZE MODE open|map|close   open: keeps the descriptor; map: maps it, closes the
 *                                       descriptor and writes the first byte; close: closes it
 *   sem NAME VALUE MODE open|close      open: keeps it (sem_open maps it); close: sem_close
 * Existing objects are opened as they are. Exits 1, saying why, when a call fails. */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *what, const char *name)
{
    fprintf(stderr, "holder: %s %s: %s\n", what, name, strerror(errno));
    exit(1);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 5) {
        if (i + 4 >= argc) {
            fprintf(stderr, "holder: shm|sem NAME SIZE|VALUE MODE HOW...\n");
            return 2;
        }
        const char *name = argv[i + 1], *how = argv[i + 4];
        mode_t mode = (mode_t)strtoul(argv[i + 3], NULL, 8);
        if (strcmp(argv[i], "shm") == 0) {
            int fd = shm_open(name, O_RDWR | O_CREAT, mode);
            if (fd < 0)
                die("shm_open", name);
            off_t size = (off_t)strtoll(argv[i + 2], NULL, 10);
            if (size > 0 && ftruncate(fd, size) != 0)
                die("ftruncate", name);
            if (strcmp(how, "map") == 0) {
                char *p = mmap(NULL, size > 0 ? (size_t)size : 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (p == MAP_FAILED)
                    die("mmap", name);
                if (size > 0)
                    p[0] = 1;
            }
            if (strcmp(how, "open") != 0)
                close(fd);
        } else {
            sem_t *s = sem_open(name, O_CREAT, mode, (unsigned)strtoul(argv[i + 2], NULL, 10));
            if (s == SEM_FAILED)
                die("sem_open", name);
            if (strcmp(how, "close") == 0 && sem_close(s) != 0)
                die("sem_close", name);
        }
    }
    printf("ready\n");
    fflush(stdout);
    fclose(stdout);
    for (;;)
        pause();
}
