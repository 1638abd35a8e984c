//! Named semaphores, in the same namespace as shared memory: glibc's sem_open, sem_close and
//! sem_unlink, file for file and byte for byte.
//!
//! A semaphore is the file "sem.<name>" holding one sem_t, whose bytes are what glibc's own
//! sem_init(&s, 1, value) writes, so glibc's sem_wait, sem_post and sem_getvalue work on it and
//! a plain glibc process opening the same name shares it. It is created under a temporary name
//! and linked into place whole, so no process ever sees it half made. A process maps each
//! semaphore once: sem_open returns the same address until the matching sem_close, as glibc's
//! does (the registry below, keyed like glibc's by device, inode and the name as given).
//!
//! Unlike shm_open, sem_open takes a lock and maps memory: glibc's does both as well. Nothing
//! here is on shm_open's path.

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_uint, c_void};

use crate::name::{self, NAME_MAX};
use crate::sys::{self, Errno};

/// sizeof(sem_t) in glibc.
pub const SEM_SIZE: usize = if cfg!(target_pointer_width = "64") {
    32
} else {
    16
};
/// glibc's SEM_VALUE_MAX.
pub const SEM_VALUE_MAX: c_uint = i32::MAX as c_uint;
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

/// sem_open, after the name has been mapped to `path` in the namespace directory `dir`.
///
/// # Safety
/// `name` points to a NUL-terminated string of at most NAME_MAX bytes.
pub unsafe fn open(
    name: *const c_char,
    path: &name::ShmPath<'_>,
    dir: Option<&[u8]>,
    oflag: c_int,
    mode: libc::mode_t,
    value: c_uint,
) -> Result<*mut c_void, Errno> {
    // SAFETY: the caller's contract.
    let key = unsafe { name::c_bytes(name) };
    let creating = oflag & libc::O_CREAT != 0;
    if !creating || oflag & libc::O_EXCL == 0 {
        loop {
            match open_existing(key, path, oflag) {
                Err(Errno(libc::ENOENT)) if creating => {}
                done => return done,
            }
            match create(key, path, dir, mode, value) {
                // Another process linked its semaphore first: open that one (glibc's loop).
                Err(Errno(libc::EEXIST)) if oflag & libc::O_EXCL == 0 => continue,
                done => return done,
            }
        }
    }
    create(key, path, dir, mode, value)
}

/// Opens an existing semaphore: read-write whatever the access mode asked, with the caller's
/// other flags, never through a symbolic link.
fn open_existing(key: &[u8], path: &name::ShmPath<'_>, oflag: c_int) -> Result<*mut c_void, Errno> {
    let flags = (oflag & !(libc::O_CREAT | libc::O_ACCMODE)) | libc::O_NOFOLLOW | libc::O_RDWR;
    let fd = sys::open(path, flags | libc::O_CLOEXEC, 0)?;
    let result = register(key, fd, None);
    sys::close(fd);
    result
}

/// Creates a semaphore under a temporary name, fills it, maps it, and links it into place.
fn create(
    key: &[u8],
    path: &name::ShmPath<'_>,
    dir: Option<&[u8]>,
    mode: libc::mode_t,
    value: c_uint,
) -> Result<*mut c_void, Errno> {
    if value > SEM_VALUE_MAX {
        return Err(Errno(libc::EINVAL));
    }
    let image = sem_image(value);

    let mut temp_buf = name::PathBuf::uninit();
    let mut tries = 0;
    let (temp, fd) = loop {
        let temp_name = temp_name();
        // SAFETY: a NUL-terminated name of seven bytes.
        let temp =
            unsafe { name::object_path::<true>(temp_name.as_ptr().cast(), dir, &mut temp_buf) }
                .map_err(|_| Errno(libc::EINVAL))?;
        match sys::open(
            &temp,
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            mode,
        ) {
            Ok(fd) => break (temp, fd),
            Err(Errno(libc::EEXIST)) if tries + 1 < TEMP_TRIES => tries += 1,
            Err(Errno(libc::EEXIST)) => return Err(Errno(libc::EAGAIN)),
            Err(e) => return Err(e),
        }
    };
    let result = sys::write_all(fd, &image)
        .and_then(|()| sys::map(SEM_SIZE, fd))
        .and_then(|sem| {
            match sys::link(&temp, path) {
                Ok(()) => register(key, fd, Some(sem)),
                Err(e) => {
                    // SAFETY: the mapping was made just above and nothing refers to it.
                    let _ = unsafe { sys::unmap(sem, SEM_SIZE) };
                    Err(e)
                }
            }
        });
    let _ = sys::unlink(&temp);
    sys::close(fd);
    result
}

