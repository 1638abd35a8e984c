/* A program as glibc before 2.34 built it: linked against stand-ins for librt.so.1 and
 * libpthread.so.0 (stub.c) that define the functions at glibc's first version, so that its
 * references are shm_open@GLIBC_2.2.5 (x86_64; GLIBC_2.17 on aarch64) from librt.so.1 and
 * sem_open@... from libpthread.so.0. It runs with the real libraries (which today define the
 * versions and leave the functions to libc.so.6) and prints the object each function came
 * from, one line each. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static void show(const char *name, const void *fn)
{
    Dl_info info;
    printf("%s %s\n", name, fn && dladdr(fn, &info) && info.dli_fname ? info.dli_fname : "?");
}

int main(void)
{
    show("shm_open", (void *)shm_open);
    show("shm_unlink", (void *)shm_unlink);
    show("sem_open", (void *)sem_open);
    show("sem_close", (void *)sem_close);
    show("sem_unlink", (void *)sem_unlink);
    show("ftruncate", (void *)ftruncate); /* libc.so.6's, at the same first version */
    show("ftruncate64", (void *)ftruncate64);
    return 0;
}
