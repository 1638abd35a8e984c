//! RTSHM_RESERVE=1: an ftruncate that grows a shared memory object first reserves the new
//! range, so that a full file system fails the ftruncate with ENOSPC, the size unchanged,
//! instead of killing the process with SIGBUS when it first touches a page that cannot be had
//! (README, "No more SIGBUS").
//!
//! An object is a regular file directly in the directory in effect (/dev/shm or RTSHM_DIR):
//! the kernel's path for the descriptor (/proc/self/fd) has that directory, the same device
//! and inode, as its parent, and the file is on that directory's device. Its file system must
//! have a size limit (statfs counts its blocks): without one (the kernel's own tmpfs, behind
//! every memfd and so behind SHM_ANON's objects) a file system cannot be full, and nothing is
//! reserved. Every other descriptor, a call that does not grow the file, and an append-only or
//! immutable file, or one open read-only (whose ftruncate fails anyway) get the plain system
//! call, as with the setting off.
//!
//! The reservation is fallocate(FALLOC_FL_KEEP_SIZE) over the new range; then the plain system
//! call sets the size, so the size, the times, the errors and the signals (EFBIG and SIGXFSZ
//! past RLIMIT_FSIZE) are ftruncate's own. ENOSPC from fallocate fails the call: tmpfs gives
//! back what that fallocate took, and release() what earlier steps took. When the ftruncate
//! itself fails, the reservation is given back too. Any other fallocate error leaves the call
//! to the plain system call; a file system without fallocate (EOPNOTSUPP) is said once on
//! standard error.

use core::ffi::{c_int, CStr};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::config::{self, Dir};
use crate::name;
use crate::sys::{self, Errno};
use crate::warn;

/// tmpfs abandons a fallocate, and gives back what it took, when a signal arrives, and glibc's
/// ftruncate is never interrupted: a reservation that a signal interrupts is made again in
/// steps of this many bytes, each retried until it is done. A step is about half a millisecond
/// of work (BENCHMARKS.md), so signals would have to come faster than that to hold a call up.
const STEP: i64 = 2 << 20;

/// The exported ftruncate when it is not the plain system call (config::reserve_off): reads
/// RTSHM_RESERVE at the first call, and with RTSHM_RESERVE=1 reserves what the call grows an
/// object by first. Returns the C result (errno set on failure).
#[cold]
#[inline(never)]
pub fn ftruncate(fd: c_int, length: i64) -> c_int {
    let result = match config::reserve() {
        true => reserving(fd, length),
        false => sys::ftruncate(fd, length),
    };
    result.unwrap_or_else(|e| {
        sys::set_errno(e);
        -1
    })
}

/// ftruncate(fd, length), with what it grows an object by reserved first.
fn reserving(fd: c_int, length: i64) -> Result<c_int, Errno> {
    let Some((size, fs)) = growing_object(fd, length) else {
        return sys::ftruncate(fd, length);
    };
    if !reserve(fd, size, length, &fs)? {
        return sys::ftruncate(fd, length);
    }
    sys::ftruncate(fd, length).inspect_err(|_| release(fd, size, length))
}

/// The size of `fd` and its file system, when it is an object (see the module's comment) that
/// `length` grows, on a file system with a size limit.
fn growing_object(fd: c_int, length: i64) -> Option<(i64, libc::statfs)> {
    let st = sys::statx(fd).ok()?;
    let size = i64::try_from(st.stx_size).ok()?;
    let refused = (libc::STATX_ATTR_APPEND | libc::STATX_ATTR_IMMUTABLE) as u64;
    if u32::from(st.stx_mode) & libc::S_IFMT != libc::S_IFREG
        || length <= size
        || st.stx_attributes & refused != 0
        || sys::open_flags(fd).ok()? & libc::O_ACCMODE == libc::O_RDONLY
        || !in_directory(fd, libc::makedev(st.stx_dev_major, st.stx_dev_minor))
    {
        return None;
    }
    let fs = sys::statfs(fd).ok()?;
    (fs.f_blocks > 0).then_some((size, fs))
}

