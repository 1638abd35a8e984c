//! The system calls the library makes, each returning `Result<_, Errno>`, and errno itself.
//!
//! The system calls are made directly (inline `syscall`/`svc` on x86_64 and aarch64, libc's
//! `syscall(2)` elsewhere): never a cancellation point, never a write to errno on success, and
//! no wrapper's cost on the path every call takes.

use core::ffi::{c_int, c_long, c_uint};

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

/// A raw system call with six arguments, for the calls the semaphore code makes: kept apart
/// from syscall4 so that shm_open loads no registers it does not need.
///
/// # Safety
/// As for syscall4.
#[cfg(target_arch = "x86_64")]
unsafe fn syscall6(nr: c_long, a: [c_long; 6]) -> c_long {
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

/// A raw system call with six arguments: see the x86_64 version.
///
/// # Safety
/// As for syscall4.
#[cfg(target_arch = "aarch64")]
unsafe fn syscall6(nr: c_long, a: [c_long; 6]) -> c_long {
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

/// A raw system call with six arguments: see the x86_64 version.
///
/// # Safety
/// As for syscall4.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn syscall6(nr: c_long, a: [c_long; 6]) -> c_long {
    // SAFETY: the caller's contract for the arguments.
    match unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) } {
        -1 => -(last_errno().0 as c_long),
        ret => ret,
    }
}

/// openat(AT_FDCWD, path, flags, mode), passing the mode only where the kernel uses it, as
/// glibc's open does.
pub fn open(path: &ShmPath<'_>, flags: c_int, mode: libc::mode_t) -> Result<c_int, Errno> {
    // SAFETY: the path is a NUL-terminated buffer that outlives the call.
    unsafe { open_at(libc::AT_FDCWD, path.as_ptr(), flags, mode) }
}

