//! rtshm: POSIX shared memory (`shm_open`, `shm_unlink`) and named semaphores (`sem_open`,
//! `sem_close`, `sem_unlink`) with a C ABI, in /dev/shm or wherever RTSHM_DIR says; and
//! `ftruncate`, which with RTSHM_RESERVE=1 reserves what it grows an object by (reserve.rs).
//!
//! The exported functions are thin: they turn C conventions (pointers, -1 or SEM_FAILED and
//! errno) into calls to a safe core and back. The library stands on `core` and `libc` alone and
//! does nothing at load time. On shm_open's and shm_unlink's path it takes no locks, keeps no
//! state but the settings it reads once (and the verdict on RTSHM_DIR, checked at its first
//! use), and allocates nothing but, for a path longer than glibc's own room (in a long
//! RTSHM_DIR), a page for the call.

#![cfg_attr(not(any(test, feature = "fuzzing")), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
// The safety contract of each export is in its doc comment, worded for C readers of the header.
#![allow(clippy::missing_safety_doc)]

mod bsd;
mod compat;
mod config;
mod name;
mod place;
mod reserve;
mod safedir;
mod sem;
mod shm;
mod sys;
mod temp;
#[cfg(feature = "shared-object")]
mod versions;
mod warn;

use core::ffi::{c_char, c_int, c_uint, c_void};

use libc::mode_t;
use sys::Errno;

// A library or program linked with librtshm.a calls this copy of the functions: protected
// visibility binds its own references to them, where default visibility would let glibc's
// functions of the same names, earlier in the lookup order, take them. They stay exported
// (README, "Linking"). Not in librtshm.so, which never calls its own exports and whose versions
// (versions.rs) already keep glibc from taking its users' references: there, protected
// functions would make glibc warn in every non-PIE program that takes one's address.
#[cfg(not(feature = "shared-object"))]
core::arch::global_asm!(
    ".protected shm_open, shm_unlink, sem_open, sem_close, sem_unlink, shm_rename, shm_mkstemp, rtshm_dir"
);
#[cfg(all(not(feature = "shared-object"), target_pointer_width = "64"))]
core::arch::global_asm!(".protected ftruncate, ftruncate64");

/// The library's parsers, for the fuzz targets (fuzz/): not part of the C API.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::compat::check as compat_check;
    pub use crate::config::{parse as parse_rtshm_dir, Compat, Setting};
    /// The longest usable RTSHM_DIR (name::DIR_MAX).
    pub fn dir_max() -> usize {
        crate::name::DIR_MAX
    }
    pub use crate::safedir::{Verdict, Why};

    /// RTSHM_DIR's safety check on `path`: the verdict, and for a refusal the component and
    /// the reason.
    pub fn check_dir(path: &[u8]) -> (Verdict, Option<(Vec<u8>, Why)>) {
        let mut refusal = None;
        let verdict = crate::safedir::check(
            path.len(),
            |out| out.iter_mut().zip(path).for_each(|(o, b)| *o = *b),
            |_, component, why| refusal = Some((component.to_vec(), why)),
        );
        (verdict, refusal)
    }
    pub use crate::sys::Errno;
}

/// Creates and opens a new, or opens an existing, POSIX shared memory object.
///
/// `name` is mapped to `<dir>/<name without its leading slashes>`, where `<dir>` is
/// `/dev/shm` or RTSHM_DIR (see rtshm_dir); the object is opened with
/// `oflag | O_NOFOLLOW | O_CLOEXEC` and, when created, `mode` less the umask, exactly as glibc
/// does. Returns the lowest free file descriptor, or -1 with errno set: EINVAL for an empty
/// name, a slash after the leading ones, "." or "..", a directory, or an invalid RTSHM_DIR;
/// ENAMETOOLONG for more than NAME_MAX bytes after the leading slashes or PATH_MAX bytes in
/// all; EFAULT for NULL; otherwise the kernel's answer to open(2) (EACCES, EEXIST, ENOENT,
/// ELOOP, EMFILE, ENFILE...). Not a cancellation point; async-signal-safe; errno is untouched
/// on success.
///
/// `name` must be NULL or point to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn shm_open(name: *const c_char, oflag: c_int, mode: mode_t) -> c_int {
    if place::is_anon(name) {
        return c_return(bsd::open_anon(oflag, mode));
    }
    // SAFETY: the caller's contract for `name`.
    unsafe { shm::open(name, oflag, mode, c_return) }
}

