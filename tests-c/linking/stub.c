/* Link-time stand-ins for old glibc's librt.so.1 (-DRT) and libpthread.so.0 (-DPTHREAD): they
 * only give old.c's references the library and version that glibc before 2.34 gave them. Never
 * run. */
#ifdef RT
int shm_open(void) { return -1; }
int shm_unlink(void) { return -1; }
#endif
#ifdef PTHREAD
int sem_open(void) { return -1; }
int sem_close(void) { return -1; }
int sem_unlink(void) { return -1; }
#endif
