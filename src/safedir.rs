//! Whether RTSHM_DIR is safe to keep objects in: the rule OpenSSH applies to the path of
//! authorized_keys. Every component from / down to the directory itself, each symbolic link met
//! on the way included, is owned by root or the effective uid, and no directory on the way is
//! writable by group or others unless it is sticky (as /tmp and /dev/shm are).
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

use core::ffi::c_int;

use crate::name::{NAME_MAX, PATH_MAX};
use crate::sys::{self, Errno};

/// Why a directory is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Owned by this uid, neither root nor the effective uid.
    Owner(libc::uid_t),
    /// A directory with the group or world write bit, not sticky.
    Writable,
    /// A symbolic link owned by this uid, neither root nor the effective uid.
    LinkOwner(libc::uid_t),
    /// Neither a directory nor a symbolic link.
    NotDirectory,
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
    let verdict = walk(work, len, &mut fd, refuse);
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
        libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::EINTR | libc::EAGAIN => {
            Err(Verdict::Retry(e))
        }
        _ => Ok(()),
    }
}

/// Whether the file `st` describes may be on the way.
fn judge(st: &libc::stat, euid: libc::uid_t) -> Option<Why> {
    let trusted = st.st_uid == 0 || st.st_uid == euid;
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

/// Writes `bytes` into `buf` at `at`; returns where they end, or None if they do not fit.
fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> Option<usize> {
    let end = at.checked_add(bytes.len())?;
    buf.get_mut(at..end)?.copy_from_slice(bytes);
    Some(end)
}

/// The walk itself; `fd` is the directory it is in (closed by the caller).
fn walk(
    w: &mut Work,
    len: usize,
    fd: &mut c_int,
    refuse: impl FnOnce(&[u8], &[u8], Why),
) -> Verdict {
    let euid = sys::geteuid();
    let (mut at, mut end) = (0, len);
    let mut done = 0; // the bytes of `w.done` in use: the path of the entry being entered
    let mut links = 0;
    let mut step = Step::Root;
    let mut refuse = Some(refuse);
    let mut refused = |w: &Work, done: usize, why: Why| {
        let at = w.done.get(..done).filter(|p| !p.is_empty()).unwrap_or(b"/");
        if let Some(refuse) = refuse.take() {
            refuse(w.path.get(..len).unwrap_or_default(), at, why);
        }
        Verdict::Unsafe
    };
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
                    None => return refused(w, done, too_long),
                }
                (*fd, w.comp.get(..=n).unwrap_or(b"\0"))
            }
        };
        let flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: `name` ends with its NUL (comp's is written with the name).
        let opened = unsafe { sys::open_at(base, name.as_ptr().cast(), flags, 0) };
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
                    return v;
                }
                return refused(w, done, Why::Unchecked(e));
            }
        };
        if let Some(why) = judge(&st, euid) {
            sys::close(next);
            return refused(w, done, why);
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
                        return v;
                    }
                    return refused(w, done, Why::Unchecked(e));
                }
            };
            let rest = w.todo.get(at..end).unwrap_or_default();
            let Some(total) = put(&mut w.link, n, b"/").and_then(|at| put(&mut w.link, at, rest))
            else {
                return refused(w, done, too_long);
            };
            let spliced = w.link.get(..total).unwrap_or_default();
            let Some(total) = put(&mut w.todo, 0, spliced) else {
                return refused(w, done, too_long);
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
                return Verdict::Safe;
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
                    _ => return refused(w, done, too_long),
                },
            }
        };
    }
}
