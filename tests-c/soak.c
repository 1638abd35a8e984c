/* Soak: processes x threads doing random create / open / ftruncate / mmap / write / read /
 * unlink / rename / sem_open / sem_post / sem_wait / sem_close on a few names for a bounded
 * time, in an RTSHM_DIR of their own, while each process is interrupted by a signal handler
 * that itself calls shm_open, and a thread keeps forking children that call shm_open while
 * the other threads are inside it. Checks: what one mapping writes another mapping of the same
 * object reads; only the errors a race can cause; no descriptor leaks; every child and every
 * handler call succeeds; nothing is left in the directory. One more process keeps making
 * fresh processes whose threads race their first calls (when rtshm reads its settings and
 * checks RTSHM_DIR) against a fork and a signal handler: every child of such a fork must be able
 * to use every call. Usage: soak SECONDS. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <rtshm.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { PROCS = 4, THREADS = 4, NAMES = 8, SIZE = 4096 };

static double deadline;
static int proc_index;                 /* which worker process this is */
static _Thread_local int thread_index; /* which worker thread */
static atomic_long ops, bad, mismatches, forks, fork_failures;
static volatile sig_atomic_t handler_calls, handler_failures;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void name_of(char *out, size_t size, const char *kind, unsigned k)
{
    snprintf(out, size, "/soak-%s%u", kind, k);
}

static void unexpected(const char *what, int err)
{
    if (atomic_fetch_add(&bad, 1) < 10)
        fprintf(stderr, "soak: %s: %s\n", what, strerror(err));
}

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}

/* Two descriptors and two mappings of one object: what one writes, the other reads. */
static void shared_memory(unsigned *seed)
{
    char name[64];
    name_of(name, sizeof name, "shm", rand_r(seed) % NAMES);
    int a = shm_open(name, O_RDWR | O_CREAT, 0600);
    if (a < 0) {
        if (errno != ENOENT) /* a rename or unlink between two steps of another thread */
            unexpected("shm_open O_CREAT", errno);
        return;
    }
    int b = shm_open(name, O_RDWR, 0);
    struct stat sa, sb;
    if (b >= 0 && ftruncate(a, SIZE) == 0 && fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
        sa.st_ino == sb.st_ino && sa.st_size >= SIZE && sb.st_size >= SIZE) {
        long *pa = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
        long *pb = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, b, 0);
        if (pa != MAP_FAILED && pb != MAP_FAILED) {
            long token = (long)rand_r(seed) << 16 | (long)(pthread_self() & 0xffff);
            /* A slot no other thread of any process writes. */
            unsigned slot = (unsigned)(proc_index * THREADS + thread_index);
            pa[slot] = token;
            if (pb[slot] != token && atomic_fetch_add(&mismatches, 1) < 5)
                fprintf(stderr, "soak: a write through one mapping is not seen through the other\n");
        }
        if (pa != MAP_FAILED)
            munmap(pa, SIZE);
        if (pb != MAP_FAILED)
            munmap(pb, SIZE);
    } else if (b < 0 && errno != ENOENT) {
        unexpected("shm_open", errno);
    }
    close(a);
    if (b >= 0)
        close(b);
}

