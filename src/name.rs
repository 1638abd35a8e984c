//! Name to path: the one mapping that every entry point shares, and the room paths are built
//! in.
//!
//! No system calls but for a long path's room, no allocation. The rules are glibc 2.36's, less
//! the four documented deviations (docs/BEHAVIOUR.md): leading slashes are dropped; an empty rest,
//! a slash inside it, or a rest of "." or ".." is invalid; a rest over NAME_MAX bytes, or a
//! whole name of PATH_MAX bytes or more, is too long.
//!
//! A valid name is read once, by glibc's vectorised strchrnul, which finds the end of the rest
//! and any slash in it in one pass; the slower checks run only for names already invalid.

use core::ffi::{c_char, c_int, CStr};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sys::{self, Errno};

/// The longest name after its leading slashes, as for any path component.
pub(crate) const NAME_MAX: usize = 255;
/// A name this long or longer is refused before anything else is looked at.
pub(crate) const PATH_MAX: usize = 4096;
/// The longest usable RTSHM_DIR: the directory, a slash, a NAME_MAX-byte name and a NUL fit in
/// PATH_MAX.
pub(crate) const DIR_MAX: usize = PATH_MAX - 1 - NAME_MAX - 1;

/// Where objects live when RTSHM_DIR is unset.
pub(crate) const DEFAULT_DIR: &CStr = c"/dev/shm";
/// DEFAULT_DIR and a slash: the start of every path in it.
const SHM_DIR: &[u8] = &{
    let dir = DEFAULT_DIR.to_bytes();
    let mut out = [b'/'; DEFAULT_DIR.count_bytes() + 1];
    let mut i = 0;
    while i < dir.len() {
        out[i] = dir[i];
        i += 1;
    }
    out
};
/// Named semaphores are files "sem.<name>" beside the shared memory objects, as in glibc.
const SEM_PREFIX: &[u8] = b"sem.";
/// The room a path gets on the stack: "/dev/shm/", a NAME_MAX-byte file name and the NUL, what
/// glibc's own shm_open has. A longer path (in a long RTSHM_DIR) is built in a mapping made for
/// the call, so that no call needs more stack than glibc's (BENCHMARKS.md).
pub(crate) const STACK_ROOM: usize = SHM_DIR.len() + NAME_MAX + 1;

/// Why a name has no path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty after the leading slashes, a slash inside, or "." or "..".
    Invalid,
    /// PATH_MAX bytes or more in all, or more than NAME_MAX bytes after the leading slashes.
    TooLong,
}

/// A NUL-terminated path, in a caller's room.
pub struct ShmPath<'b>(&'b [u8]);

impl ShmPath<'_> {
    /// The path with its NUL.
    pub fn as_bytes_with_nul(&self) -> &[u8] {
        self.0
    }

    /// The path as a C string.
    pub fn as_c_str(&self) -> &CStr {
        // SAFETY: write_path, which makes every ShmPath, ends it with its one NUL: a directory
        // from the environment and a name up to its NUL hold none.
        unsafe { CStr::from_bytes_with_nul_unchecked(self.0) }
    }
}

const WORD: usize = core::mem::size_of::<usize>();
const WORDS: usize = (DIR_MAX + 1).div_ceil(WORD);

/// A directory path of at most DIR_MAX bytes that any thread may write and every thread reads
/// (config.rs's RTSHM_DIR): kept in atomic words, so that a second thread storing the same
/// bytes while others read them is no data race. NUL-terminated.
pub struct SharedPath {
    words: [AtomicUsize; WORDS],
    len: AtomicUsize,
}

impl SharedPath {
    pub const fn new() -> SharedPath {
        SharedPath {
            words: [const { AtomicUsize::new(0) }; WORDS],
            len: AtomicUsize::new(0),
        }
    }

