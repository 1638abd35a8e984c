//! Whether RTSHM_DIR is safe to keep objects in: the rule OpenSSH applies to the path of
//! authorized_keys. Every component from / down to the directory itself, each symbolic link met
//! on the way included, is owned by root or the process's user, and no directory on the way is
//! writable by group or others unless it is sticky (as /tmp and /dev/shm are). The process's
//! user is its uid when its real, effective and saved uids agree; a process whose ids differ
//! (it can switch between them, as root that set its effective uid for a while can) trusts
//! root's directories only, since what another of its uids owns could be changed under it
//! once it switches back. No component may be on a FUSE file system, whose server reports any
//! owner it likes, and the directory must be what a path through it reaches (an automount or a
//! mount over it would lead elsewhere).
//!
//! Such a path cannot be changed afterwards by anyone but root and the process's own user: a
//! sticky directory lets others add entries but not rename or remove ours. So the check runs
//! once, at the first use of the directory, and holds from then on. A component that does not
//! exist yet is not a verdict (someone may still make it, safely or not): the check runs again
//! at the next call, and until it passes nothing is opened there.
//!
//! The walk opens each component with O_PATH | O_NOFOLLOW and looks at what it opened (fstat),
//! so what is judged is what is entered; symbolic links are read (readlinkat) and their targets
//! walked in turn, up to 40 of them, the kernel's limit. Its buffers are in a mapping of its
//! own: the first call may run in a signal handler on a small stack.

use core::ffi::{c_int, CStr};

use crate::name::{NAME_MAX, PATH_MAX};
use crate::sys::{self, Errno};

/// Why a directory is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Owned by this uid, neither root nor the process's user (sys::settled_uid).
    Owner(libc::uid_t),
    /// A directory with the group or world write bit, not sticky.
    Writable,
    /// A symbolic link owned by this uid, neither root nor the process's user.
    LinkOwner(libc::uid_t),
    /// Neither a directory nor a symbolic link.
    NotDirectory,
    /// On a FUSE file system.
    Fuse,
    /// A path through the directory leads elsewhere (an automount, or a mount over it).
    MountedOver,
    /// The walk met this error there (EACCES, ELOOP, ENAMETOOLONG...).
    Unchecked(Errno),
}

/// What the check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every component passed.
    Safe,
    /// A component does not exist (yet).
    Missing,
    /// The check could not finish for a reason that may pass (no memory, no descriptor).
    Retry(Errno),
    /// A component failed; `refuse` was told which and why.
    Unsafe,
}

/// The most symbolic links one walk follows (the kernel's MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// FUSE_SUPER_MAGIC: fuse and fuseblk.
const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;

/// The walk's buffers.
struct Work {
    /// The path as given, for messages.
    path: [u8; PATH_MAX],
    /// The path still to walk: `todo[at..end]`.
    todo: [u8; PATH_MAX],
    /// A symbolic link's target, then the target followed by the rest of `todo`.
    link: [u8; PATH_MAX],
    /// The path walked so far, for messages: "" is the root.
    done: [u8; 2 * PATH_MAX],
    /// The component being looked at, NUL-terminated.
    comp: [u8; NAME_MAX + 1],
}

/// Checks the absolute path that `fill` writes into the `len` bytes it is given. When a
/// component fails, `refuse` is called once with the path, the component's path and the
/// reason.
pub fn check(
    len: usize,
    fill: impl FnOnce(&mut [u8]),
    refuse: impl FnOnce(&[u8], &[u8], Why),
) -> Verdict {
    let size = core::mem::size_of::<Work>();
    let Ok(page) = sys::map(size, -1) else {
        return Verdict::Retry(Errno(libc::ENOMEM));
    };
    // SAFETY: a fresh, zeroed, private mapping of size_of::<Work>() bytes, page-aligned; Work
    // is arrays of bytes, for which zeros are valid. It is this call's alone and unmapped below
    // after the last use of `work`.
    let work = unsafe { &mut *page.cast::<Work>() };
    let len = len.min(PATH_MAX);
    fill(work.path.get_mut(..len).unwrap_or_default());
    work.todo = work.path;
    let mut fd = -1;
    // The walk hands the path's parts to the kernel as C strings (from_bytes_with_nul_unchecked
    // below relies on this): a NUL in it is refused. None comes from the environment.
    let walked = if work.path.get(..len).unwrap_or_default().contains(&0) {
        Err((0, Why::Unchecked(Errno(libc::EINVAL))))
    } else {
        walk(work, len, &mut fd)
    };
    let verdict = match walked {
        Ok(verdict) => verdict,
        Err((done, why)) => {
            let at = work
                .done
                .get(..done)
                .filter(|p| !p.is_empty())
                .unwrap_or(b"/");
            refuse(work.path.get(..len).unwrap_or_default(), at, why);
            Verdict::Unsafe
        }
    };
    if fd >= 0 {
        sys::close(fd);
    }
    // SAFETY: `work` is not used after this.
    let _ = unsafe { sys::unmap(page, size) };
    verdict
}