static void step(unsigned *seed)
{
    char name[64], other[64];
    unsigned k = rand_r(seed) % NAMES;
    switch (rand_r(seed) % 6) {
    case 0:
    case 1:
        shared_memory(seed);
        break;
    case 2:
        name_of(name, sizeof name, "shm", k);
        if (shm_unlink(name) != 0 && errno != ENOENT)
            unexpected("shm_unlink", errno);
        break;
    case 3: {
        name_of(name, sizeof name, "shm", k);
        name_of(other, sizeof other, "shm", rand_r(seed) % NAMES);
        int flags = (int)(rand_r(seed) % 3);
        if (shm_rename(name, other, flags) != 0 && errno != ENOENT && errno != EEXIST)
            unexpected("shm_rename", errno);
        break;
    }
    case 4: {
        name_of(name, sizeof name, "sem", k % 4);
        sem_t *s = sem_open(name, O_CREAT, 0600, 1);
        if (s == SEM_FAILED) {
            if (errno != ENOENT)
                unexpected("sem_open", errno);
            break;
        }
        while (sem_wait(s) != 0 && errno == EINTR)
            ;
        sem_post(s);
        if (sem_close(s) != 0)
            unexpected("sem_close", errno);
        break;
    }
    default:
        name_of(name, sizeof name, "sem", k % 4);
        if (sem_unlink(name) != 0 && errno != ENOENT)
            unexpected("sem_unlink", errno);
    }
    atomic_fetch_add(&ops, 1);
}

static void *worker(void *arg)
{
    thread_index = (int)(uintptr_t)arg - 1;
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u ^ (unsigned)getpid();
    while (now() < deadline)
        for (int i = 0; i < 64; i++)
            step(&seed);
    return NULL;
}

/* Forks while the other threads are inside shm_open: the child must be able to use it. */
static void *forker(void *arg)
{
    (void)arg;
    while (now() < deadline) {
        pid_t pid = fork();
        if (pid == 0) {
            char name[64];
            snprintf(name, sizeof name, "/soak-fork%d", (int)getpid());
            int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
            _exit(fd >= 0 && close(fd) == 0 && shm_unlink(name) == 0 ? 0 : 1);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
            atomic_fetch_add(&fork_failures, 1);
        atomic_fetch_add(&forks, 1);
        usleep(20000);
    }
    return NULL;
}

/* What a process forked in the middle of first calls must be able to do. */
static int use_everything(void)
{
    alarm(20); /* a hang is a failure, not a stuck soak */
    char name[64];
    snprintf(name, sizeof name, "/soak-first%d", (int)getpid());
    if (rtshm_dir() == NULL)
        return 1;
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || close(fd) != 0 || shm_unlink(name) != 0)
        return 2;
    sem_t *sem = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
    if (sem == SEM_FAILED || sem_close(sem) != 0 || sem_unlink(name) != 0)
        return 3;
    return 0;
}

static void *first_call(void *arg)
{
    (void)arg;
    use_everything();
    return NULL;
}

static void on_first_call_signal(int sig)
{
    (void)sig;
    int saved = errno;
    rtshm_dir(); /* a first call in a handler, interrupting one in progress */
    errno = saved;
}

/* Fresh processes, each with threads making their first calls while the main thread forks and
 * a signal arrives; returns how many of the forked children failed or hung. */
static long race_first_calls(void)
{
    long failures = 0, rounds = 0;
    signal(SIGUSR1, on_first_call_signal);
    while (now() < deadline) {
        pid_t fresh = fork();
        if (fresh == 0) {
            pthread_t t[2];
            for (int i = 0; i < 2; i++)
                pthread_create(&t[i], NULL, first_call, NULL);
            kill(getpid(), SIGUSR1);
            pid_t child = fork();
            if (child == 0)
                _exit(use_everything());
            int status, failed = waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
                                 WEXITSTATUS(status) != 0;
            for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
            _exit(failed);
        }
        int status;
        if (fresh < 0 || waitpid(fresh, &status, 0) != fresh || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failures++;
        rounds++;
    }
    printf("  # first-call racer: %ld fresh processes, %ld failed\n", rounds, failures);
    return failures;
}

/* A signal handler that calls shm_open, shm_unlink and close (all async-signal-safe),
 * interrupting whatever the threads are doing, shm_open included. */
static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    char name[32] = "/soak-sig";
    int fd = shm_open(name, O_RDWR | O_CREAT, 0600);
    if (fd < 0 || close(fd) != 0)
        handler_failures++;
    else if (shm_unlink(name) != 0 && errno != ENOENT) /* another process may have won */
        handler_failures++;
    handler_calls++;
    errno = saved;
}

