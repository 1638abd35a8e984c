//! x86_64's system call instruction: `syscall`, number in rax, arguments in rdi, rsi, rdx, r10,
//! r8, r9; the result (or -errno) in rax.

use core::ffi::c_long;

/// A raw system call with up to four arguments (unused ones 0): no errno, no cancellation
/// point, no wrapper. Returns the kernel's value: a result, or -errno.
///
/// # Safety
/// The arguments are valid for system call `nr`: pointers among them point to memory the
/// kernel may read (and, if the call writes, write) for the call's duration.
pub unsafe fn syscall4(nr: c_long, a: c_long, b: c_long, c: c_long, d: c_long) -> c_long {
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

/// A raw system call with six arguments, for the calls the semaphore code makes: kept apart
/// from syscall4 so that shm_open loads no registers it does not need.
///
/// # Safety
/// As for syscall4.
pub unsafe fn syscall6(nr: c_long, a: [c_long; 6]) -> c_long {
    let ret: c_long;
    // SAFETY: as for syscall4; r8 and r9 carry the fifth and sixth arguments.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags),
        );
    }
    ret
}
