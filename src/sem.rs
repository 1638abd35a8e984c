//! Named semaphores, in the same namespace as shared memory: glibc's sem_open, sem_close and
//! sem_unlink, file for file and byte for byte.
//!
//! A semaphore is the file `sem.<name>` holding one sem_t, whose bytes are what glibc's own
//! sem_init(&s, 1, value) writes, so glibc's sem_wait, sem_post and sem_getvalue work on it and
//! a plain glibc process opening the same name shares it. It is created under a temporary name
//! and linked into place whole, so no process ever sees it half made. A process maps each
//! semaphore once: sem_open returns the same address until the matching sem_close, as glibc's
//! does (the registry below, keyed like glibc's by device, inode and the name as given).
//!
//! Unlike shm_open, sem_open takes a lock and maps memory: glibc's does both as well. Nothing
//! here is on shm_open's path.

use core::cell::{Cell, UnsafeCell};
use core::ffi::{c_char, c_int, c_uint, c_void};
use core::sync::atomic::{fence, AtomicPtr, AtomicU32, Ordering};

use crate::config;
use crate::name::{self, SharedPath, NAME_MAX};
use crate::place::{self, Place};
use crate::shm;
use crate::sys::{self, Errno};

/// sizeof(sem_t) in glibc.
pub(crate) const SEM_SIZE: usize = if cfg!(target_pointer_width = "64") {
    32
} else {
    16
};
/// glibc's SEM_VALUE_MAX.
pub(crate) const SEM_VALUE_MAX: c_uint = i32::MAX as c_uint;
/// How many temporary names to try before EAGAIN, as glibc.
const TEMP_TRIES: usize = 50;

/// glibc's FUTEX_SHARED, the `private` word of a process-shared semaphore.
const FUTEX_SHARED: u32 = 128;

/// A new semaphore's bytes, as glibc's sem_init(&s, 1, value) writes them into a zeroed sem_t
/// (struct new_sem: with 64-bit atomics the value in a 64-bit word, else shifted left one bit
/// beside a waiter count; then `private`, then padding). The C suite compares the two.
fn sem_image(value: c_uint) -> [u8; SEM_SIZE] {
    let mut image = [0u8; SEM_SIZE];
    #[cfg(target_pointer_width = "64")]
    {
        image[..8].copy_from_slice(&u64::from(value).to_ne_bytes());
        image[8..12].copy_from_slice(&FUTEX_SHARED.to_ne_bytes());
    }
    #[cfg(not(target_pointer_width = "64"))]
    {
        image[..4].copy_from_slice(&(value << 1).to_ne_bytes());
        image[4..8].copy_from_slice(&FUTEX_SHARED.to_ne_bytes());
    }
    image
}

/// A semaphore's key in the registry, with its device and inode: the name as the caller gave
/// it, at most NAME_MAX bytes (glibc keys its registry by it too, and fails when it is longer,
/// even with a short file name).
#[derive(Clone, Copy)]
struct Key<'a>(&'a [u8]);

