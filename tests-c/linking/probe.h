/* The probe's entry points (probe.c). */
#include <stdarg.h>
int rtshm_probe(const char *expect);
void *probe_sem_open(const char *name);
int probe_sem_close(void *sem);
int probe_sem_unlink(const char *name);
