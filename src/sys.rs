//! The system calls the library makes, each returning `Result<_, Errno>`, and errno itself.
//!
//! Every call goes through `syscall(2)`: unlike `open(2)`, it is never a cancellation point,
//! and it leaves errno alone on success.

use core::ffi::{c_char, c_int, c_long};

use crate::name::{ShmPath, PATH_MAX};

/// An errno value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub c_int);

fn last_errno() -> Errno {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid for the thread's
    // life.
    Errno(unsafe { *libc::__errno_location() })
}

/// Sets the calling thread's errno.
pub fn set_errno(e: Errno) {
    // SAFETY: as in last_errno; the slot is writable and only this thread touches it.
    unsafe { *libc::__errno_location() = e.0 }
}

/// The bytes of the C string at `p` (at most `PATH_MAX` of them), or `None` for a null pointer.
///
/// # Safety
/// A non-null `p` points to a NUL-terminated string, or to at least `PATH_MAX` readable bytes,
/// that outlives `'a`.
pub unsafe fn c_bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller's contract: strnlen reads up to the NUL or PATH_MAX bytes, both
    // readable.
    let len = unsafe { libc::strnlen(p, PATH_MAX) };
    // SAFETY: strnlen just found `len` readable bytes at `p`; they live as long as the string.
    Some(unsafe { core::slice::from_raw_parts(p.cast(), len) })
}

fn check(ret: c_long) -> Result<c_long, Errno> {
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(ret)
    }
}

/// openat(AT_FDCWD, path, flags, mode), passing the mode only where the kernel uses it, as
/// glibc's open does.
pub fn open(path: &ShmPath, flags: c_int, mode: libc::mode_t) -> Result<c_int, Errno> {
    let mode = if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        mode
    } else {
        0
    };
    // SAFETY: the path is a NUL-terminated buffer that outlives the call; openat reads only it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD as c_long,
            path.as_ptr(),
            flags as c_long,
            mode as c_long,
        )
    };
    // A descriptor always fits in c_int.
    check(fd).map(|fd| fd as c_int)
}

/// unlinkat(AT_FDCWD, path, 0).
pub fn unlink(path: &ShmPath) -> Result<(), Errno> {
    // SAFETY: the path is a NUL-terminated buffer that outlives the call; unlinkat reads only it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_unlinkat,
            libc::AT_FDCWD as c_long,
            path.as_ptr(),
            0 as c_long,
        )
    };
    check(ret).map(drop)
}
