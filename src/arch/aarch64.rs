//! aarch64's system call instruction: `svc 0`, number in x8, arguments in x0-x5; the result
//! (or -errno) in x0.

use core::ffi::c_long;

/// A raw system call: see arch/x86_64.rs.
///
/// # Safety
/// As for the x86_64 version.
pub unsafe fn syscall4(nr: c_long, a: c_long, b: c_long, c: c_long, d: c_long) -> c_long {
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

/// A raw system call with six arguments: see the x86_64 version.
///
/// # Safety
/// As for syscall4.
pub unsafe fn syscall6(nr: c_long, a: [c_long; 6]) -> c_long {
    let ret: c_long;
    // SAFETY: as for syscall4; x4 and x5 carry the fifth and sixth arguments.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a[0] => ret,
            in("x1") a[1],
            in("x2") a[2],
            in("x3") a[3],
            in("x4") a[4],
            in("x5") a[5],
            options(nostack, preserves_flags),
        );
    }
    ret
}
