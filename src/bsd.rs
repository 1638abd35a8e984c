//! The BSD shared memory calls Linux libcs lack: FreeBSD's SHM_ANON and shm_rename, and
//! OpenBSD's shm_mkstemp. Each follows its system's rules (docs/COMPAT.md cites them).

use core::ffi::{c_char, c_int, CStr};

use crate::compat;
use crate::config::{self, Dir};
use crate::name::{self, ShmPath};
use crate::place;
use crate::shm;
use crate::sys::{self, Errno};

/// shm_rename: fail with EEXIST rather than replace an object at the target name. (The header's
/// definition: cbindgen exports the library's `pub const`s; its other constants are
/// `pub(crate)`.)
pub const SHM_RENAME_NOREPLACE: c_int = 1 << 0;
/// shm_rename: swap the two objects atomically (a plain rename when the target is missing).
pub const SHM_RENAME_EXCHANGE: c_int = 1 << 1;

/// shm_open(SHM_ANON, oflag, mode), as FreeBSD's kern_shm_open2: an anonymous object, shared
/// only through its descriptor, sealable (MFD_ALLOW_SEALING), with mode less the umask. An
/// unusable RTSHM_DIR fails it with EINVAL, as every call.
#[inline(never)] // its /proc buffer stays out of shm_open's frame
pub fn open_anon(oflag: c_int, mode: libc::mode_t) -> Result<c_int, Errno> {
    let dir = config::dir();
    if let Dir::Invalid = dir {
        return Err(Errno(libc::EINVAL));
    }
    let acc = oflag & libc::O_ACCMODE;
    if acc != libc::O_RDONLY && acc != libc::O_RDWR {
        return Err(Errno(libc::EINVAL));
    }
    if oflag & !compat::FREEBSD_OPEN_FLAGS != 0 || acc == libc::O_RDONLY {
        // "A read-only anonymous object is pointless."
        return Err(Errno(libc::EINVAL));
    }
    let mode = mode & 0o777 & !current_umask(dir);
    let fd = sys::memfd(c"SHM_ANON", libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)?;
    if let Err(e) = sys::fchmod(fd, mode) {
        sys::close(fd);
        return Err(e);
    }
    Ok(fd)
}

/// The umask a new object is made under assumed where it cannot be learnt: the strictest usual
/// one, so that an object is never more open than the program asked.
const UMASK_UNKNOWN: libc::mode_t = 0o077;

/// The process's umask, learnt without changing it, even for a moment (another thread may be
/// creating a file at that moment): from /proc/self/status; where /proc is missing, from the
/// mode the kernel gives an unnamed file (O_TMPFILE) made in the objects' directory, which is
/// the mode a named object made there would get (a default ACL on the directory replaces the
/// umask there, and so here); where neither works, UMASK_UNKNOWN.
fn current_umask(dir: Dir) -> libc::mode_t {
    umask_from_proc()
        .or_else(|| umask_from_tmpfile(dir))
        .unwrap_or(UMASK_UNKNOWN)
}

/// The mode bits the kernel leaves out of an unnamed file (O_TMPFILE) made with mode 0777 in
/// the objects' directory `dir`.
#[inline(never)] // its buffers stay out of the caller's frame
fn umask_from_tmpfile(dir: Dir) -> Option<libc::mode_t> {
    let tmpfile = |path: &CStr| {
        let flags = libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC;
        let fd = sys::open(path, flags, 0o777).ok()?;
        let st = sys::fstat(fd);
        sys::close(fd);
        st.ok().map(|st| !st.st_mode & 0o777)
    };
    match dir {
        Dir::Default => tmpfile(name::DEFAULT_DIR),
        Dir::Custom(d) if d.is_empty() => tmpfile(c"/"),
        Dir::Custom(d) => d.with_c_str(tmpfile).ok().flatten(),
        _ => None,
    }
}

/// How much of /proc/self/status is read: "Umask:" is its third line, well inside.
const STATUS_HEAD: usize = 256;

/// The umask on the line that starts with "Umask:" in /proc/self/status. It is looked for at
/// the start of a line: the first line, "Name:", shows the program's name, tabs unescaped, and
/// whoever runs a program chooses its name.
#[inline(never)] // its buffer stays out of the caller's frame
fn umask_from_proc() -> Option<libc::mode_t> {
    let mut status = [0u8; STATUS_HEAD];
    let fd = sys::open(c"/proc/self/status", libc::O_RDONLY | libc::O_CLOEXEC, 0).ok()?;
    let got = sys::read(fd, &mut status);
    sys::close(fd);
    let text = status.get(..got.ok()?)?;
    let key = b"\nUmask:\t";
    let at = text.windows(key.len()).position(|w| w == key)?;
    Some(
        text.iter()
            .skip(at + key.len())
            .take_while(|b| (b'0'..=b'7').contains(b))
            .fold(0, |m, &b| m * 8 + libc::mode_t::from(b - b'0')),
    )
}

/// shm_rename(from, to, flags), FreeBSD's sys_shm_rename on Linux: atomic, through
/// renameat2. Other flags, both flags, or SHM_ANON on either side are EINVAL; then each name
/// is checked and resolved as shm_open's (RTSHM_COMPAT included), `from` first.
///
/// # Safety
/// `from` and `to` are NULL, SHM_ANON, or point to NUL-terminated strings.
pub unsafe fn rename(from: *const c_char, to: *const c_char, flags: c_int) -> Result<(), Errno> {
    let known = SHM_RENAME_NOREPLACE | SHM_RENAME_EXCHANGE;
    if flags & !known != 0 || flags == known || place::is_anon(from) || place::is_anon(to) {
        return Err(Errno(libc::EINVAL));
    }
    // SAFETY: the caller's contract for `from`.
    let from = unsafe { resolve(from) }?;
    // SAFETY: the caller's contract for `to`.
    let to = unsafe { resolve(to) }?;
    name::with_path::<false, _>(from.rest, from.dir, |from| {
        name::with_path::<false, _>(to.rest, to.dir, |to| rename_paths(from?, to?, flags))
    })
}

