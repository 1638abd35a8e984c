//! Other architectures: libc's syscall(2), which is not a cancellation point either. It writes
//! errno when a call fails; errno is put back as it was, so that, as with the inline system
//! calls of x86_64 and aarch64, only the library's own answer ever sets it.

use core::ffi::c_long;

/// Runs `call` (a syscall(2)) with errno left as it was: its -1 and errno become -errno.
///
/// # Safety
/// The call's own contract.
unsafe fn errno_neutral(call: impl FnOnce() -> c_long) -> c_long {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid for the thread's
    // life and touched only by this thread.
    unsafe {
        let slot = libc::__errno_location();
        let saved = *slot;
        let ret = call();
        let err = *slot;
        *slot = saved;
        if ret == -1 {
            -c_long::from(err)
        } else {
            ret
        }
    }
}

/// A raw system call with up to four arguments: see arch/x86_64.rs.
///
/// # Safety
/// As for the x86_64 version.
pub unsafe fn syscall4(nr: c_long, a: c_long, b: c_long, c: c_long, d: c_long) -> c_long {
    // SAFETY: the caller's contract for the arguments.
    unsafe { errno_neutral(|| libc::syscall(nr, a, b, c, d)) }
}

/// A raw system call with six arguments: see arch/x86_64.rs.
///
/// # Safety
/// As for syscall4.
pub unsafe fn syscall6(nr: c_long, a: [c_long; 6]) -> c_long {
    // SAFETY: the caller's contract for the arguments.
    unsafe { errno_neutral(|| libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5])) }
}
