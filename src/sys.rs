//! The system calls the library makes, each returning `Result<_, Errno>`, and errno itself.
//!
//! The system calls are made directly (inline `syscall`/`svc` on x86_64 and aarch64, libc's
//! `syscall(2)` elsewhere): never a cancellation point, never a write to errno on success, and
//! no wrapper's cost on the path every call takes.

use core::ffi::{c_int, c_long, c_uint, CStr};

// The raw system call for this architecture: one file each, as in musl and rustix.
#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64.rs")]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    path = "arch/other.rs"
)]
mod arch;
use arch::{syscall4, syscall6};

/// An errno value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub c_int);

/// Sets the calling thread's errno.
pub fn set_errno(e: Errno) {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid and writable for
    // the thread's life; only this thread touches it.
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

/// openat(AT_FDCWD, path, flags, mode), passing the mode only where the kernel uses it, as
/// glibc's open does.
pub fn open(path: &CStr, flags: c_int, mode: libc::mode_t) -> Result<c_int, Errno> {
    open_at(libc::AT_FDCWD, path, flags, mode)
}

/// openat(dir, path, flags, mode), the mode passed only where the kernel uses it.
pub fn open_at(dir: c_int, path: &CStr, flags: c_int, mode: libc::mode_t) -> Result<c_int, Errno> {
    let mode = if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        mode
    } else {
        0
    };
    // SAFETY: a NUL-terminated path that outlives the call; openat only reads it.
    let fd = unsafe {
        syscall4(
            libc::SYS_openat,
            dir as c_long,
            path.as_ptr() as c_long,
            flags as c_long,
            mode as c_long,
        )
    };
    // A descriptor always fits in c_int.
    check(fd).map(|fd| fd as c_int)
}