    /// Stores `dir` (at most DIR_MAX bytes: longer ones are cut) and its NUL.
    pub fn store(&self, dir: &[u8]) {
        let dir = &dir[..dir.len().min(DIR_MAX)];
        for (i, word) in self.words.iter().enumerate().take(dir.len() / WORD + 1) {
            let mut bytes = [0u8; WORD];
            let chunk = dir.get(i * WORD..).unwrap_or_default();
            bytes.iter_mut().zip(chunk).for_each(|(b, c)| *b = *c);
            word.store(usize::from_ne_bytes(bytes), Ordering::Relaxed);
        }
        self.len.store(dir.len(), Ordering::Relaxed);
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the bytes into the start of `out` (as many as fit).
    pub fn copy_to(&self, out: &mut [MaybeUninit<u8>]) {
        let len = self.len().min(out.len());
        for (i, word) in self.words.iter().enumerate().take(len.div_ceil(WORD)) {
            let bytes = word.load(Ordering::Relaxed).to_ne_bytes();
            let n = WORD.min(len - i * WORD);
            // SAFETY: i * WORD + n <= len <= out.len(), and n <= WORD: within both.
            unsafe {
                let dst = out.as_mut_ptr().add(i * WORD).cast::<u8>();
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, n);
            }
        }
    }

    /// Copies the bytes into the start of `out`, whose bytes are already initialised.
    pub fn copy_to_bytes(&self, out: &mut [u8]) {
        // SAFETY: MaybeUninit<u8> is laid out as u8, and copy_to writes only initialised bytes,
        // so `out` stays initialised.
        self.copy_to(unsafe { &mut *(out as *mut [u8] as *mut [MaybeUninit<u8>]) });
    }

    /// The path as a C string, for C callers (rtshm_dir).
    pub fn as_ptr(&self) -> *const c_char {
        self.words.as_ptr().cast()
    }

    /// Calls `f` with a copy of the path as a C string (ENOMEM where a long path's room cannot
    /// be mapped). A copy: another thread may be storing the same bytes meanwhile.
    pub fn with_c_str<R>(&self, f: impl FnOnce(&CStr) -> R) -> Result<R, Errno> {
        let len = self.len();
        with_room(len + 1, |room| {
            self.copy_to(room);
            room.get_mut(len)
                .ok_or(Errno(libc::ENAMETOOLONG))? // the room holds len + 1 bytes: never
                .write(0);
            // SAFETY: the first `len` bytes are the path, which holds no NUL, the next its NUL:
            // all written just above, inside the room.
            let path = unsafe {
                let bytes = core::slice::from_raw_parts(room.as_ptr().cast::<u8>(), len + 1);
                CStr::from_bytes_with_nul_unchecked(bytes)
            };
            Ok(f(path))
        })
    }
}

/// The bytes of the NUL-terminated string at `p` (found with strchrnul, which the library
/// imports anyway, rather than strlen).
///
/// # Safety
/// `p` points to a NUL-terminated string that outlives `'a`.
pub unsafe fn c_bytes<'a>(p: *const c_char) -> &'a [u8] {
    // SAFETY: the caller's contract; strchrnul with NUL stops at the string's end.
    unsafe {
        let end = libc::strchrnul(p, 0);
        core::slice::from_raw_parts(p.cast(), end.offset_from(p) as usize)
    }
}

/// The file name of the NUL-terminated name at `name`: the rest after its leading slashes, or
/// why it has none. With SEM, the rest leaves room for "sem." in NAME_MAX.
///
/// # Safety
/// `name` points to a NUL-terminated string that outlives `'a`.
#[inline(always)] // on the path of every call; an out-of-line call costs a quarter of it
pub unsafe fn file_name<'a, const SEM: bool>(name: *const c_char) -> Result<&'a [u8], NameError> {
    let name: *const u8 = name.cast();
    let mut start = 0;
    // SAFETY: every byte up to the NUL is readable, and the NUL (not a slash) ends the loop.
    while unsafe { *name.add(start) } == b'/' {
        start += 1;
        if start == PATH_MAX {
            return Err(NameError::TooLong);
        }
    }
    // SAFETY: `start` is within the string (the bytes before it are slashes, not its NUL).
    let rest = unsafe { name.add(start) };
    // SAFETY: `rest` points into the NUL-terminated string; strchrnul reads up to its first
    // slash or its NUL.
    let end: *const u8 = unsafe { libc::strchrnul(rest.cast(), b'/' as c_int) }.cast();
    // SAFETY: strchrnul returned a pointer into the same string, at or after `rest`.
    let rest_len = unsafe { end.offset_from(rest) } as usize;
    let seen = start + rest_len;
    // SAFETY: `end` points at the slash or NUL strchrnul found.
    if unsafe { *end } == b'/' {
        // Invalid, unless the whole name is PATH_MAX bytes or more (deviation 4).
        if seen >= PATH_MAX {
            return Err(NameError::TooLong);
        }
        // SAFETY: strchrnul with NUL finds the string's end, reading no further.
        let nul: *const u8 = unsafe { libc::strchrnul(end.cast(), 0) }.cast();
        // SAFETY: the same string, `nul` after `end`.
        let tail = unsafe { nul.offset_from(end) } as usize;
        return Err(if seen + tail >= PATH_MAX {
            NameError::TooLong
        } else {
            NameError::Invalid
        });
    }
    if seen >= PATH_MAX {
        return Err(NameError::TooLong);
    }
    // SAFETY: the `rest_len` bytes before the NUL at `end` are the string's own, and live as
    // long as it does.
    let rest = unsafe { core::slice::from_raw_parts(rest, rest_len) };
    if rest.is_empty() || rest == b"." || rest == b".." {
        return Err(NameError::Invalid);
    }
    let prefix = if SEM { SEM_PREFIX.len() } else { 0 };
    if prefix + rest.len() > NAME_MAX {
        return Err(NameError::TooLong);
    }
    Ok(rest)
}

