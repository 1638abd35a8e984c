//! Name to path: the one mapping that every entry point shares.
//!
//! Pure: no system calls, no allocation. The rules are glibc 2.36's, less the four documented
//! deviations (see README.md): leading slashes are dropped; an empty rest, a slash inside it, or
//! a rest of "." or ".." is invalid; a rest over NAME_MAX bytes, or a whole name of PATH_MAX
//! bytes or more, is too long.

use core::ffi::c_char;

/// The longest name after its leading slashes, as for any path component.
pub const NAME_MAX: usize = 255;
/// A name this long or longer is refused before anything else is looked at.
pub const PATH_MAX: usize = 4096;

const SHM_DIR: &[u8] = b"/dev/shm/";
const PATH_LEN: usize = SHM_DIR.len() + NAME_MAX + 1;

/// Why a name has no path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty after the leading slashes, a slash inside, or "." or "..".
    Invalid,
    /// PATH_MAX bytes or more in all, or more than NAME_MAX bytes after the leading slashes.
    TooLong,
}

/// A NUL-terminated path in the shared-memory directory, on the caller's stack.
pub struct ShmPath {
    buf: [u8; PATH_LEN],
}

impl ShmPath {
    /// The path as a C string, valid while `self` is.
    pub fn as_ptr(&self) -> *const c_char {
        self.buf.as_ptr().cast()
    }

    /// The path without its NUL.
    #[cfg(test)]
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.buf.iter().position(|&b| b == 0).unwrap_or(PATH_LEN);
        &self.buf[..len]
    }
}

/// Maps a name (its bytes without the NUL, at most `PATH_MAX` of them: a longer C string is
/// passed cut to `PATH_MAX`) to its path.
pub fn shm_path(name: &[u8]) -> Result<ShmPath, NameError> {
    if name.len() >= PATH_MAX {
        return Err(NameError::TooLong);
    }
    let start = name
        .iter()
        .position(|&b| b != b'/')
        .ok_or(NameError::Invalid)?;
    let rest = &name[start..];
    if rest.contains(&b'/') || rest == b"." || rest == b".." {
        return Err(NameError::Invalid);
    }
    if rest.len() > NAME_MAX {
        return Err(NameError::TooLong);
    }
    let mut path = ShmPath { buf: [0; PATH_LEN] };
    path.buf[..SHM_DIR.len()].copy_from_slice(SHM_DIR);
    path.buf[SHM_DIR.len()..SHM_DIR.len() + rest.len()].copy_from_slice(rest);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(name: &[u8]) -> Result<Vec<u8>, NameError> {
        shm_path(name).map(|p| p.as_bytes().to_vec())
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
