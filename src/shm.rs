//! The shm core: shm_open and shm_unlink on a name (the C face, lib.rs, sends SHM_ANON to
//! bsd.rs), and the removal sem_unlink shares.
//!
//! Each function ends by calling `done`, the C face's conversion of its result, from inside
//! name::with_path: the exported function then jumps to with_path rather than keep a frame of
//! its own while the path is on the stack (BENCHMARKS.md, stack use).

use core::ffi::{c_char, c_int};

use libc::mode_t;

use crate::compat;
use crate::config;
use crate::name;
use crate::place::{self, Place};
use crate::sys::{self, Errno};

/// shm_open on a name: the object's file, opened with `oflag | O_NOFOLLOW | O_CLOEXEC` (and,
/// when created, `mode` less the umask), as glibc does.
///
/// # Safety
/// `name` is NULL, SHM_ANON, or points to a NUL-terminated string.
#[inline(always)]
pub unsafe fn open<R>(
    name: *const c_char,
    oflag: c_int,
    mode: mode_t,
    done: impl FnOnce(Result<c_int, Errno>) -> R,
) -> R {
    let plain = config::plain_default();
    let mut oflag = oflag;
    if !plain {
        // SAFETY: the caller's contract for `name`.
        match unsafe { compat::adjust("shm_open", name, Some(oflag)) } {
            Ok(adjusted) => oflag = adjusted,
            Err(e) => return done(Err(e)),
        }
    }
    // SAFETY: as above.
    match unsafe { place::resolve::<false>(plain, name) } {
        Ok(Place { rest, dir }) => name::with_path::<false, _>(rest, dir, move |path| {
            done(path.and_then(|path| open_path(path, oflag, mode)))
        }),
        Err(e) => done(Err(e.errno(libc::EINVAL))),
    }
}

/// shm_open's system call, once the path is made.
#[inline(always)]
fn open_path(path: &name::ShmPath<'_>, oflag: c_int, mode: mode_t) -> Result<c_int, Errno> {
    let flags = oflag | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_LARGEFILE;
    sys::open(path.as_c_str(), flags, mode).map_err(|e| match e {
        // A directory is one more unsuitable name, not an error POSIX lists.
        Errno(libc::EISDIR) => Errno(libc::EINVAL),
        e => e,
    })
}

/// shm_unlink, or with SEM sem_unlink: removes the name's file. An invalid name is ENOENT, as
/// in glibc.
///
/// # Safety
/// `name` is NULL, SHM_ANON, or points to a NUL-terminated string.
#[inline(always)]
pub unsafe fn unlink<const SEM: bool, R>(
    name: *const c_char,
    done: impl FnOnce(Result<c_int, Errno>) -> R,
) -> R {
    let plain = config::plain_default();
    // RTSHM_COMPAT's rules are shm_open's and shm_unlink's, not the semaphores'.
    if !SEM && !plain {
        // SAFETY: the caller's contract for `name`.
        if let Err(e) = unsafe { compat::adjust("shm_unlink", name, None) } {
            return done(Err(e));
        }
    }
    // SAFETY: as above.
    match unsafe { place::resolve::<SEM>(plain, name) } {
        Ok(Place { rest, dir }) => name::with_path::<SEM, _>(rest, dir, |path| {
            let unlinked = path
                .and_then(|p| sys::unlink(p.as_c_str()))
                .map_err(place::refused);
            done(unlinked.map(|()| 0))
        }),
        Err(e) => done(Err(e.errno(libc::ENOENT))),
    }
}
