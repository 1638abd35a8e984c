/* What rtshm promises where it deviates from glibc (docs/BEHAVIOUR.md, "Deviations"): one model, which
 * the differential test (t_diff.c) and the differential fuzzer (fuzz/, whose build.rs compiles
 * deviation.c) both read. */
#ifndef RTSHM_DEVIATION_H
#define RTSHM_DEVIATION_H

enum deviation_op { DEV_SHM_OPEN, DEV_SHM_UNLINK, DEV_SEM_OPEN, DEV_SEM_UNLINK };

/* The errno rtshm answers for `name` where it deviates from glibc, else 0. */
int rtshm_deviation(const char *name, enum deviation_op op);

#endif