/// Whether the open file `fd`, on device `dev`, is directly in the directory in effect.
fn in_directory(fd: c_int, dev: libc::dev_t) -> bool {
    // Room for the directory's path, then for the file's: a page mapped for the call, not the
    // stack.
    let Ok(mut page) = name::Mapped::new(name::PATH_MAX) else {
        return false;
    };
    let buf = page.bytes();
    let dir = match config::dir() {
        Dir::Default => sys::stat(name::DEFAULT_DIR),
        Dir::Custom(path) if path.is_empty() => sys::stat(c"/"),
        Dir::Custom(path) => {
            // At most DIR_MAX bytes, then the page's zeros.
            path.copy_to_bytes(buf);
            // SAFETY: the path holds no NUL, and a zero follows it in the page.
            sys::stat(unsafe { CStr::from_ptr(buf.as_ptr().cast()) })
        }
        // No object can be there.
        Dir::Invalid | Dir::Unavailable(_) => return false,
    };
    let Ok(dir) = dir else { return false };
    if dir.st_dev != dev {
        return false;
    }
    // "/proc/self/fd/<fd>", NUL-terminated: the digits written from the end.
    let mut link = *b"/proc/self/fd/\0\0\0\0\0\0\0\0\0\0\0";
    let digits = fd.unsigned_abs().checked_ilog10().unwrap_or(0) as usize + 1;
    let mut rest = fd.unsigned_abs(); // statx accepted it: not negative
    for slot in link.iter_mut().skip(14).take(digits).rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    // SAFETY: a prefix and at most 10 digits, then zeros: NUL-terminated, no NUL before.
    let link = unsafe { CStr::from_ptr(link.as_ptr().cast()) };
    let n = match sys::read_link_at(libc::AT_FDCWD, link, buf) {
        Ok(n) => n,
        Err(e) => {
            unusable(b"/proc/self/fd cannot be read (", e);
            return false;
        }
    };
    // The parent: up to the last slash ("/" for a file in the root). An unlinked file's path
    // ends in " (deleted)", which has no slash.
    let Some(slash) = buf.iter().take(n).rposition(|&b| b == b'/') else {
        return false; // "pipe:[...]", "anon_inode:..."
    };
    let Some(nul) = buf.get_mut(slash.max(1)) else {
        return false; // never: the path is shorter than the page
    };
    *nul = 0;
    // SAFETY: the kernel's path holds no NUL; one was just put after the parent.
    let parent = unsafe { CStr::from_ptr(buf.as_ptr().cast()) };
    sys::stat(parent).is_ok_and(|p| p.st_dev == dir.st_dev && p.st_ino == dir.st_ino)
}

/// Reserves [from, to) of `fd` beyond its end, on file system `fs`. Ok(true) when it is
/// reserved; Ok(false) when it cannot be (the call goes on without); ENOSPC when the space is
/// not there. Whatever it took is given back unless it returns Ok(true).
fn reserve(fd: c_int, from: i64, to: i64, fs: &libc::statfs) -> Result<bool, Errno> {
    // The whole blocks past the one `from` is in are needed at least: when even they are more
    // than is free, the call fails before it fills the file system for a moment.
    #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
    let (block, free) = (fs.f_bsize as i64, fs.f_bavail as i64);
    if block > 0 && (to - 1) / block - from / block > free {
        return Err(Errno(libc::ENOSPC));
    }
    // The whole range in one call; once a signal has interrupted it, step by step.
    let mut at = from;
    let mut whole = true;
    while at < to {
        let end = match whole {
            true => to,
            false => (at / STEP + 1).saturating_mul(STEP).min(to),
        };
        match sys::fallocate(fd, libc::FALLOC_FL_KEEP_SIZE, at, end - at) {
            Ok(()) => at = end,
            Err(Errno(libc::EINTR)) => whole = false,
            Err(e) => {
                release(fd, from, at);
                if e == Errno(libc::ENOSPC) {
                    return Err(e);
                }
                if e == Errno(libc::EOPNOTSUPP) {
                    unusable(b"the file system cannot reserve space (fallocate: ", e);
                }
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Gives back what a reservation of [from, to) took beyond the file's end: from its end now,
/// in case another process has grown the file meanwhile.
#[inline(never)]
fn release(fd: c_int, from: i64, to: i64) {
    let end = sys::statx(fd)
        .ok()
        .and_then(|st| i64::try_from(st.stx_size).ok());
    let from = end.map_or(from, |end| end.max(from));
    if from < to {
        let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        let _ = sys::fallocate(fd, mode, from, to - from);
    }
}

/// Says once per process why RTSHM_RESERVE=1 cannot do its work.
#[cold]
fn unusable(why: &[u8], e: Errno) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if SAID.swap(true, Ordering::Relaxed) {
        return;
    }
    warn::line(
        &|l| {
            l.put(b"RTSHM_RESERVE=1 cannot reserve: ").put(why);
            warn::errno(l, e);
            l.put(b"); ftruncate does not reserve there");
        },
        b"rtshm: RTSHM_RESERVE=1 cannot reserve; ftruncate does not reserve there\n",
    );
}
