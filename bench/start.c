/* Start-up by how a program links rtshm (make bench): a program that makes one call, linked
 * with -lrt (glibc's shm_unlink; no library is added since glibc 2.34), -lrtshm (librtshm.so)
 * or librtshm.a. */
#include <sys/mman.h>

int main(void)
{
    return shm_unlink("/rtshm-bench-start-none") == 0;
}