/// Removes the name of a POSIX shared memory object; the memory goes when the last mapping and
/// descriptor of it do.
///
/// Returns 0, or -1 with errno set: ENOENT for a missing object or an invalid name (as glibc);
/// ENAMETOOLONG for more than NAME_MAX bytes after the leading slashes or PATH_MAX bytes in
/// all; EACCES where unlink(2) says EPERM or EACCES; EFAULT for NULL; EINVAL for an invalid
/// RTSHM_DIR; otherwise the kernel's answer (EISDIR, EROFS...). Not a cancellation point;
/// async-signal-safe; errno is untouched on success.
///
/// `name` must be NULL or point to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn shm_unlink(name: *const c_char) -> c_int {
    // SAFETY: the caller's contract for `name`.
    unsafe { shm::unlink::<false, _>(name, c_return) }
}

/// The directory that holds shared memory objects and named semaphores: RTSHM_DIR without its
/// trailing slashes when it is set, else "/dev/shm". RTSHM_DIR is ignored in a secure-execution
/// process (setuid, setgid, file capabilities: AT_SECURE), as secure_getenv ignores variables.
/// NULL when RTSHM_DIR is set but unusable: not an absolute path short enough that it, a slash
/// and a NAME_MAX-byte name fit in PATH_MAX, or not a safe directory (a component owned by
/// another user than root or the effective uid, or writable by others and not sticky); every
/// call then fails with EINVAL, and one line on standard error says why. The variable is read
/// once, at the first call of any rtshm function; a directory that does not exist yet is
/// checked when it is first used.
#[no_mangle]
pub extern "C" fn rtshm_dir() -> *const c_char {
    config::dir_c_string()
}

/// Renames a shared memory object atomically: FreeBSD's shm_rename (13.0), whose rules it
/// follows. `flags` is 0 (replace an object at `to`), SHM_RENAME_NOREPLACE (fail with EEXIST
/// instead) or SHM_RENAME_EXCHANGE (swap the two; a plain rename when `to` is missing).
/// Returns 0, or -1 with errno set: EINVAL for other flags, both flags, SHM_ANON on either
/// side, an invalid name or RTSHM_DIR; ENOENT when `from` is missing; EEXIST (NOREPLACE);
/// ENAMETOOLONG; EFAULT for NULL; EACCES where the kernel says EPERM or EACCES. Renaming a name
/// to itself succeeds and does nothing.
///
/// `from` and `to` must be NULL, SHM_ANON or point to NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn shm_rename(from: *const c_char, to: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's contract for the names.
    c_return(unsafe { bsd::rename(from, to, flags) }.map(|()| 0))
}

/// Creates and opens a new shared memory object with a unique name: OpenBSD's shm_mkstemp.
/// `template` ends in at least six X's, which are replaced (in place, on success only) by
/// letters and digits until shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600) succeeds. Returns
/// the descriptor, or -1 with errno set: EINVAL for fewer than six trailing X's; EFAULT for
/// NULL; EEXIST when 100 names were all taken; otherwise shm_open's.
///
/// `template` must be NULL or point to a writable NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn shm_mkstemp(template: *mut c_char) -> c_int {
    // SAFETY: the caller's contract for `template`.
    c_return(unsafe { bsd::mkstemp(template) })
}