/// The bytes a path takes, its NUL included: the directory (None: /dev/shm), a slash, the
/// file name ("sem." and `rest` with SEM).
#[inline(always)]
fn path_len<const SEM: bool>(rest: &[u8], dir: Option<&SharedPath>) -> usize {
    let dir = dir.map_or(SHM_DIR.len(), |d| d.len() + 1);
    let prefix = if SEM { SEM_PREFIX.len() } else { 0 };
    dir + prefix + rest.len() + 1
}

/// Writes the path of `rest` in `dir` (None: /dev/shm) into `room`; None if it does not fit.
#[inline(always)]
fn write_path<'b, const SEM: bool>(
    room: &'b mut [MaybeUninit<u8>],
    dir: Option<&SharedPath>,
    rest: &[u8],
) -> Option<ShmPath<'b>> {
    let len = path_len::<SEM>(rest, dir);
    if len > room.len() {
        return None;
    }
    if let Some(dir) = dir {
        dir.copy_to(room);
    }
    let out: *mut u8 = room.as_mut_ptr().cast();
    // SAFETY: the room holds `len` bytes (checked above): the directory (copied above when it is
    // RTSHM_DIR), its slash, the prefix, the rest and the NUL, in that order, within `len`.
    // The sources are static or the caller's string, which do not overlap the room.
    unsafe {
        let mut at = match dir {
            None => {
                core::ptr::copy_nonoverlapping(SHM_DIR.as_ptr(), out, SHM_DIR.len());
                SHM_DIR.len()
            }
            Some(dir) => {
                out.add(dir.len()).write(b'/');
                dir.len() + 1
            }
        };
        if SEM {
            core::ptr::copy_nonoverlapping(SEM_PREFIX.as_ptr(), out.add(at), SEM_PREFIX.len());
            at += SEM_PREFIX.len();
        }
        libc::memmove(out.add(at).cast(), rest.as_ptr().cast(), rest.len());
        out.add(len - 1).write(0);
        Some(ShmPath(core::slice::from_raw_parts(out, len)))
    }
}

/// Room for `len` bytes: on the stack when they fit STACK_ROOM, else in a private mapping made
/// for the call (ENOMEM where none can be made).
#[inline(always)]
pub fn with_room<R>(
    len: usize,
    f: impl FnOnce(&mut [MaybeUninit<u8>]) -> Result<R, Errno>,
) -> Result<R, Errno> {
    if len <= STACK_ROOM {
        let mut room = [const { MaybeUninit::uninit() }; STACK_ROOM];
        f(&mut room)
    } else {
        mapped_room(len, f)
    }
}

#[cold]
fn mapped_room<R>(
    len: usize,
    f: impl FnOnce(&mut [MaybeUninit<u8>]) -> Result<R, Errno>,
) -> Result<R, Errno> {
    f(Mapped::new(len)?.room())
}

/// A private mapping made for one call, unmapped when dropped.
pub(crate) struct Mapped(*mut u8, usize);

impl Mapped {
    #[inline(never)]
    pub(crate) fn new(len: usize) -> Result<Mapped, Errno> {
        sys::map(len, -1).map(|page| Mapped(page, len))
    }

