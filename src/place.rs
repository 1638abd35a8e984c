//! Where a name's file is: the one resolution every call on a name shares (shm_open and
//! shm_unlink, sem_open and sem_unlink, shm_rename), and the directory's rules.
//!
//! A name resolves to its file name (name.rs's rules) in the objects' directory (config.rs:
//! /dev/shm or RTSHM_DIR); the path itself is built by name::with_path, as late as possible.
//! The order of the checks is glibc's, with rtshm's own first: an unusable RTSHM_DIR, then a
//! pointer that is not a string, then the name, then a directory not available yet.

use core::ffi::{c_char, c_int};

use crate::config::{self, Dir};
use crate::name::{self, NameError, SharedPath};
use crate::sys::Errno;

/// FreeBSD's SHM_ANON, the name pointer (char *)1 (bsd.rs has its rules): not a string. The
/// header's definition is cbindgen.toml's (cbindgen cannot write FreeBSD's `((char *)1)`);
/// the C suite's SHM_ANON tests hold the two together.
#[allow(clippy::manual_dangling_ptr)] // FreeBSD's value, written as FreeBSD writes it
pub(crate) const SHM_ANON: *const c_char = 1 as *const c_char;

/// Whether `name` is SHM_ANON.
pub fn is_anon(name: *const c_char) -> bool {
    name == SHM_ANON
}

/// A resolved name: its file name (without "sem.") and its directory (None: /dev/shm).
pub struct Place<'a> {
    pub rest: &'a [u8],
    pub dir: Option<&'static SharedPath>,
}

/// Why a name has no place: an errno every call answers alike (EINVAL for an unusable
/// RTSHM_DIR, a missing component's errno, EFAULT for a pointer that is not a string,
/// ENAMETOOLONG), or an invalid name (INVALID), which each call answers its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unplaced(Errno);

impl Unplaced {
    /// An invalid name: no errno yet.
    const INVALID: Unplaced = Unplaced(Errno(0));

    /// The errno a call answers: `invalid` for an invalid name (EINVAL for the calls that open,
    /// ENOENT for those that remove, as glibc).
    #[inline(always)]
    pub fn errno(self, invalid: c_int) -> Errno {
        if self == Unplaced::INVALID {
            Errno(invalid)
        } else {
            self.0
        }
    }
}

/// Where the file of `name` is: a semaphore's with SEM (whose "sem." counts in NAME_MAX).
/// `plain` is config::plain_default(), which the caller has read (then /dev/shm is the
/// directory, and nothing else is read).
///
/// # Safety
/// `name` is NULL, SHM_ANON, or points to a NUL-terminated string that outlives `'a`.
#[inline(always)] // on the path of every call
pub unsafe fn resolve<'a, const SEM: bool>(
    plain: bool,
    name: *const c_char,
) -> Result<Place<'a>, Unplaced> {
    let dir = if plain { Dir::Default } else { config::dir() };
    if let Dir::Invalid = dir {
        return Err(Unplaced(Errno(libc::EINVAL)));
    }
    if name.is_null() || is_anon(name) {
        return Err(Unplaced(Errno(libc::EFAULT)));
    }
    // SAFETY: not NULL or SHM_ANON, so a NUL-terminated string by the caller's contract.
    let rest = unsafe { name::file_name::<SEM>(name) }.map_err(|e| match e {
        NameError::Invalid => Unplaced::INVALID,
        NameError::TooLong => Unplaced(Errno(libc::ENAMETOOLONG)),
    })?;
    match dir {
        Dir::Custom(dir) => Ok(Place {
            rest,
            dir: Some(dir),
        }),
        // The kernel would say the same of a missing directory, after the name's checks.
        Dir::Unavailable(e) => Err(Unplaced(e)),
        _ => Ok(Place { rest, dir: None }),
    }
}

/// A removal or rename the objects' directory refused: POSIX's EACCES where Linux says EPERM
/// (a sticky directory, another user's object), as glibc and FreeBSD answer.
pub fn refused(e: Errno) -> Errno {
    match e {
        Errno(libc::EPERM) => Errno(libc::EACCES),
        e => e,
    }
}