/// unlinkat(AT_FDCWD, path, 0).
pub fn unlink(path: &CStr) -> Result<(), Errno> {
    // SAFETY: a NUL-terminated path that outlives the call; unlinkat only reads it.
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
pub fn link(from: &CStr, to: &CStr) -> Result<(), Errno> {
    let cwd = libc::AT_FDCWD as c_long;
    let args = [
        cwd,
        from.as_ptr() as c_long,
        cwd,
        to.as_ptr() as c_long,
        0,
        0,
    ];
    // SAFETY: both paths are NUL-terminated and outlive the call; linkat only reads them.
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
    stat_at(fd, c"", libc::AT_EMPTY_PATH)
}

/// stat(path), following symbolic links.
pub fn stat(path: &CStr) -> Result<libc::stat, Errno> {
    stat_at(libc::AT_FDCWD, path, 0)
}

/// newfstatat(dir, path, flags).
fn stat_at(dir: c_int, path: &CStr, flags: c_int) -> Result<libc::stat, Errno> {
    let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
    let args = [
        dir as c_long,
        path.as_ptr() as c_long,
        st.as_mut_ptr() as c_long,
        flags as c_long,
        0,
        0,
    ];
    // SAFETY: the kernel writes a struct stat (the kernel's layout is libc's on the
    // architectures this library supports) into `st`, and reads the NUL-terminated path.
    check(unsafe { syscall6(libc::SYS_newfstatat, args) })?;
    // SAFETY: newfstatat succeeded, so it filled `st`.
    Ok(unsafe { st.assume_init() })
}

/// statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS): an open file's type, size, device and
/// attributes (append-only, immutable), which struct stat does not carry.
pub fn statx(fd: c_int) -> Result<libc::statx, Errno> {
    let mut st = core::mem::MaybeUninit::<libc::statx>::uninit();
    let args = [
        fd as c_long,
        c"".as_ptr() as c_long,
        libc::AT_EMPTY_PATH as c_long,
        libc::STATX_BASIC_STATS as c_long,
        st.as_mut_ptr() as c_long,
        0,
    ];
    // SAFETY: the kernel writes a struct statx into `st` and reads the empty path.
    check(unsafe { syscall6(libc::SYS_statx, args) })?;
    // SAFETY: statx succeeded, so it filled `st`.
    Ok(unsafe { st.assume_init() })
}

/// The file system an open file is on: its magic number and block size (fstatfs).
pub fn fs_of(fd: c_int) -> Result<(i64, usize), Errno> {
    let st = statfs(fd)?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
    Ok((st.f_type as i64, st.f_bsize as usize))
}

/// fstatfs(fd).
pub fn statfs(fd: c_int) -> Result<libc::statfs, Errno> {
    let mut st = core::mem::MaybeUninit::<libc::statfs>::uninit();
    let args = [fd as c_long, st.as_mut_ptr() as c_long, 0, 0, 0, 0];
    // SAFETY: the kernel writes a struct statfs into `st`.
    check(unsafe { syscall6(libc::SYS_fstatfs, args) })?;
    // SAFETY: fstatfs succeeded, so it filled `st`.
    Ok(unsafe { st.assume_init() })
}

/// ftruncate(fd, len): the kernel's answer as it is (the exported ftruncate's whole cost when
/// RTSHM_RESERVE is off).
#[inline(always)]
pub fn ftruncate(fd: c_int, len: i64) -> Result<c_int, Errno> {
    // SAFETY: no memory is passed.
    let ret = unsafe { syscall4(libc::SYS_ftruncate, fd as c_long, len as c_long, 0, 0) };
    check(ret).map(|r| r as c_int)
}

/// fcntl(fd, F_GETFL): the flags the file was opened with.
pub fn open_flags(fd: c_int) -> Result<c_int, Errno> {
    // SAFETY: no memory is passed.
    let ret = unsafe { syscall4(libc::SYS_fcntl, fd as c_long, libc::F_GETFL as c_long, 0, 0) };
    check(ret).map(|flags| flags as c_int)
}

/// fallocate(fd, mode, offset, len).
pub fn fallocate(fd: c_int, mode: c_int, offset: i64, len: i64) -> Result<(), Errno> {
    // SAFETY: no memory is passed.
    let ret = unsafe {
        syscall4(
            libc::SYS_fallocate,
            fd as c_long,
            mode as c_long,
            offset as c_long,
            len as c_long,
        )
    };
    check(ret).map(drop)
}

/// readlinkat(fd, "", buf): the target of the symbolic link an O_PATH descriptor names, not
/// NUL-terminated; a target that fills `buf` is ENAMETOOLONG.
pub fn read_link(fd: c_int, buf: &mut [u8]) -> Result<usize, Errno> {
    read_link_at(fd, c"", buf)
}

/// readlinkat(dir, path, buf), as read_link.
pub fn read_link_at(dir: c_int, path: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    let args = [
        dir as c_long,
        path.as_ptr() as c_long,
        buf.as_mut_ptr() as c_long,
        buf.len() as c_long,
        0,
        0,
    ];
    // SAFETY: the kernel reads the NUL-terminated path and writes at most buf.len() bytes into
    // the live, exclusive buffer.
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

/// getrandom(buf, GRND_NONBLOCK): how many random bytes the kernel wrote into `buf`.
pub fn random_bytes(buf: &mut [u8]) -> Result<usize, Errno> {
    let args = [
        buf.as_mut_ptr() as c_long,
        buf.len() as c_long,
        libc::GRND_NONBLOCK as c_long,
        0,
        0,
        0,
    ];
    // SAFETY: the kernel writes at most buf.len() bytes into the live, exclusive buffer.
    check(unsafe { syscall6(libc::SYS_getrandom, args) }).map(|n| n as usize)
}

/// read(fd, buf): how many bytes were read into `buf`.
pub fn read(fd: c_int, buf: &mut [u8]) -> Result<usize, Errno> {
    let args = [
        fd as c_long,
        buf.as_mut_ptr() as c_long,
        buf.len() as c_long,
        0,
        0,
        0,
    ];
    // SAFETY: the kernel writes at most buf.len() bytes into the live, exclusive buffer.
    check(unsafe { syscall6(libc::SYS_read, args) }).map(|n| n as usize)
}

/// memfd_create(name, flags): an anonymous file.
pub fn memfd(name: &CStr, flags: c_uint) -> Result<c_int, Errno> {
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

/// renameat2(AT_FDCWD, from, AT_FDCWD, to, flags).
pub fn rename(from: &CStr, to: &CStr, flags: c_uint) -> Result<(), Errno> {
    let cwd = libc::AT_FDCWD as c_long;
    let args = [
        cwd,
        from.as_ptr() as c_long,
        cwd,
        to.as_ptr() as c_long,
        flags as c_long,
        0,
    ];
    // SAFETY: both paths are NUL-terminated and outlive the call; renameat2 only reads them.
    check(unsafe { syscall6(libc::SYS_renameat2, args) }).map(drop)
}