impl<'a> Key<'a> {
    /// The key of `name`, or ENAMETOOLONG.
    fn new(name: &'a [u8]) -> Result<Key<'a>, Errno> {
        if name.len() > NAME_MAX {
            return Err(Errno(libc::ENAMETOOLONG));
        }
        Ok(Key(name))
    }
}

/// sem_open: the semaphore `name` names, opened or (with O_CREAT) created with `mode` and
/// `value`, mapped once per process.
///
/// # Safety
/// `name` is NULL, SHM_ANON, or points to a NUL-terminated string.
#[inline(always)] // in sem_open's own frame: its stack stays within glibc's (BENCHMARKS.md)
pub unsafe fn open(
    name: *const c_char,
    oflag: c_int,
    mode: libc::mode_t,
    value: c_uint,
) -> Result<*mut c_void, Errno> {
    // SAFETY: the caller's contract for `name`.
    let Place { rest, dir } = unsafe { place::resolve::<true>(config::plain_default(), name) }
        .map_err(|e| e.errno(libc::EINVAL))?;
    // SAFETY: resolved, so not NULL or SHM_ANON: a NUL-terminated string.
    let key = Key::new(unsafe { name::c_bytes(name) })?;
    name::with_path::<true, _>(rest, dir, |path| {
        open_path(key, path?, dir, oflag, mode, value)
    })
}

/// sem_unlink: removes the semaphore's file, as shm_unlink removes an object's.
///
/// # Safety
/// `name` is NULL, SHM_ANON, or points to a NUL-terminated string.
#[inline(always)]
pub unsafe fn unlink<R>(name: *const c_char, done: impl FnOnce(Result<c_int, Errno>) -> R) -> R {
    // SAFETY: the caller's contract.
    unsafe { shm::unlink::<true, R>(name, done) }
}

/// sem_open once the semaphore's path is made.
fn open_path(
    key: Key<'_>,
    path: &name::ShmPath<'_>,
    dir: Option<&SharedPath>,
    oflag: c_int,
    mode: libc::mode_t,
    value: c_uint,
) -> Result<*mut c_void, Errno> {
    // The registry's room first, as musl does: once a semaphore is linked into place, nothing
    // can fail, so a failed sem_open never leaves one behind.
    let slot = Slot::reserve()?;
    let creating = oflag & libc::O_CREAT != 0;
    if !creating || oflag & libc::O_EXCL == 0 {
        loop {
            match open_existing(key, path, oflag, &slot) {
                Err(Errno(libc::ENOENT)) if creating => {}
                done => return done,
            }
            match create(key, path, dir, mode, value, &slot) {
                // Another process linked its semaphore first: open that one (glibc's loop).
                Err(Errno(libc::EEXIST)) if oflag & libc::O_EXCL == 0 => continue,
                done => return done,
            }
        }
    }
    create(key, path, dir, mode, value, &slot)
}

/// Opens an existing semaphore: read-write whatever the access mode asked, with the caller's
/// other flags, never through a symbolic link.
fn open_existing(
    key: Key<'_>,
    path: &name::ShmPath<'_>,
    oflag: c_int,
    slot: &Slot,
) -> Result<*mut c_void, Errno> {
    let flags = (oflag & !(libc::O_CREAT | libc::O_ACCMODE)) | libc::O_NOFOLLOW | libc::O_RDWR;
    let fd = sys::open(path.as_c_str(), flags | libc::O_CLOEXEC, 0)?;
    let result = file_id(fd).and_then(|id| register(key, id, fd, None, slot));
    sys::close(fd);
    result
}

/// The device and inode of the file open on `fd`: with the name, a semaphore's key. Never
/// inlined: the struct stat is on the stack only for the call (sem_open's stack stays within
/// glibc's, BENCHMARKS.md).
#[inline(never)]
fn file_id(fd: c_int) -> Result<(u64, u64), Errno> {
    let st = sys::fstat(fd)?;
    #[allow(clippy::unnecessary_cast)] // u64 here, narrower on other architectures
    Ok((st.st_dev as u64, st.st_ino as u64))
}

/// Creates a semaphore under a temporary name, fills it, maps it, and links it into place;
/// registering it then cannot fail (`slot` is reserved).
fn create(
    key: Key<'_>,
    path: &name::ShmPath<'_>,
    dir: Option<&SharedPath>,
    mode: libc::mode_t,
    value: c_uint,
    slot: &Slot,
) -> Result<*mut c_void, Errno> {
    if value > SEM_VALUE_MAX {
        return Err(Errno(libc::EINVAL));
    }
    let mut tries = 0;
    loop {
        let temp = temp_name();
        let made = name::with_path::<true, _>(&temp, dir, |temp| {
            let temp = temp?;
            let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
            let fd = match sys::open(temp.as_c_str(), flags, mode) {
                Ok(fd) => fd,
                Err(Errno(libc::EEXIST)) => return Ok(None), // the temporary name is taken
                Err(e) => return Err(e),
            };
            let result = fill(fd, value).and_then(|(sem, len)| {
                match file_id(fd)
                    .and_then(|id| sys::link(temp.as_c_str(), path.as_c_str()).map(|()| id))
                {
                    Ok(id) => register(key, id, fd, Some((sem, len)), slot),
                    Err(e) => {
                        // SAFETY: the mapping was made just above and nothing refers to it.
                        let _ = unsafe { sys::unmap(sem, len) };
                        Err(e)
                    }
                }
            });
            let _ = sys::unlink(temp.as_c_str());
            sys::close(fd);
            result.map(Some)
        });
        match made? {
            Some(sem) => return Ok(sem),
            None if tries + 1 < TEMP_TRIES => tries += 1,
            None => return Err(Errno(libc::EAGAIN)),
        }
    }
}

/// Linux's HUGETLBFS_MAGIC: a file system of huge pages, which has no write(2) and whose
/// mappings are whole huge pages.
const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;

/// How long a mapping of the semaphore on `fd` is: sizeof(sem_t), or a whole huge page on
/// hugetlbfs (whose munmap refuses less).
fn mapping_len(fd: c_int) -> Result<usize, Errno> {
    match sys::fs_of(fd)? {
        (HUGETLBFS_MAGIC, page) => Ok(page),
        _ => Ok(SEM_SIZE),
    }
}

/// Writes a new semaphore's bytes into the empty file `fd` and maps it: with write(2), as glibc
/// does, or where the file system has no write(2) (hugetlbfs), by sizing the file to one huge
/// page and storing the bytes through the mapping. Returns the mapping and its length.
fn fill(fd: c_int, value: c_uint) -> Result<(*mut u8, usize), Errno> {
    let image = sem_image(value);
    match sys::write_all(fd, &image) {
        Ok(()) => Ok((sys::map(SEM_SIZE, fd)?, SEM_SIZE)),
        Err(Errno(libc::EINVAL)) => {
            let len = mapping_len(fd)?;
            if len == SEM_SIZE {
                return Err(Errno(libc::EINVAL));
            }
            sys::ftruncate(fd, len as i64)?;
            let sem = sys::map(len, fd)?;
            // SAFETY: a fresh shared mapping of at least SEM_SIZE bytes of a file nobody else
            // has opened yet (it is not linked into place).
            unsafe { core::ptr::copy_nonoverlapping(image.as_ptr(), sem, SEM_SIZE) };
            Ok((sem, len))
        }
        Err(e) => Err(e),
    }
}

/// "XXXXXX" made random: a temporary semaphore's name.
fn temp_name() -> [u8; 6] {
    let mut out = [0u8; 6];
    crate::temp::letters(&mut out);
    out
}

/// sem_close.
pub fn close(sem: *mut c_void) -> Result<(), Errno> {
    if Lock::word().is_none() {
        return Err(Errno(libc::EINVAL)); // no semaphore was ever opened here
    }
    let _guard = Lock::take()?;
    // SAFETY: the registry is only touched under the lock.
    let registry = unsafe { &mut *REGISTRY.0.get() };
    let entry = registry
        .find(|e| e.sem == sem.cast())
        .ok_or(Errno(libc::EINVAL))?;
    entry.refs -= 1;
    if entry.refs == 0 {
        // The entry is dead before its mapping goes (see Entry).
        fence(Ordering::Release);
        // SAFETY: the last reference in this process is gone; the mapping is the registry's.
        unsafe { sys::unmap(entry.sem, entry.len) }.map_err(|_| Errno(libc::EINVAL))?;
    }
    Ok(())
}

// ---- the registry: which semaphores this process has mapped, and how often ----

/// One mapped semaphore. A slot whose `refs` is 0 is free; RESERVED, held for a sem_open in
/// progress (Slot).
///
/// Every change leaves the registry whole, so that a child forked while another thread was
/// changing it can take the lock over (Lock) and go on: an entry is filled before its `refs`
/// makes it live and dies before its mapping is removed, and a page is filled before it is
/// chained in (fences keep those stores in that order for a fork made by another thread).
struct Entry {
    dev: u64,
    ino: u64,
    refs: usize,
    sem: *mut u8,
    /// The mapping's length: SEM_SIZE, or a huge page (mapping_len).
    len: usize,
    name_len: usize,
    name: [u8; NAME_MAX],
}

impl Entry {
    /// Whether this entry is the semaphore `key` names on (dev, ino).
    fn is(&self, dev: u64, ino: u64, key: Key<'_>) -> bool {
        self.dev == dev && self.ino == ino && self.name.get(..self.name_len) == Some(key.0)
    }
}

/// A page of entries; pages are chained and never freed (a process opens few semaphores).
struct Page {
    next: *mut Page,
    entries: [Entry; PER_PAGE],
}

/// `refs` of a slot a sem_open has reserved: neither free nor live.
const RESERVED: usize = usize::MAX;

const PAGE: usize = 4096;
const PER_PAGE: usize = (PAGE - core::mem::size_of::<usize>()) / core::mem::size_of::<Entry>();

struct Registry {
    first: *mut Page,
}

impl Registry {
    /// The live entry `pred` picks.
    fn find(&mut self, pred: impl Fn(&Entry) -> bool) -> Option<&mut Entry> {
        let mut page = self.first;
        while !page.is_null() {
            // SAFETY: pages are mapped by `slot` and never unmapped; the lock is held.
            let p = unsafe { &mut *page };
            let live = |e: &Entry| e.refs > 0 && e.refs != RESERVED;
            if let Some(e) = p.entries.iter_mut().find(|e| live(e) && pred(e)) {
                return Some(e);
            }
            page = p.next;
        }
        None
    }

