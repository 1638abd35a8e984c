//! The system calls the library makes, each returning `Result<_, Errno>`, and errno itself.
//!
//! The system calls are made directly (inline `syscall`/`svc` on x86_64 and aarch64, libc's
//! `syscall(2)` elsewhere): never a cancellation point, never a write to errno on success, and
//! no wrapper's cost on the path every call takes.

use core::ffi::{c_int, c_long};

use crate::name::ShmPath;

/// An errno value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub c_int);

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
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

/// The kernel's convention: -4095..=-1 is an errno, anything else a result.
fn check(ret: c_long) -> Result<c_long, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as c_int))
    } else {
        Ok(ret)
    }
}

/// A raw system call with up to four arguments (unused ones 0): no errno, no cancellation
/// point, no wrapper. Returns the kernel's value: a result, or -errno.
///
/// # Safety
/// The arguments are valid for system call `nr`: pointers among them point to memory the
/// kernel may read (and, if the call writes, write) for the call's duration.
#[cfg(target_arch = "x86_64")]
unsafe fn syscall4(nr: c_long, a: c_long, b: c_long, c: c_long, d: c_long) -> c_long {
    let ret: c_long;
    // SAFETY: the caller's contract for the arguments. The `syscall` instruction clobbers only
    // rax (the result), rcx and r11, and restores the flags. Memory is not declared untouched,
    // so everything the kernel reads has been written before it runs.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags),
        );
    }
    ret
}

/// A raw system call: see the x86_64 version.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(target_arch = "aarch64")]
unsafe fn syscall4(nr: c_long, a: c_long, b: c_long, c: c_long, d: c_long) -> c_long {
    let ret: c_long;
    // SAFETY: the caller's contract for the arguments; `svc 0` returns in x0 and clobbers no
    // other register; memory as on x86_64.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a => ret,
            in("x1") b,
            in("x2") c,
            in("x3") d,
            options(nostack, preserves_flags),
        );
    }
    ret
}

/// A raw system call: see the x86_64 version. Elsewhere libc's syscall(2) makes it (no
/// cancellation point either); its -1 and errno are turned back into -errno. It writes errno
/// only on failure, which the caller then overwrites with its own answer.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn syscall4(nr: c_long, a: c_long, b: c_long, c: c_long, d: c_long) -> c_long {
    // SAFETY: the caller's contract for the arguments.
    match unsafe { libc::syscall(nr, a, b, c, d) } {
        -1 => -(last_errno().0 as c_long),
        ret => ret,
    }
}

/// openat(AT_FDCWD, path, flags, mode), passing the mode only where the kernel uses it, as
/// glibc's open does.
pub fn open(path: &ShmPath<'_>, flags: c_int, mode: libc::mode_t) -> Result<c_int, Errno> {
    let mode = if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        mode
    } else {
        0
    };
    // SAFETY: the path is a NUL-terminated buffer that outlives the call; openat only reads it.
    let fd = unsafe {
        syscall4(
            libc::SYS_openat,
            libc::AT_FDCWD as c_long,
            path.as_ptr() as c_long,
            flags as c_long,
            mode as c_long,
        )
    };
    // A descriptor always fits in c_int.
    check(fd).map(|fd| fd as c_int)
}

/// unlinkat(AT_FDCWD, path, 0).
pub fn unlink(path: &ShmPath<'_>) -> Result<(), Errno> {
    // SAFETY: the path is a NUL-terminated buffer that outlives the call; unlinkat only reads
    // it.
    let ret = unsafe {
        syscall4(
            libc::SYS_unlinkat,
            libc::AT_FDCWD as c_long,
            path.as_ptr() as c_long,
            0,
            0,
        )
    };
    check(ret).map(drop)
}
