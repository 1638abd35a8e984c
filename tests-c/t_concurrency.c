/* Threads in several processes at once: O_CREAT|O_EXCL has exactly one winner per name, and
 * concurrent create/open/unlink of the same names neither corrupts nor leaks anything. */
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define PROCS 4
#define THREADS 6
#define NAMES 48

struct board {
    atomic_int go, ready;
    atomic_int wins[NAMES], creates[NAMES], unlinks[NAMES];
    atomic_int bad_errno, last_bad;
};

static struct board *board;
static char names[NAMES][128];

static struct board *new_board(void)
{
    struct board *b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(b != MAP_FAILED);
    for (int k = 0; k < NAMES; k++)
        snprintf(names[k], sizeof names[k], "%s%02d", tname("c"), k);
    return b;
}

static void bad(int err)
{
    atomic_fetch_add(&board->bad_errno, 1);
    atomic_store(&board->last_bad, err);
}

static void wait_for_go(void)
{
    atomic_fetch_add(&board->ready, 1);
    while (!atomic_load(&board->go))
        sched_yield();
}

static void *race_to_create(void *arg)
{
    int id = (int)(long)arg;
    wait_for_go();
    for (int i = 0; i < NAMES; i++) {
        int k = (i + id * 7) % NAMES;
        int fd = shm_open(names[k], O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            atomic_fetch_add(&board->wins[k], 1);
            close(fd);
        } else if (errno != EEXIST) {
            bad(errno);
        }
    }
    return NULL;
}

static unsigned next_random(unsigned *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void *churn(void *arg)
{
    unsigned seed = 2463534242u + (unsigned)(long)arg * 977u;
    wait_for_go();
    for (int i = 0; i < 1500; i++) {
        int k = (int)(next_random(&seed) % 8); /* few names: many collisions */
        int fd;
        switch (next_random(&seed) % 3) {
        case 0:
            fd = shm_open(names[k], O_RDWR | O_CREAT | O_EXCL, 0600);
            if (fd >= 0) {
                atomic_fetch_add(&board->creates[k], 1);
                /* a fresh object is empty, whoever else is at work */
                struct stat st;
                if (fstat(fd, &st) != 0 || st.st_size != 0)
                    bad(-1);
                close(fd);
            } else if (errno != EEXIST) {
                bad(errno);
            }
            break;
        case 1:
            if (shm_unlink(names[k]) == 0)
                atomic_fetch_add(&board->unlinks[k], 1);
            else if (errno != ENOENT)
                bad(errno);
            break;
        default:
            fd = shm_open(names[k], O_RDONLY, 0);
            if (fd >= 0)
                close(fd);
            else if (errno != ENOENT)
                bad(errno);
        }
    }
    return NULL;
}

static void run_everywhere(void *(*fn)(void *))
{
    atomic_store(&board->go, 0);
    atomic_store(&board->ready, 0);
    pid_t pids[PROCS];
    fflush(stdout);
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        CHECK(pids[p] >= 0);
        if (pids[p] == 0) {
            int before = open_fds();
            pthread_t t[THREADS];
            for (int i = 0; i < THREADS; i++)
                if (pthread_create(&t[i], NULL, fn, (void *)(long)(p * THREADS + i)) != 0)
                    _exit(3);
            for (int i = 0; i < THREADS; i++)
                pthread_join(t[i], NULL);
            _exit(open_fds() == before ? 0 : 4); /* 4: a descriptor leaked */
        }
    }
    while (atomic_load(&board->ready) < PROCS * THREADS)
        sched_yield();
    atomic_store(&board->go, 1);
    for (int p = 0; p < PROCS; p++) {
        int status;
        CHECK(waitpid(pids[p], &status, 0) == pids[p]);
        CHECK_CHILD(status);
    }
    if (atomic_load(&board->bad_errno))
        FAIL("%d unexpected results (last: %s)", atomic_load(&board->bad_errno),
             errname_(atomic_load(&board->last_bad)));
}

TEST(o_excl_has_exactly_one_winner)
{
    board = new_board();
    run_everywhere(race_to_create);
    for (int k = 0; k < NAMES; k++) {
        if (atomic_load(&board->wins[k]) != 1)
            FAIL("%s was created %d times", names[k], atomic_load(&board->wins[k]));
        CHECK_OK(shm_unlink(names[k]));
    }
    note("%d processes x %d threads raced for %d names: one winner each", PROCS, THREADS, NAMES);
}

TEST(concurrent_create_open_unlink_stays_consistent)
{
    board = new_board();
    run_everywhere(churn);
    int total = 0;
    for (int k = 0; k < 8; k++) {
        int c = atomic_load(&board->creates[k]), u = atomic_load(&board->unlinks[k]);
        int exists = access(shm_path_of(names[k]), F_OK) == 0;
        /* Creates and unlinks of one name alternate, so they differ by whether it exists. */
        if (c - u != exists)
            FAIL("%s: %d creates, %d unlinks, exists %d", names[k], c, u, exists);
        if (exists)
            CHECK_OK(shm_unlink(names[k]));
        total += c;
    }
    note("%d successful creates across %d processes x %d threads", total, PROCS, THREADS);
}