/// Opens a named semaphore, creating it with O_CREAT (then `mode` and `value` are read, as the
/// variadic C prototype `sem_t *sem_open(const char *, int, ...)` passes them): glibc's
/// sem_open, in the same directory as shm_open's objects, file `sem.<name>`. Returns the same
/// address for the same semaphore until the matching sem_close, or SEM_FAILED with errno set:
/// EINVAL for an invalid name or RTSHM_DIR, or `value` above SEM_VALUE_MAX; ENAMETOOLONG for a
/// name over NAME_MAX bytes; EFAULT for NULL; EAGAIN when no temporary name was free;
/// otherwise the kernel's answer (EACCES, EEXIST, ENOENT...).
///
/// `name` must be NULL or point to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sem_open(
    name: *const c_char,
    oflag: c_int,
    mode: mode_t,
    value: c_uint,
) -> *mut c_void {
    // SAFETY: the caller's contract for `name`.
    unsafe { sem::open(name, oflag, mode, value) }.unwrap_or_else(|e| {
        sys::set_errno(e);
        core::ptr::null_mut() // SEM_FAILED
    })
}

/// Closes a named semaphore: unmaps it once every sem_open of it in this process has been
/// closed. Returns 0, or -1 with errno EINVAL when `sem` is not an open named semaphore.
///
/// `sem` must be NULL or a pointer sem_open returned.
#[no_mangle]
pub unsafe extern "C" fn sem_close(sem: *mut c_void) -> c_int {
    c_return(sem::close(sem).map(|()| 0))
}

/// Removes a named semaphore's name: glibc's sem_unlink, in the same directory as sem_open's.
/// Returns 0, or -1 with errno set: ENOENT for a missing semaphore or an invalid name;
/// ENAMETOOLONG; EACCES where unlink(2) says EPERM or EACCES; EFAULT for NULL; EINVAL for an
/// invalid RTSHM_DIR; otherwise the kernel's answer.
///
/// `name` must be NULL or point to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sem_unlink(name: *const c_char) -> c_int {
    // SAFETY: the caller's contract for `name`.
    unsafe { sem::unlink(name, c_return) }
}

/// ftruncate(2): sets the size of the file open as `fd`. The plain system call, as glibc's
/// ftruncate makes it (the same errors; not a cancellation point; errno untouched on success),
/// unless RTSHM_RESERVE=1: then a call that grows a shared memory object in the directory in
/// effect first reserves the new range, and fails with ENOSPC, the size unchanged, when the
/// file system has not the room (README, "No more SIGBUS"). Not in the header: <unistd.h>
/// declares it. 64-bit targets only, where off_t and off64_t are one type.
#[cfg(target_pointer_width = "64")]
#[no_mangle]
pub extern "C" fn ftruncate(fd: c_int, length: libc::off_t) -> c_int {
    // The usual case in a few instructions and no frame: the error and everything else are
    // calls the function ends with (BENCHMARKS.md, ftruncate).
    if config::reserve_off() {
        return match sys::ftruncate(fd, length) {
            Ok(r) => r,
            Err(e) => fail(e),
        };
    }
    reserve::ftruncate(fd, length)
}

/// ftruncate64: ftruncate under its large-file name, which programs built with
/// _FILE_OFFSET_BITS=64 call.
#[cfg(target_pointer_width = "64")]
#[no_mangle]
pub extern "C" fn ftruncate64(fd: c_int, length: libc::off64_t) -> c_int {
    ftruncate(fd, length)
}

/// -1 with errno set to `e`, out of the way of a caller's usual path.
#[cfg(target_pointer_width = "64")]
#[cold]
#[inline(never)]
fn fail(e: Errno) -> c_int {
    c_return(Err(e))
}

/// The C convention: the value, or -1 with errno set.
fn c_return(r: Result<c_int, Errno>) -> c_int {
    r.unwrap_or_else(|e| {
        sys::set_errno(e);
        -1
    })
}

/// Debug builds (`cargo build`) keep core's unwind tables, which name this personality routine;
/// nothing ever unwinds (panic = "abort"), but a C program linking librtshm.a must find the
/// symbol. Release builds drop the references, and have no such symbol. Hidden: not part of
/// the archive's exports.
#[cfg(all(debug_assertions, not(any(test, feature = "fuzzing"))))]
#[no_mangle]
extern "C" fn rust_eh_personality() {}
#[cfg(all(debug_assertions, not(any(test, feature = "fuzzing"))))]
core::arch::global_asm!(".hidden rust_eh_personality");

#[cfg(not(any(test, feature = "fuzzing")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: abort is always safe to call; nothing may unwind into C.
    unsafe { libc::abort() }
}