    /// A free entry, mapping a new page if every one is taken.
    fn slot(&mut self) -> Result<&mut Entry, Errno> {
        if self.find_free().is_none() {
            let page = sys::map(PAGE, -1)?.cast::<Page>();
            // SAFETY: a fresh, zeroed, page-sized anonymous mapping: every entry's refs is 0.
            unsafe { (*page).next = self.first };
            fence(Ordering::Release);
            self.first = page;
        }
        self.find_free().ok_or(Errno(libc::ENOMEM))
    }

    fn find_free(&mut self) -> Option<&mut Entry> {
        let mut page = self.first;
        while !page.is_null() {
            // SAFETY: as in find.
            let p = unsafe { &mut *page };
            if let Some(e) = p.entries.iter_mut().find(|e| e.refs == 0) {
                return Some(e);
            }
            page = p.next;
        }
        None
    }
}

struct Shared(UnsafeCell<Registry>);
// SAFETY: the registry is only read or written while LOCK is held.
unsafe impl Sync for Shared {}
static REGISTRY: Shared = Shared(UnsafeCell::new(Registry {
    first: core::ptr::null_mut(),
}));

/// The registry lock's word: 0 free, 1 held, 2 held with threads waiting (a futex). It is in a
/// page of its own, mapped at the first sem_open and marked MADV_WIPEONFORK, so that a child
/// forked while another thread held the lock finds it free (that thread does not exist in the
/// child and would never release it; glibc's sem_open deadlocks there) and goes on with the
/// registry as the fork found it, which is whole (see Entry). A kernel older than 4.14 has no
/// MADV_WIPEONFORK: the lock then works as glibc's does.
static LOCK: AtomicPtr<AtomicU32> = AtomicPtr::new(core::ptr::null_mut());

/// The registry lock, held until dropped.
struct Lock(&'static AtomicU32);

impl Lock {
    /// Takes the lock, mapping its page the first time (ENOMEM if it cannot be).
    fn take() -> Result<Lock, Errno> {
        let word = match Lock::word() {
            Some(word) => word,
            None => Lock::map()?,
        };
        if word
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while word.swap(2, Ordering::Acquire) != 0 {
                sys::futex_wait(word, 2);
            }
        }
        Ok(Lock(word))
    }

    /// The lock's word, if its page is mapped (a process that never opened a semaphore has no
    /// registry either).
    fn word() -> Option<&'static AtomicU32> {
        // SAFETY: a published page is never unmapped; its first word is the lock.
        unsafe { LOCK.load(Ordering::Acquire).as_ref() }
    }

