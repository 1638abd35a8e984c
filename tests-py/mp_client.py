"""A real client of rtshm: CPython's multiprocessing, unmodified.

Two processes share a 16 MiB SharedMemory block (shm_open) and a Lock (sem_open): the child
fills the block under the lock, the parent checks every byte. Run it with and without
LD_PRELOAD=librtshm.so and RTSHM_DIR, where /dev/shm is unusable (tests-py/run.sh).
Exit 0 when it worked; anything else (an exception, a signal) when it did not.
"""
import multiprocessing as mp
import sys
from multiprocessing import shared_memory

SIZE = 16 << 20


def fill(name, lock):
    block = shared_memory.SharedMemory(name=name)
    with lock:
        block.buf[:] = b"\xa5" * SIZE
    block.close()


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "both"
    if what == "lock":
        mp.Lock()
        return 0
    lock = mp.Lock()
    block = shared_memory.SharedMemory(create=True, size=SIZE)
    try:
        child = mp.Process(target=fill, args=(block.name, lock))
        child.start()
        child.join()
        if child.exitcode != 0:
            print(f"child failed with {child.exitcode}")
            return 1
        with lock:
            ok = bytes(block.buf[:SIZE]) == b"\xa5" * SIZE
        print("shared 16 MiB between two processes:", "ok" if ok else "WRONG BYTES")
        return 0 if ok else 1
    finally:
        block.close()
        block.unlink()


if __name__ == "__main__":
    sys.exit(main())