/// openat(dir, path, flags, mode), the mode passed only where the kernel uses it.
///
/// # Safety
/// `path` points to a NUL-terminated string.
pub unsafe fn open_at(
    dir: c_int,
    path: *const core::ffi::c_char,
    flags: c_int,
    mode: libc::mode_t,
) -> Result<c_int, Errno> {
    let mode = if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        mode
    } else {
        0
    };
    // SAFETY: the caller's contract for `path`; openat only reads it.
    let fd = unsafe {
        syscall4(
            libc::SYS_openat,
            dir as c_long,
            path as c_long,
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

/// linkat(AT_FDCWD, from, AT_FDCWD, to, 0): a second name for a file, never replacing one.
pub fn link(from: &ShmPath<'_>, to: &ShmPath<'_>) -> Result<(), Errno> {
    let cwd = libc::AT_FDCWD as c_long;
    let args = [
        cwd,
        from.as_ptr() as c_long,
        cwd,
        to.as_ptr() as c_long,
        0,
        0,
    ];
    // SAFETY: both paths are NUL-terminated buffers that outlive the call; linkat only reads
    // them.
    check(unsafe { syscall6(libc::SYS_linkat, args) }).map(drop)
}

/// write(fd, bytes), all of them or an error (EINTR retried; a short write is EIO).
pub fn write_all(fd: c_int, bytes: &[u8]) -> Result<(), Errno> {
    loop {
        let args = [
            fd as c_long,
            bytes.as_ptr() as c_long,
            bytes.len() as c_long,
            0,
            0,
            0,
        ];
        // SAFETY: the kernel reads `bytes.len()` bytes of a live slice.
        match check(unsafe { syscall6(libc::SYS_write, args) }) {
            Err(Errno(libc::EINTR)) => continue,
            Err(e) => return Err(e),
            Ok(n) if n as usize == bytes.len() => return Ok(()),
            Ok(_) => return Err(Errno(libc::EIO)),
        }
    }
}

/// close(fd), whose errors (EINTR, EIO after the file is gone) nobody can act on.
pub fn close(fd: c_int) {
    // SAFETY: closing a descriptor this library opened and owns.
    let _ = unsafe { syscall6(libc::SYS_close, [fd as c_long, 0, 0, 0, 0, 0]) };
}

/// fstat(fd): what the kernel says of an open file (an O_PATH descriptor included).
pub fn fstat(fd: c_int) -> Result<libc::stat, Errno> {
    let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
    let args = [
        fd as c_long,
        c"".as_ptr() as c_long,
        st.as_mut_ptr() as c_long,
        libc::AT_EMPTY_PATH as c_long,
        0,
        0,
    ];
    // SAFETY: the kernel writes a struct stat (the kernel's layout is libc's on the
    // architectures this library supports) into `st`, and reads the empty path.
    check(unsafe { syscall6(libc::SYS_newfstatat, args) })?;
    // SAFETY: newfstatat succeeded, so it filled `st`.
    Ok(unsafe { st.assume_init() })
}

/// The file system an open file is on: its magic number and block size (fstatfs).
pub fn fs_of(fd: c_int) -> Result<(i64, usize), Errno> {
    let mut st = core::mem::MaybeUninit::<libc::statfs>::uninit();
    let args = [fd as c_long, st.as_mut_ptr() as c_long, 0, 0, 0, 0];
    // SAFETY: the kernel writes a struct statfs into `st`.
    check(unsafe { syscall6(libc::SYS_fstatfs, args) })?;
    // SAFETY: fstatfs succeeded, so it filled `st`.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
    Ok((st.f_type as i64, st.f_bsize as usize))
}

/// ftruncate(fd, len).
pub fn truncate(fd: c_int, len: usize) -> Result<(), Errno> {
    // SAFETY: no memory is passed.
    check(unsafe {
        syscall6(
            libc::SYS_ftruncate,
            [fd as c_long, len as c_long, 0, 0, 0, 0],
        )
    })
    .map(drop)
}

/// readlinkat(fd, "", buf): the target of the symbolic link an O_PATH descriptor names, not
/// NUL-terminated; a target that fills `buf` is ENAMETOOLONG.
pub fn read_link(fd: c_int, buf: &mut [u8]) -> Result<usize, Errno> {
    let args = [
        fd as c_long,
        c"".as_ptr() as c_long,
        buf.as_mut_ptr() as c_long,
        buf.len() as c_long,
        0,
        0,
    ];
    // SAFETY: the kernel writes at most buf.len() bytes into the live, exclusive buffer.
    let n = check(unsafe { syscall6(libc::SYS_readlinkat, args) })? as usize;
    if n >= buf.len() {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    Ok(n)
}

/// The user this process is for good: its uid when its real, effective and saved uids are
/// the same, None when they differ (it may switch between them: a setuid program, or root
/// that set its effective uid for a while).
pub fn settled_uid() -> Option<libc::uid_t> {
    let mut ids = [0 as libc::uid_t; 3];
    let [r, e, s] = &mut ids;
    let args = [
        r as *mut libc::uid_t as c_long,
        e as *mut libc::uid_t as c_long,
        s as *mut libc::uid_t as c_long,
        0,
        0,
        0,
    ];
    // SAFETY: the kernel writes one uid into each of the three live, exclusive words.
    check(unsafe { syscall6(libc::SYS_getresuid, args) }).ok()?;
    (ids[0] == ids[1] && ids[1] == ids[2]).then_some(ids[1])
}

/// futex(word, FUTEX_WAIT_PRIVATE, expected): sleeps while `*word == expected` (returns at
/// once otherwise, on a wake-up, or on a signal).
pub fn futex_wait(word: &core::sync::atomic::AtomicU32, expected: u32) {
    let args = [
        word.as_ptr() as c_long,
        (libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG) as c_long,
        expected as c_long,
        0,
        0,
        0,
    ];
    // SAFETY: the kernel reads the live atomic word; no timeout.
    let _ = unsafe { syscall6(libc::SYS_futex, args) };
}

/// futex(word, FUTEX_WAKE_PRIVATE, 1): wakes one waiter.
pub fn futex_wake(word: &core::sync::atomic::AtomicU32) {
    let args = [
        word.as_ptr() as c_long,
        (libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG) as c_long,
        1,
        0,
        0,
        0,
    ];
    // SAFETY: the kernel only uses the word's address.
    let _ = unsafe { syscall6(libc::SYS_futex, args) };
}

/// mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), or with fd -1 an anonymous
/// private mapping.
pub fn map(len: usize, fd: c_int) -> Result<*mut u8, Errno> {
    let flags = if fd < 0 {
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS
    } else {
        libc::MAP_SHARED
    };
    let prot = (libc::PROT_READ | libc::PROT_WRITE) as c_long;
    let args = [0, len as c_long, prot, flags as c_long, fd as c_long, 0];
    // SAFETY: a new mapping at an address the kernel chooses touches no existing memory.
    check(unsafe { syscall6(libc::SYS_mmap, args) }).map(|a| a as *mut u8)
}

/// madvise(addr, len, advice).
pub fn madvise(addr: *mut u8, len: usize, advice: c_int) -> Result<(), Errno> {
    let args = [addr as c_long, len as c_long, advice as c_long, 0, 0, 0];
    // SAFETY: the advice this library gives (MADV_WIPEONFORK) changes no memory now.
    check(unsafe { syscall6(libc::SYS_madvise, args) }).map(drop)
}

/// munmap(addr, len).
///
/// # Safety
/// Nothing refers to the mapping any more.
pub unsafe fn unmap(addr: *mut u8, len: usize) -> Result<(), Errno> {
    // SAFETY: the caller's contract.
    check(unsafe {
        syscall6(
            libc::SYS_munmap,
            [addr as c_long, len as c_long, 0, 0, 0, 0],
        )
    })
    .map(drop)
}

#[link_section = ".data"] // not .bss: see config.rs
static FALLBACK: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(0x9e37_79b9);

/// Random letters and digits for temporary names (the alphabet of glibc's and OpenBSD's
/// mktemp), from getrandom(2) without blocking; where it gives nothing, from a counter and
/// a stack address mixed: good enough to avoid collisions, and O_EXCL keeps every use safe.
pub fn random_letters(out: &mut [u8]) {
    const LETTERS: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut random = [0u8; 16];
    let args = [
        random.as_mut_ptr() as c_long,
        16,
        libc::GRND_NONBLOCK as c_long,
        0,
        0,
        0,
    ];
    // SAFETY: the kernel writes at most 16 bytes into the live, exclusive array.
    if check(unsafe { syscall6(libc::SYS_getrandom, args) }) != Ok(16) {
        let order = core::sync::atomic::Ordering::Relaxed;
        let mut x = FALLBACK.fetch_add(0x9e37_79b9, order) ^ (random.as_ptr() as usize);
        for b in &mut random {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
    for (o, r) in out.iter_mut().zip(random.iter().cycle()) {
        *o = LETTERS[usize::from(*r) % LETTERS.len()];
    }
}

/// memfd_create(name, flags): an anonymous file.
pub fn memfd(name: &core::ffi::CStr, flags: c_uint) -> Result<c_int, Errno> {
    let args = [name.as_ptr() as c_long, flags as c_long, 0, 0, 0, 0];
    // SAFETY: the kernel reads the NUL-terminated name.
    check(unsafe { syscall6(libc::SYS_memfd_create, args) }).map(|fd| fd as c_int)
}

/// fchmod(fd, mode).
pub fn fchmod(fd: c_int, mode: libc::mode_t) -> Result<(), Errno> {
    // SAFETY: no memory is passed.
    check(unsafe { syscall6(libc::SYS_fchmod, [fd as c_long, mode as c_long, 0, 0, 0, 0]) })
        .map(drop)
}

/// The start of a small file of /proc, read into `buf` (not cleared first: only the bytes read
/// are returned); None where it cannot be read.
pub fn read_proc<'b, const N: usize>(
    path: &'static core::ffi::CStr,
    buf: &'b mut core::mem::MaybeUninit<[u8; N]>,
) -> Option<&'b [u8]> {
    // SAFETY: a NUL-terminated static path.
    let fd = unsafe {
        open_at(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
            0,
        )
    }
    .ok()?;
    let args = [
        fd as c_long,
        buf.as_mut_ptr() as c_long,
        N as c_long,
        0,
        0,
        0,
    ];
    // SAFETY: the kernel writes at most N bytes into the buffer.
    let got = check(unsafe { syscall6(libc::SYS_read, args) });
    close(fd);
    // SAFETY: read wrote the first `n` (at most N) bytes.
    got.ok()
        .map(|n| unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) })
}

/// renameat2(AT_FDCWD, from, AT_FDCWD, to, flags).
pub fn rename(from: &ShmPath<'_>, to: &ShmPath<'_>, flags: c_uint) -> Result<(), Errno> {
    let cwd = libc::AT_FDCWD as c_long;
    let args = [
        cwd,
        from.as_ptr() as c_long,
        cwd,
        to.as_ptr() as c_long,
        flags as c_long,
        0,
    ];
    // SAFETY: both paths are NUL-terminated buffers that outlive the call; renameat2 only reads
    // them.
    check(unsafe { syscall6(libc::SYS_renameat2, args) }).map(drop)
}