    /// The mapping's bytes, for as long as it is borrowed.
    fn room(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: a private mapping of `self.1` bytes that only this Mapped refers to, unmapped
        // only when it is dropped, which the borrow prevents meanwhile.
        unsafe { core::slice::from_raw_parts_mut(self.0.cast(), self.1) }
    }

    /// The mapping's bytes, zeros until written, for as long as it is borrowed.
    pub(crate) fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: as in room(); an anonymous mapping starts zero-filled, so every byte is
        // initialised.
        unsafe { core::slice::from_raw_parts_mut(self.0, self.1) }
    }
}

impl Drop for Mapped {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: what borrowed the mapping is gone with the call that made it.
        let _ = unsafe { sys::unmap(self.0, self.1) };
    }
}

/// Calls `f` with the path of the file name `rest` (from file_name) in `dir` (None: /dev/shm),
/// or with ENOMEM where a long path's room cannot be mapped.
///
/// Never inlined: the path's room is then on the stack only for the system call, never while a
/// first call reads the settings and checks RTSHM_DIR, and a caller that ends with this call
/// jumps to it rather than keep its own frame; so no call needs more stack than glibc's
/// (BENCHMARKS.md). It costs a function call.
#[inline(never)]
pub fn with_path<const SEM: bool, R>(
    rest: &[u8],
    dir: Option<&SharedPath>,
    f: impl FnOnce(Result<&ShmPath<'_>, Errno>) -> R,
) -> R {
    let len = path_len::<SEM>(rest, dir);
    if len > STACK_ROOM {
        return mapped_path::<SEM, R>(len, rest, dir, f);
    }
    let mut room = [const { MaybeUninit::uninit() }; STACK_ROOM];
    let path = write_path::<SEM>(&mut room, dir, rest);
    f(path.as_ref().ok_or(Errno(libc::ENAMETOOLONG))) // always fits
}

/// with_path for a path longer than STACK_ROOM, in a mapping made for the call.
#[cold]
#[inline(never)]
fn mapped_path<const SEM: bool, R>(
    len: usize,
    rest: &[u8],
    dir: Option<&SharedPath>,
    f: impl FnOnce(Result<&ShmPath<'_>, Errno>) -> R,
) -> R {
    let mut mapped = Mapped::new(len);
    let path = mapped.as_mut().map_err(|e| *e).and_then(|m| {
        write_path::<SEM>(m.room(), dir, rest).ok_or(Errno(libc::ENAMETOOLONG)) // always fits
    });
    f(path.as_ref().map_err(|e| *e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path of a name given without its NUL (the test adds it).
    fn path(name: &[u8]) -> Result<Vec<u8>, NameError> {
        path_in::<false>(name, None)
    }

    fn path_in<const SEM: bool>(name: &[u8], dir: Option<&[u8]>) -> Result<Vec<u8>, NameError> {
        let c = std::ffi::CString::new(name).expect("test names hold no NUL");
        // SAFETY: a CString is NUL-terminated, and outlives `rest`.
        let rest = unsafe { file_name::<SEM>(c.as_ptr()) }?;
        let shared = dir.map(|d| {
            let s = Box::leak(Box::new(SharedPath::new()));
            s.store(d);
            &*s
        });
        let path = with_path::<SEM, _>(rest, shared, |p| p.map(|p| p.as_bytes_with_nul().to_vec()));
        let mut path = path.expect("the path fits its room");
        assert_eq!(path.pop(), Some(0));
        Ok(path)
    }

    #[test]
    fn custom_directories_and_semaphores() {
        assert_eq!(
            path_in::<false>(b"/x", Some(b"/tmp/d")).unwrap(),
            b"/tmp/d/x"
        );
        assert_eq!(path_in::<false>(b"//x", Some(b"")).unwrap(), b"/x");
        assert_eq!(path_in::<true>(b"/x", None).unwrap(), b"/dev/shm/sem.x");
        assert_eq!(path_in::<true>(b"x", Some(b"/d")).unwrap(), b"/d/sem.x");
        // "sem." takes four bytes of the file name's NAME_MAX.
        let name = vec![b'n'; NAME_MAX - 4];
        assert!(path_in::<true>(&name, None).is_ok());
        let name = vec![b'n'; NAME_MAX - 3];
        assert_eq!(path_in::<true>(&name, None), Err(NameError::TooLong));
        assert!(path_in::<false>(&name, None).is_ok());
        // The longest directory with the longest name still fits PATH_MAX.
        let dir = [b'/']
            .iter()
            .chain([b'd'; DIR_MAX - 1].iter())
            .copied()
            .collect::<Vec<_>>();
        let long = path_in::<false>(&[b'n'; NAME_MAX], Some(&dir)).unwrap();
        assert_eq!(long.len(), PATH_MAX - 1);
    }

    #[test]
    fn leading_slashes_are_dropped() {
        assert_eq!(path(b"/x").unwrap(), b"/dev/shm/x");
        assert_eq!(path(b"x").unwrap(), b"/dev/shm/x");
        assert_eq!(path(b"//x").unwrap(), b"/dev/shm/x");
        assert_eq!(
            path(
                &[b'/'; 4000]
                    .iter()
                    .chain(b"ab")
                    .copied()
                    .collect::<Vec<_>>()
            )
            .unwrap(),
            b"/dev/shm/ab"
        );
    }

    #[test]
    fn empty_rest_is_invalid() {
        for name in [&b""[..], b"/", b"//", &[b'/'; 4095]] {
            assert_eq!(path(name), Err(NameError::Invalid), "{name:?}");
        }
    }

    #[test]
    fn slash_inside_is_invalid_whatever_the_length() {
        for name in [&b"/a/b"[..], b"a/", b"/a/", b"//a//b"] {
            assert_eq!(path(name), Err(NameError::Invalid), "{name:?}");
        }
        let mut long = vec![b'a'; 300];
        long[150] = b'/';
        assert_eq!(path(&long), Err(NameError::Invalid));
    }

    #[test]
    fn dot_and_dotdot_are_invalid() {
        for name in [&b"."[..], b"..", b"/.", b"/..", b"///.."] {
            assert_eq!(path(name), Err(NameError::Invalid), "{name:?}");
        }
        assert_eq!(path(b"...").unwrap(), b"/dev/shm/...");
        assert_eq!(path(b"/.x").unwrap(), b"/dev/shm/.x");
        assert_eq!(path(b"..x").unwrap(), b"/dev/shm/..x");
    }

    #[test]
    fn rest_length_limit_is_name_max() {
        let name = vec![b'n'; NAME_MAX];
        let mut want = b"/dev/shm/".to_vec();
        want.extend_from_slice(&name);
        assert_eq!(path(&name).unwrap(), want);
        let mut slashed = vec![b'/'; 3];
        slashed.extend_from_slice(&name);
        assert_eq!(path(&slashed).unwrap(), want);
        for len in [NAME_MAX + 1, 259, 260, 1000, PATH_MAX - 1] {
            assert_eq!(path(&vec![b'n'; len]), Err(NameError::TooLong), "{len}");
        }
    }

    #[test]
    fn path_max_is_checked_first() {
        let mut name = vec![b'/'; PATH_MAX];
        name[PATH_MAX - 1] = b'x';
        assert_eq!(path(&name), Err(NameError::TooLong));
        let mut inner = vec![b'a'; PATH_MAX];
        inner[10] = b'/';
        assert_eq!(path(&inner), Err(NameError::TooLong));
        assert_eq!(path(&[b'/'; PATH_MAX]), Err(NameError::TooLong));
        assert_eq!(path(&[b'/'; PATH_MAX * 3]), Err(NameError::TooLong));
        let mut slash_late = vec![b'a'; PATH_MAX + 10];
        slash_late[PATH_MAX + 5] = b'/';
        assert_eq!(path(&slash_late), Err(NameError::TooLong));
        assert_eq!(path(&vec![b'm'; 1 << 20]), Err(NameError::TooLong));
        // Just under PATH_MAX with a slash inside is merely invalid.
        let mut inner = vec![b'a'; PATH_MAX - 1];
        inner[PATH_MAX - 2] = b'/';
        assert_eq!(path(&inner), Err(NameError::Invalid));
    }

    #[test]
    fn any_byte_but_slash_is_allowed() {
        let name: Vec<u8> = (1..=255u8).filter(|&b| b != b'/').collect();
        let mut want = b"/dev/shm/".to_vec();
        want.extend_from_slice(&name);
        assert_eq!(path(&name).unwrap(), want);
        assert_eq!(path(b"\xff\xfe").unwrap(), b"/dev/shm/\xff\xfe");
    }
}