    #[cold]
    fn map() -> Result<&'static AtomicU32, Errno> {
        let page = sys::map(PAGE, -1)?;
        let _ = sys::madvise(page, PAGE, libc::MADV_WIPEONFORK);
        match LOCK.compare_exchange(
            core::ptr::null_mut(),
            page.cast(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: a fresh, zeroed, page-aligned page, never unmapped: a free lock.
            Ok(_) => Ok(unsafe { &*page.cast::<AtomicU32>() }),
            Err(other) => {
                // SAFETY: this page was never published; nothing refers to it.
                let _ = unsafe { sys::unmap(page, PAGE) };
                // SAFETY: the published page, as in word().
                Ok(unsafe { &*other })
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.0.swap(0, Ordering::Release) == 2 {
            sys::futex_wake(self.0);
        }
    }
}

/// A registry slot reserved for one sem_open, freed when dropped unless register filled it
/// (register then disarms it: once filled, the entry may be closed and reserved again by
/// others, and is no longer this Slot's to free).
struct Slot(Cell<*mut Entry>);

impl Slot {
    /// Reserves a free slot, mapping the lock's page or a new page of entries if need be
    /// (ENOMEM if one cannot be).
    fn reserve() -> Result<Slot, Errno> {
        let _guard = Lock::take()?;
        // SAFETY: the registry is only touched under the lock.
        let registry = unsafe { &mut *REGISTRY.0.get() };
        let entry = registry.slot()?;
        entry.refs = RESERVED;
        Ok(Slot(Cell::new(entry)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let entry = self.0.get();
        if entry.is_null() {
            return; // filled by register
        }
        // The lock's page exists (reserve mapped it), so taking it cannot fail.
        if let Ok(_guard) = Lock::take() {
            // SAFETY: pages are never unmapped; the entry is still reserved for this Slot and
            // only touched under the lock.
            unsafe { (*entry).refs = 0 };
        }
    }
}

/// The address of the semaphore open on `fd` under `key` (the name as the caller gave it) and
/// `id` (its device and inode): the existing mapping if this process has one, else `mapped`
/// (just made by the caller, with its length) or a new mapping of `fd`, registered in `slot`.
/// A `mapped` that turns out not to be needed is unmapped. With `mapped`, it cannot fail.
fn register(
    key: Key<'_>,
    (dev, ino): (u64, u64),
    fd: c_int,
    mapped: Option<(*mut u8, usize)>,
    slot: &Slot,
) -> Result<*mut c_void, Errno> {
    let result = Lock::take().and_then(|_guard| {
        // SAFETY: the registry is only touched under the lock.
        let registry = unsafe { &mut *REGISTRY.0.get() };
        if let Some(e) = registry.find(|e| e.is(dev, ino, key)) {
            e.refs += 1;
            return Ok(e.sem);
        }
        let (sem, len) = match mapped {
            Some(m) => m,
            None => {
                let len = mapping_len(fd)?;
                (sys::map(len, fd)?, len)
            }
        };
        // SAFETY: pages are never unmapped; the slot is reserved for this call (not yet
        // filled: register fills a Slot once, below, and the call returns) and only touched
        // under the lock.
        let e = unsafe { &mut *slot.0.get() };
        e.dev = dev;
        e.ino = ino;
        e.sem = sem;
        e.len = len;
        e.name_len = key.0.len();
        // At most NAME_MAX bytes (Key): the whole key fits.
        e.name.iter_mut().zip(key.0).for_each(|(d, s)| *d = *s);
        fence(Ordering::Release);
        e.refs = 1; // live from here on
        slot.0.set(core::ptr::null_mut()); // no longer the Slot's
        Ok(sem)
    });
    if let Some((sem, len)) = mapped {
        if result != Ok(sem) {
            // SAFETY: the caller's fresh mapping was not registered and is referred to by
            // nothing.
            let _ = unsafe { sys::unmap(sem, len) };
        }
    }
    result.map(|sem| sem.cast())
}
