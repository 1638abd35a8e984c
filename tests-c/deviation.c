/* The deviation model (deviation.h). */
#define _GNU_SOURCE
#include "deviation.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* A semaphore's file is "sem.<rest>": the prefix counts in its NAME_MAX. */
#define SEM_PREFIX_LEN 4

int rtshm_deviation(const char *name, enum deviation_op op)
{
    int sem = op == DEV_SEM_OPEN || op == DEV_SEM_UNLINK;
    int opens = op == DEV_SHM_OPEN || op == DEV_SEM_OPEN;
    size_t total = strnlen(name, PATH_MAX);
    /* docs/BEHAVIOUR.md's deviations. 4: a name of PATH_MAX bytes or more is ENAMETOOLONG, whatever is in
     * it. */
    if (total >= PATH_MAX)
        return ENAMETOOLONG;
    while (*name == '/')
        name++;
    if (!*name || strchr(name, '/'))
        return 0;
    /* 1. "." and ".." are invalid: EINVAL to open, ENOENT to remove (glibc opens the directory
     *    or its parent, or makes the files "sem.." and "sem..."). */
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return opens ? EINVAL : ENOENT;
    /* 2. A file name over NAME_MAX bytes is ENAMETOOLONG before any system call. */
    if (strlen(name) + (sem ? SEM_PREFIX_LEN : 0) > NAME_MAX)
        return ENAMETOOLONG;
    /* 5. sem_open refuses a name over NAME_MAX bytes in all (its registry's key), where glibc
     *    fails without errno after making the semaphore. */
    if (op == DEV_SEM_OPEN && total > NAME_MAX)
        return ENAMETOOLONG;
    return 0;
}