/// How an error met on the way is judged.
fn failed(e: Errno) -> Result<(), Verdict> {
    match e.0 {
        libc::ENOENT => Err(Verdict::Missing),
        libc::EMFILE
        | libc::ENFILE
        | libc::ENOMEM
        | libc::EINTR
        | libc::EAGAIN
        | libc::EIO
        | libc::ESTALE
        | libc::ENOTCONN
        | libc::ETIMEDOUT => Err(Verdict::Retry(e)),
        _ => Ok(()),
    }
}

/// Whether the file `st` describes may be on the way, for a process whose user is `user`.
fn judge(st: &libc::stat, user: Option<libc::uid_t>) -> Option<Why> {
    let trusted = st.st_uid == 0 || Some(st.st_uid) == user;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFLNK if !trusted => Some(Why::LinkOwner(st.st_uid)),
        libc::S_IFLNK => None,
        libc::S_IFDIR if !trusted => Some(Why::Owner(st.st_uid)),
        libc::S_IFDIR
            if st.st_mode & (libc::S_IWGRP | libc::S_IWOTH) != 0
                && st.st_mode & libc::S_ISVTX == 0 =>
        {
            Some(Why::Writable)
        }
        libc::S_IFDIR => None,
        _ => Some(Why::NotDirectory),
    }
}

/// The next entry to enter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// "/" (the start, or an absolute link target).
    Root,
    /// "..".
    Parent,
    /// The `n`-byte name in `Work::comp`.
    Child(usize),
}

/// Whether the directory the walk ended in (`fd`) is what "<path>/." reaches when followed, as
/// a path to an object in it will be: not if an automount or a mount over it leads elsewhere.
fn reached(w: &mut Work, len: usize, fd: c_int) -> Result<Verdict, Why> {
    let path = w.path.get(..len).unwrap_or_default();
    let Some(end) = put(&mut w.link, 0, path).and_then(|at| put(&mut w.link, at, b"/.\0")) else {
        return Err(Why::Unchecked(Errno(libc::ENAMETOOLONG)));
    };
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: the path (checked to hold no NUL in check; symbolic links' targets hold none),
    // "/." and its NUL, written just above, end at `end`.
    let link = unsafe { CStr::from_bytes_with_nul_unchecked(w.link.get(..end).unwrap_or(b"\0")) };
    let through = match sys::open(link, flags, 0) {
        Ok(through) => through,
        Err(e) => {
            return match failed(e) {
                Err(verdict) => Ok(verdict),
                Ok(()) => Err(Why::Unchecked(e)),
            }
        }
    };
    let same = match (sys::fstat(through), sys::fstat(fd)) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    };
    sys::close(through);
    if same {
        Ok(Verdict::Safe)
    } else {
        Err(Why::MountedOver)
    }
}

/// Writes `bytes` into `buf` at `at`; returns where they end, or None if they do not fit.
fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> Option<usize> {
    let end = at.checked_add(bytes.len())?;
    buf.get_mut(at..end)?.copy_from_slice(bytes);
    Some(end)
}