/// One of shm_rename's names, resolved as shm_open's (RTSHM_COMPAT's rules included).
///
/// # Safety
/// `name` is NULL, SHM_ANON, or points to a NUL-terminated string that outlives `'a`.
#[inline(never)] // one copy for both names
unsafe fn resolve<'a>(name: *const c_char) -> Result<place::Place<'a>, Errno> {
    let plain = config::plain_default();
    if !plain {
        // SAFETY: the caller's contract for `name`.
        unsafe { compat::adjust("shm_rename", name, None) }?;
    }
    // SAFETY: as above.
    unsafe { place::resolve::<false>(plain, name) }.map_err(|e| e.errno(libc::EINVAL))
}

/// shm_rename on the two paths.
fn rename_paths(from: &ShmPath<'_>, to: &ShmPath<'_>, flags: c_int) -> Result<(), Errno> {
    // "Rename with from/to equal is a no-op" (FreeBSD compares the names).
    if from.as_bytes_with_nul() == to.as_bytes_with_nul() {
        return Ok(());
    }
    let result = match flags {
        SHM_RENAME_NOREPLACE => sys::rename(from.as_c_str(), to.as_c_str(), libc::RENAME_NOREPLACE),
        SHM_RENAME_EXCHANGE => exchange(from, to),
        _ => sys::rename(from.as_c_str(), to.as_c_str(), 0),
    };
    // As for unlink: the sticky directory's refusal is EACCES, FreeBSD's answer.
    result.map_err(place::refused)
}

/// FreeBSD's EXCHANGE: swap, or, with no object at `to`, a plain rename. renameat2 says
/// ENOENT for a missing target; the rename that follows refuses to replace anything
/// (RENAME_NOREPLACE), so there is never a moment when neither name exists, and an object
/// that appears at `to` meanwhile is swapped after all.
fn exchange(from: &ShmPath<'_>, to: &ShmPath<'_>) -> Result<(), Errno> {
    let (from, to) = (from.as_c_str(), to.as_c_str());
    loop {
        match sys::rename(from, to, libc::RENAME_EXCHANGE) {
            Err(Errno(libc::ENOENT)) => match sys::rename(from, to, libc::RENAME_NOREPLACE) {
                Err(Errno(libc::EEXIST)) => continue,
                done => return done,
            },
            done => return done,
        }
    }
}

/// How many names shm_mkstemp tries before giving up with EEXIST.
const MKSTEMP_TRIES: usize = 100;
/// How many trailing X's a template needs, at least (OpenBSD's).
const MKSTEMP_XS: usize = 6;
/// Zero bytes after a trial name's NUL, for strchrnul's aligned reads (glibc reads up to 64
/// bytes at a time).
const STRCHRNUL_SLACK: usize = 64;

/// shm_mkstemp(template), OpenBSD's: at least six trailing X's, replaced by random letters and
/// digits until shm_open(O_RDWR | O_CREAT | O_EXCL, 0600) makes a new object; the template is
/// changed in place only on success. NULL is EFAULT.
///
/// # Safety
/// `template` is NULL or points to a writable NUL-terminated string.
pub unsafe fn mkstemp(template: *mut c_char) -> Result<c_int, Errno> {
    if template.is_null() {
        return Err(Errno(libc::EFAULT));
    }
    // SAFETY: the caller's contract.
    let bytes = unsafe { name::c_bytes(template) };
    let xs = bytes.iter().rev().take_while(|&&b| b == b'X').count();
    if xs < MKSTEMP_XS {
        return Err(Errno(libc::EINVAL));
    }
    if bytes.len() >= name::PATH_MAX {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    // The trial names are made in a copy, with the NUL and defined bytes after it: glibc's
    // vectorised strchrnul reads whole aligned blocks past the end of a string, and memcheck
    // would see those bytes undefined.
    let room = (bytes.len() + STRCHRNUL_SLACK).min(name::PATH_MAX);
    name::with_room(room, |room| {
        for (r, b) in room
            .iter_mut()
            .zip(bytes.iter().chain(core::iter::repeat(&0)))
        {
            r.write(*b);
        }
        let trial: *mut u8 = room.as_mut_ptr().cast();
        let start = bytes.len() - xs;
        let exclusive = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
        for _ in 0..MKSTEMP_TRIES {
            // SAFETY: the X's are the last `xs` bytes of the copy, all initialised.
            crate::temp::letters(unsafe { core::slice::from_raw_parts_mut(trial.add(start), xs) });
            // SAFETY: the copy is NUL-terminated (its bytes after the name are zero).
            match unsafe { shm::open(trial.cast_const().cast(), exclusive, 0o600, |r| r) } {
                Ok(fd) => {
                    // SAFETY: the template is writable for its length (the caller's contract)
                    // and the trial name is as long.
                    unsafe {
                        libc::memmove(template.cast(), trial.cast_const().cast(), bytes.len());
                    }
                    return Ok(fd);
                }
                Err(Errno(libc::EEXIST)) => {}
                Err(e) => return Err(e),
            }
        }
        Err(Errno(libc::EEXIST))
    })
}
