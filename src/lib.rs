//! rtshm: POSIX shared memory (`shm_open`, `shm_unlink`) with a C ABI.
//!
//! The exported functions are thin: they turn C conventions (pointers, -1 and errno) into calls
//! to a safe core and back. The library stands on `core` and `libc` alone, allocates nothing,
//! takes no locks, keeps no state, and does nothing at load time.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
// Library calls stay the plain calls written in the source: LLVM neither makes new ones from
// loops nor turns memcpy into an intrinsic, whose call would go through the GOT and be bound
// when the library loads rather than at its first use (see .cargo/config.toml).
#![no_builtins]
// The safety contract of each export is in its doc comment, worded for C readers of the header.
#![allow(clippy::missing_safety_doc)]

mod name;
mod sys;

use core::ffi::{c_char, c_int};

use libc::mode_t;
use name::NameError;
use sys::Errno;

/// Creates and opens a new, or opens an existing, POSIX shared memory object.
///
/// `name` is mapped to `/dev/shm/<name without its leading slashes>`; the object is opened with
/// `oflag | O_NOFOLLOW | O_CLOEXEC` and, when created, `mode` less the umask, exactly as glibc
/// does. Returns the lowest free file descriptor, or -1 with errno set: EINVAL for an empty
/// name, a slash after the leading ones, "." or "..", or a directory; ENAMETOOLONG for more
/// than NAME_MAX bytes after the leading slashes or PATH_MAX bytes in all; EFAULT for NULL;
/// otherwise the kernel's answer to open(2) (EACCES, EEXIST, ENOENT, ELOOP, EMFILE, ENFILE...).
/// Not a cancellation point; async-signal-safe; errno is untouched on success.
///
/// `name` must be NULL or point to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn shm_open(name: *const c_char, oflag: c_int, mode: mode_t) -> c_int {
    // SAFETY: the caller's contract for `name`.
    c_return(unsafe { open(name, oflag, mode) })
}

/// Removes the name of a POSIX shared memory object; the memory goes when the last mapping and
/// descriptor of it do.
///
/// Returns 0, or -1 with errno set: ENOENT for a missing object or an invalid name (as glibc);
/// ENAMETOOLONG for more than NAME_MAX bytes after the leading slashes or PATH_MAX bytes in
/// all; EACCES where unlink(2) says EPERM or EACCES; EFAULT for NULL; otherwise the kernel's
/// answer (EISDIR, EROFS...). Not a cancellation point; async-signal-safe; errno is untouched
/// on success.
///
/// `name` must be NULL or point to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn shm_unlink(name: *const c_char) -> c_int {
    // SAFETY: the caller's contract for `name`.
    c_return(unsafe { unlink(name) }.map(|()| 0))
}

/// The path of `name`, or the errno for a NULL or unmappable name (`invalid` for an invalid
/// one: shm_open and shm_unlink differ there, as in glibc).
///
/// # Safety
/// `name` is NULL or points to a NUL-terminated string.
#[inline(always)]
unsafe fn path_of<'b>(
    name: *const c_char,
    buf: &'b mut name::PathBuf,
    invalid: c_int,
) -> Result<name::ShmPath<'b>, Errno> {
    if name.is_null() {
        return Err(Errno(libc::EFAULT));
    }
    // SAFETY: not NULL, so a NUL-terminated string by the caller's contract.
    unsafe { name::shm_path(name, buf) }.map_err(|e| match e {
        NameError::Invalid => Errno(invalid),
        NameError::TooLong => Errno(libc::ENAMETOOLONG),
    })
}

/// # Safety
/// `name` is NULL or points to a NUL-terminated string.
unsafe fn open(name: *const c_char, oflag: c_int, mode: mode_t) -> Result<c_int, Errno> {
    let mut buf = name::PathBuf::uninit();
    // SAFETY: the caller's contract for `name`.
    let path = unsafe { path_of(name, &mut buf, libc::EINVAL) }?;
    let flags = oflag | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_LARGEFILE;
    sys::open(&path, flags, mode).map_err(|e| match e {
        // A directory is one more unsuitable name, not an error POSIX lists.
        Errno(libc::EISDIR) => Errno(libc::EINVAL),
        e => e,
    })
}

/// # Safety
/// `name` is NULL or points to a NUL-terminated string.
unsafe fn unlink(name: *const c_char) -> Result<(), Errno> {
    let mut buf = name::PathBuf::uninit();
    // SAFETY: the caller's contract for `name`.
    let path = unsafe { path_of(name, &mut buf, libc::ENOENT) }?;
    sys::unlink(&path).map_err(|e| match e {
        // POSIX names EACCES for an unlink the sticky directory refuses.
        Errno(libc::EPERM) => Errno(libc::EACCES),
        e => e,
    })
}

/// The C convention: the value, or -1 with errno set.
fn c_return(r: Result<c_int, Errno>) -> c_int {
    r.unwrap_or_else(|e| {
        sys::set_errno(e);
        -1
    })
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: abort is always safe to call; nothing may unwind into C.
    unsafe { libc::abort() }
}