static int run_worker_process(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    int fds_before = open_fds();
    struct itimerval every = {{0, 2000}, {0, 2000}};
    setitimer(ITIMER_REAL, &every, NULL);
    pthread_t t[THREADS + 1];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    pthread_create(&t[THREADS], NULL, forker, NULL);
    for (int i = 0; i <= THREADS; i++)
        pthread_join(t[i], NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    int leaked = open_fds() - fds_before;
    printf("  # process %d: %ld operations, %ld forks, %d signal handler calls\n", (int)getpid(),
           atomic_load(&ops), atomic_load(&forks), (int)handler_calls);
    int failed = 0;
    if (atomic_load(&bad)) {
        printf("  # process %d: %ld unexpected errors\n", (int)getpid(), atomic_load(&bad));
        failed |= 1;
    }
    if (atomic_load(&mismatches)) {
        printf("  # process %d: %ld mapping mismatches\n", (int)getpid(), atomic_load(&mismatches));
        failed |= 2;
    }
    if (leaked) {
        printf("  # process %d: %d descriptors leaked\n", (int)getpid(), leaked);
        failed |= 4;
    }
    if (atomic_load(&fork_failures)) {
        printf("  # process %d: %ld forked children failed\n", (int)getpid(), atomic_load(&fork_failures));
        failed |= 8;
    }
    if (handler_failures || handler_calls == 0) {
        printf("  # process %d: %d of %d handler calls failed\n", (int)getpid(), (int)handler_failures, (int)handler_calls);
        failed |= 16;
    }
    fflush(stdout);
    return failed;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 10;
    setvbuf(stdout, NULL, _IOLBF, 0);
    char dir[128];
    snprintf(dir, sizeof dir, "/dev/shm/rtshm-soak.%d", (int)getpid());
    if (mkdir(dir, 01777) != 0) {
        perror("soak: mkdir");
        return 2;
    }
    setenv("RTSHM_DIR", dir, 1); /* before any process's first call */
    printf("# soak: %d processes x %d threads (+ a forking thread, a signal every 2 ms) for %g s in %s\n",
           PROCS, THREADS, seconds, dir);
    deadline = now() + seconds;
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++)
        if ((pids[p] = fork()) == 0) {
            proc_index = p;
            _exit(run_worker_process());
        }
    pid_t racer = fork();
    if (racer == 0)
        _exit(race_first_calls() ? 32 : 0);
    int flags = 0;
    for (int p = 0; p < PROCS; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        flags |= WIFEXITED(status) ? WEXITSTATUS(status) : 64;
    }
    int racer_status;
    waitpid(racer, &racer_status, 0);
    flags |= WIFEXITED(racer_status) ? WEXITSTATUS(racer_status) : 64;
    /* What the run left is removed by name; anything else would be a leak. */
    for (unsigned k = 0; k < NAMES; k++) {
        char name[64];
        name_of(name, sizeof name, "shm", k);
        shm_unlink(name);
        name_of(name, sizeof name, "sem", k);
        sem_unlink(name);
    }
    int left = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            printf("  # left in the directory: %s\n", e->d_name);
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
            left++;
        }
    if (d)
        closedir(d);
    rmdir(dir);
    const char *checks[] = {"soak_only_race_errors", "soak_mappings_agree", "soak_no_descriptor_leak",
                            "soak_fork_during_shm_open", "soak_shm_open_in_signal_handler",
                            "soak_fork_racing_first_calls"};
    int passed = 0, failed = 0;
    for (int i = 0; i < 6; i++) {
        int ok = !(flags & (1 << i)) && !(flags & 64);
        printf("%s %s\n", ok ? "ok  " : "FAIL", checks[i]);
        ok ? passed++ : failed++;
    }
    printf("%s soak_nothing_left_in_the_namespace\n", left ? "FAIL" : "ok  ");
    left ? failed++ : passed++;
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
