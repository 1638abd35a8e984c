//! The rtshm library's C functions, linked from librtshm.a (build.rs): the directory in effect
//! and the removals go through the same code as every program's calls.

use std::ffi::{c_char, c_int, CStr, CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

extern "C" {
    fn rtshm_dir() -> *const c_char;
    fn shm_unlink(name: *const c_char) -> c_int;
    fn sem_unlink(name: *const c_char) -> c_int;
}

/// The directory in effect: RTSHM_DIR as the library took it, or /dev/shm. None when RTSHM_DIR
/// is set but unusable (the library has said why on standard error).
pub fn dir() -> Option<PathBuf> {
    // SAFETY: rtshm_dir takes nothing and returns NULL or a NUL-terminated string that lives as
    // long as the process and never changes.
    let dir = unsafe { rtshm_dir() };
    if dir.is_null() {
        return None;
    }
    // SAFETY: not NULL, so a NUL-terminated string that lives as long as the process.
    let bytes = unsafe { CStr::from_ptr(dir) }.to_bytes();
    Some(PathBuf::from(OsStr::from_bytes(bytes)))
}

/// Which function removes a name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unlink {
    Shm,
    Sem,
}

/// shm_unlink(name) or sem_unlink(name): the library's answer, its errno on failure.
pub fn unlink(how: Unlink, name: &[u8]) -> io::Result<()> {
    // Names come from the command line or the directory: neither can hold a NUL byte.
    let name = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a NUL-terminated string, which the functions only read.
    let r = unsafe {
        match how {
            Unlink::Shm => shm_unlink(name.as_ptr()),
            Unlink::Sem => sem_unlink(name.as_ptr()),
        }
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