/// The walk itself; `fd` is the directory it is in (closed by the caller). A refusal is the
/// length of the refused entry's path in `w.done`, and why.
fn walk(w: &mut Work, len: usize, fd: &mut c_int) -> Result<Verdict, (usize, Why)> {
    let user = sys::settled_uid();
    let (mut at, mut end) = (0, len);
    let mut done = 0; // the bytes of `w.done` in use: the path of the entry being entered
    let mut links = 0;
    let mut step = Step::Root;
    let too_long = Why::Unchecked(Errno(libc::ENAMETOOLONG));
    loop {
        // Enter the entry: open it without following it, and judge what was opened.
        let before = done;
        let (base, name): (c_int, &[u8]) = match step {
            Step::Root => {
                done = 0;
                (libc::AT_FDCWD, b"/\0")
            }
            Step::Parent => {
                let parent = w
                    .done
                    .get(..done)
                    .and_then(|d| d.iter().rposition(|&b| b == b'/'));
                done = parent.unwrap_or(0);
                (*fd, b"..\0")
            }
            Step::Child(n) => {
                let name = w.comp.get(..n).unwrap_or_default();
                match put(&mut w.done, done, b"/").and_then(|at| put(&mut w.done, at, name)) {
                    Some(end) => done = end,
                    None => return Err((done, too_long)),
                }
                (*fd, w.comp.get(..=n).unwrap_or(b"\0"))
            }
        };
        let flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: `name` is "/", ".." or a component of the path, each with its one NUL (comp's
        // is written with the name); the path holds no NUL (checked in check), nor do symbolic
        // links' targets.
        let name = unsafe { CStr::from_bytes_with_nul_unchecked(name) };
        let opened = sys::open_at(base, name, flags, 0);
        let entered = opened.and_then(|next| match sys::fstat(next) {
            Ok(st) => Ok((next, st)),
            Err(e) => {
                sys::close(next);
                Err(e)
            }
        });
        let (next, st) = match entered {
            Ok(entered) => entered,
            Err(e) => {
                if let Err(v) = failed(e) {
                    return Ok(v);
                }
                return Err((done, Why::Unchecked(e)));
            }
        };
        let why = judge(&st, user).or_else(|| match sys::fs_of(next) {
            Ok((FUSE_SUPER_MAGIC, _)) => Some(Why::Fuse),
            _ => None,
        });
        if let Some(why) = why {
            sys::close(next);
            return Err((done, why));
        }
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            // A trusted link: its target is walked next, then the rest of the path.
            links += 1;
            let target = if links > MAX_LINKS {
                Err(Errno(libc::ELOOP))
            } else {
                sys::read_link(next, &mut w.link)
            };
            sys::close(next);
            let n = match target {
                Ok(n) => n,
                Err(e) => {
                    if let Err(v) = failed(e) {
                        return Ok(v);
                    }
                    return Err((done, Why::Unchecked(e)));
                }
            };
            let rest = w.todo.get(at..end).unwrap_or_default();
            let Some(total) = put(&mut w.link, n, b"/").and_then(|at| put(&mut w.link, at, rest))
            else {
                return Err((done, too_long));
            };
            let spliced = w.link.get(..total).unwrap_or_default();
            let Some(total) = put(&mut w.todo, 0, spliced) else {
                return Err((done, too_long));
            };
            (at, end) = (0, total);
            done = before;
            if w.todo.first() == Some(&b'/') {
                step = Step::Root;
                continue;
            }
        } else {
            if *fd >= 0 {
                sys::close(*fd);
            }
            *fd = next;
        }
        // The next component, or the end of the walk.
        step = loop {
            let todo = w.todo.get(..end).unwrap_or_default();
            while todo.get(at) == Some(&b'/') {
                at += 1;
            }
            if at >= end {
                return reached(w, len, *fd).map_err(|why| (done, why));
            }
            let start = at;
            while todo.get(at).is_some_and(|&b| b != b'/') {
                at += 1;
            }
            let comp = todo.get(start..at).unwrap_or_default();
            match comp {
                b"." => continue,
                b".." => break Step::Parent,
                _ => match put(&mut w.comp, 0, comp).and_then(|n| put(&mut w.comp, n, b"\0")) {
                    Some(_) if comp.len() <= NAME_MAX => break Step::Child(comp.len()),
                    _ => return Err((done, too_long)),
                },
            }
        };
    }
}
