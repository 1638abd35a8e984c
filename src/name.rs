//! Name to path: the one mapping that every entry point shares.
//!
//! No system calls, no allocation. The rules are glibc 2.36's, less the four documented
//! deviations (see README.md): leading slashes are dropped; an empty rest, a slash inside it, or
//! a rest of "." or ".." is invalid; a rest over NAME_MAX bytes, or a whole name of PATH_MAX
//! bytes or more, is too long.
//!
//! A valid name is read once, by glibc's vectorised strchrnul, which finds the end of the rest
//! and any slash in it in one pass; the slower checks run only for names already invalid.

use core::ffi::{c_char, c_int};
use core::mem::MaybeUninit;

/// The longest name after its leading slashes, as for any path component.
pub const NAME_MAX: usize = 255;
/// A name this long or longer is refused before anything else is looked at.
pub const PATH_MAX: usize = 4096;

const SHM_DIR: &[u8] = b"/dev/shm/";
/// Named semaphores are files "sem.<name>" beside the shared memory objects, as in glibc.
const SEM_PREFIX: &[u8] = b"sem.";
/// A path is at most PATH_MAX bytes with its NUL (RTSHM_DIR's length is limited to make sure).
const PATH_LEN: usize = PATH_MAX;

/// Why a name has no path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty after the leading slashes, a slash inside, or "." or "..".
    Invalid,
    /// PATH_MAX bytes or more in all, or more than NAME_MAX bytes after the leading slashes.
    TooLong,
}

/// Room for a path on the caller's stack. Only the path and its NUL are ever written: filling
/// all of it would cost more than everything else the mapping does.
pub type PathBuf = MaybeUninit<[u8; PATH_LEN]>;

/// A NUL-terminated path in the shared-memory directory, in a caller's `PathBuf`.
pub struct ShmPath<'b>(&'b [u8]);

impl ShmPath<'_> {
    /// The path with its NUL.
    pub fn as_bytes_with_nul(&self) -> &[u8] {
        self.0
    }

    /// The path as a C string.
    pub fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }

    /// The path without its NUL.
    #[cfg(test)]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0[..self.0.len() - 1]
    }
}

/// A fixed path (such as /proc/self/status) as a path the system calls take.
pub fn literal_path(path: &'static core::ffi::CStr) -> ShmPath<'static> {
    ShmPath(path.to_bytes_with_nul())
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

/// Maps the NUL-terminated name at `name` to its path in `dir` (None: /dev/shm; otherwise a
/// directory without its trailing slash, at most config::DIR_MAX bytes), written into `buf`.
/// With SEM, the file is "sem.<rest>", a named semaphore's.
///
/// # Safety
/// `name` points to a NUL-terminated string.
#[inline(always)] // on the path of every call; an out-of-line call costs a quarter of it
pub unsafe fn object_path<'b, const SEM: bool>(
    name: *const c_char,
    dir: Option<&[u8]>,
    buf: &'b mut PathBuf,
) -> Result<ShmPath<'b>, NameError> {
    let name: *const u8 = name.cast();
    let mut start = 0;
    // SAFETY: every byte up to the NUL is readable, and the NUL (not a slash) ends the loop.
    while unsafe { *name.add(start) } == b'/' {
        start += 1;
        if start == PATH_MAX {
            return Err(NameError::TooLong);
        }
    }
    // SAFETY: `start` is within the string; strchrnul reads up to its first slash or its NUL.
    let rest = unsafe { name.add(start) };
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
    // SAFETY: the `rest_len` bytes before the NUL at `end` are the string's own.
    let rest = unsafe { core::slice::from_raw_parts(rest, rest_len) };
    if rest.is_empty() || rest == b"." || rest == b".." {
        return Err(NameError::Invalid);
    }
    let prefix = if SEM { SEM_PREFIX.len() } else { 0 };
    if prefix + rest.len() > NAME_MAX {
        return Err(NameError::TooLong);
    }
    let out: *mut u8 = buf.as_mut_ptr().cast();
    // SAFETY: the buffer holds PATH_MAX bytes; a directory of at most DIR_MAX bytes, a slash,
    // a file name of at most NAME_MAX bytes and a NUL fit (config::DIR_MAX). Nothing written
    // overlaps the sources, which are the caller's or static.
    let mut at = unsafe {
        match dir {
            None => {
                core::ptr::copy_nonoverlapping(SHM_DIR.as_ptr(), out, SHM_DIR.len());
                SHM_DIR.len()
            }
            Some(dir) => {
                libc::memmove(out.cast(), dir.as_ptr().cast(), dir.len());
                out.add(dir.len()).write(b'/');
                dir.len() + 1
            }
        }
    };
    if SEM {
        // SAFETY: as above.
        unsafe { core::ptr::copy_nonoverlapping(SEM_PREFIX.as_ptr(), out.add(at), prefix) };
        at += prefix;
    }
    let len = at + rest.len();
    // SAFETY: as above; the slice covers exactly the bytes written.
    unsafe {
        // memmove@GLIBC_2.2.5 rather than memcpy@GLIBC_2.14: the same code in glibc, and one
        // symbol version fewer for the dynamic linker to check at load.
        libc::memmove(out.add(at).cast(), rest.as_ptr().cast(), rest.len());
        out.add(len).write(0);
        Ok(ShmPath(core::slice::from_raw_parts(out, len + 1)))
    }
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
        let mut buf = PathBuf::uninit();
        // SAFETY: a CString is NUL-terminated.
        unsafe { object_path::<SEM>(c.as_ptr(), dir, &mut buf) }.map(|p| p.as_bytes().to_vec())
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
            .chain([b'd'; crate::config::DIR_MAX - 1].iter())
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