/// "XXXXXX" made random, NUL-terminated.
fn temp_name() -> [u8; 7] {
    let mut out = [0u8; 7];
    sys::random_letters(&mut out[..6]);
    out
}

/// sem_close.
pub fn close(sem: *mut c_void) -> Result<(), Errno> {
    let _guard = Lock::take();
    // SAFETY: the registry is only touched under the lock.
    let registry = unsafe { &mut *REGISTRY.0.get() };
    let entry = registry
        .find(|e| e.sem == sem.cast())
        .ok_or(Errno(libc::EINVAL))?;
    entry.refs -= 1;
    if entry.refs == 0 {
        // SAFETY: the last reference in this process is gone; the mapping is the registry's.
        unsafe { sys::unmap(entry.sem, SEM_SIZE) }.map_err(|_| Errno(libc::EINVAL))?;
    }
    Ok(())
}

// ---- the registry: which semaphores this process has mapped, and how often ----

/// One mapped semaphore. A slot whose `refs` is 0 is free.
struct Entry {
    dev: u64,
    ino: u64,
    refs: usize,
    sem: *mut u8,
    name_len: usize,
    name: [u8; NAME_MAX],
}

impl Entry {
    /// Whether this entry is the semaphore `key` names on (dev, ino). (A byte loop, not memcmp:
    /// one import fewer for the dynamic linker.)
    fn is(&self, dev: u64, ino: u64, key: &[u8]) -> bool {
        self.dev == dev
            && self.ino == ino
            && self.name_len == key.len()
            && self.name.iter().take(self.name_len).eq(key.iter())
    }
}

/// A page of entries; pages are chained and never freed (a process opens few semaphores).
struct Page {
    next: *mut Page,
    entries: [Entry; PER_PAGE],
}

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
            if let Some(e) = p.entries.iter_mut().find(|e| e.refs > 0 && pred(e)) {
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
#[link_section = ".data"] // not .bss: see config.rs
static REGISTRY: Shared = Shared(UnsafeCell::new(Registry {
    first: core::ptr::null_mut(),
}));

struct Mutex(UnsafeCell<libc::pthread_mutex_t>);
// SAFETY: a pthread mutex is made to be shared between threads.
unsafe impl Sync for Mutex {}
#[link_section = ".data"]
static LOCK: Mutex = Mutex(UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));

/// The registry lock, held until dropped.
struct Lock;

impl Lock {
    fn take() -> Lock {
        // SAFETY: a statically initialised mutex, never destroyed.
        unsafe { libc::pthread_mutex_lock(LOCK.0.get()) };
        Lock
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // SAFETY: this thread holds the mutex (Lock::take).
        unsafe { libc::pthread_mutex_unlock(LOCK.0.get()) };
    }
}

/// The address of the semaphore open on `fd` under `key` (the name as the caller gave it):
/// the existing mapping if this process has one, else `mapped` (just made by the caller) or a
/// new mapping of `fd`. A `mapped` that turns out not to be needed is unmapped.
fn register(key: &[u8], fd: c_int, mapped: Option<*mut u8>) -> Result<*mut c_void, Errno> {
    let result = sys::file_id(fd).and_then(|(dev, ino)| {
        let _guard = Lock::take();
        // SAFETY: the registry is only touched under the lock.
        let registry = unsafe { &mut *REGISTRY.0.get() };
        let same = |e: &Entry| e.is(dev, ino, key);
        if let Some(e) = registry.find(same) {
            e.refs += 1;
            return Ok(e.sem);
        }
        let sem = match mapped {
            Some(sem) => sem,
            None => sys::map(SEM_SIZE, fd)?,
        };
        match registry.slot() {
            Ok(e) => {
                *e = Entry {
                    dev,
                    ino,
                    refs: 1,
                    sem,
                    name_len: key.len(),
                    name: [0; NAME_MAX],
                };
                // SAFETY: key.len() <= NAME_MAX (sem_open checks), the size of the array.
                unsafe {
                    libc::memmove(e.name.as_mut_ptr().cast(), key.as_ptr().cast(), key.len())
                };
                Ok(sem)
            }
            Err(err) => {
                if mapped.is_none() {
                    // SAFETY: mapped just above, never handed out.
                    let _ = unsafe { sys::unmap(sem, SEM_SIZE) };
                }
                Err(err)
            }
        }
    });
    if let Some(sem) = mapped {
        if result != Ok(sem) {
            // SAFETY: the caller's fresh mapping was not registered and is referred to by
            // nothing.
            let _ = unsafe { sys::unmap(sem, SEM_SIZE) };
        }
    }
    result.map(|sem| sem.cast())
}
