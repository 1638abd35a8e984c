//! RTSHM_DIR: where the objects live. Read once, at the first call that needs it, and never
//! again; after that a call pays one atomic load.
//!
//! Like `secure_getenv`, the variable is ignored in a secure-execution process (setuid,
//! setgid, file capabilities), so it can never redirect a privileged program. A value that is
//! set but unusable makes every call fail with EINVAL: quietly falling back to /dev/shm would
//! put objects where the user said they must not go.

use core::ffi::c_char;
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};

use crate::name::{NAME_MAX, PATH_MAX};

/// The default directory, without its slash, NUL-terminated.
pub const DEFAULT_DIR: &[u8] = b"/dev/shm\0";

/// The longest usable RTSHM_DIR: the directory, a slash, a NAME_MAX-byte name and a NUL fit in
/// PATH_MAX.
pub const DIR_MAX: usize = PATH_MAX - 1 - NAME_MAX - 1;

/// Where objects live.
#[derive(Clone, Copy)]
pub enum Dir {
    /// /dev/shm: RTSHM_DIR is unset, or this is a secure-execution process.
    Default,
    /// RTSHM_DIR, without trailing slashes ("" for the root directory).
    Custom(&'static [u8]),
    /// RTSHM_DIR is set but not an absolute path short enough to use.
    Invalid,
}

const UNREAD: u8 = 0;
const CLAIMED: u8 = 1;
const DEFAULT: u8 = 2;
const CUSTOM: u8 = 3;
const INVALID: u8 = 4;
/// /dev/shm with RTSHM_COMPAT set: kept apart from DEFAULT so that DEFAULT alone means "nothing
/// to do", the one load and compare on shm_open's usual path (plain_default).
const DEFAULT_COMPAT: u8 = 5;

// The statics live in .data, not .bss: a library with any .bss makes the dynamic linker clear
// the rest of its last page in every process it is loaded into (measured: BENCHMARKS.md).

#[link_section = ".data"]
static STATE: AtomicU8 = AtomicU8::new(UNREAD);
/// A Custom directory, NUL-terminated: a copy in a page of its own, written once by the
/// thread that claims STATE before it stores CUSTOM (Release), and never changed after.
#[link_section = ".data"]
static DIR_PTR: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
#[link_section = ".data"]
static DIR_LEN: AtomicUsize = AtomicUsize::new(0);
/// RTSHM_COMPAT and RTSHM_COMPAT_LOG, read with RTSHM_DIR and published by the same store of
/// STATE: the Compat value, plus LOG_BIT.
#[link_section = ".data"]
static COMPAT: AtomicU8 = AtomicU8::new(0);
const LOG_BIT: u8 = 0x80;

/// RTSHM_COMPAT: the stricter system whose rules are enforced on top of Linux's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Compat {
    /// Unset: no change at all.
    Off,
    /// POSIX's portable subset.
    Posix,
    /// FreeBSD's shm_open(2).
    FreeBsd,
    /// macOS's shm_open.
    MacOs,
}

/// The RTSHM_COMPAT setting in effect, and whether RTSHM_COMPAT_LOG asks for a line on stderr
/// per violation. (An unknown RTSHM_COMPAT value is Off: the mode only ever adds refusals.)
#[inline(always)]
pub fn compat() -> (Compat, bool) {
    let packed = match STATE.load(Ordering::Acquire) {
        UNREAD | CLAIMED => read_compat(secure_execution()),
        _ => COMPAT.load(Ordering::Relaxed),
    };
    let mode = match packed & !LOG_BIT {
        1 => Compat::Posix,
        2 => Compat::FreeBsd,
        3 => Compat::MacOs,
        _ => Compat::Off,
    };
    (mode, packed & LOG_BIT != 0)
}

/// RTSHM_COMPAT and RTSHM_COMPAT_LOG from the environment, packed as COMPAT holds them.
#[cold]
fn read_compat(secure: bool) -> u8 {
    let mode = secure_getenv(c"RTSHM_COMPAT", secure);
    let log = secure_getenv(c"RTSHM_COMPAT_LOG", secure);
    let value = |p: *mut c_char| -> &'static [u8] {
        if p.is_null() {
            b""
        } else {
            // SAFETY: a NUL-terminated environment string (first_read).
            unsafe { crate::name::c_bytes::<'static>(p) }
        }
    };
    // Compared byte by byte, not by memcmp: one import fewer.
    let is = |v: &[u8], s: &[u8]| v.len() == s.len() && v.iter().zip(s).all(|(a, b)| a == b);
    let mode = value(mode);
    let packed = if is(mode, b"posix") {
        1
    } else if is(mode, b"freebsd") {
        2
    } else if is(mode, b"macos") {
        3
    } else {
        0
    };
    let log = value(log);
    let logging = !(log.is_empty() || is(log, b"0"));
    packed | if logging { LOG_BIT } else { 0 }
}

/// Whether this is a secure-execution process (setuid, setgid, file capabilities): the
/// kernel's AT_SECURE, read from /proc/self/auxv; where /proc is missing, whether the real and
/// effective ids differ. This is secure_getenv's test, made here because importing
/// secure_getenv (GLIBC_2.17) would add a symbol version for the dynamic linker to check in
/// every process (BENCHMARKS.md).
fn secure_execution() -> bool {
    let mut auxv = core::mem::MaybeUninit::<[u8; 1024]>::uninit();
    if let Some(bytes) = crate::sys::read_proc(c"/proc/self/auxv", &mut auxv) {
        const WORD: usize = core::mem::size_of::<usize>();
        for pair in bytes.chunks_exact(2 * WORD) {
            let word = |at: usize| {
                let mut w = [0u8; WORD];
                w.iter_mut().zip(&pair[at..]).for_each(|(d, s)| *d = *s);
                usize::from_ne_bytes(w)
            };
            match word(0) as libc::c_ulong {
                libc::AT_NULL => break,
                libc::AT_SECURE => return word(WORD) != 0,
                _ => {}
            }
        }
    }
    crate::sys::ids_differ()
}

/// getenv, but NULL in a secure-execution process (`secure` from secure_execution).
fn secure_getenv(name: &core::ffi::CStr, secure: bool) -> *mut c_char {
    if secure {
        return core::ptr::null_mut();
    }
    // SAFETY: a NUL-terminated name; getenv only reads the environment.
    unsafe { libc::getenv(name.as_ptr()) }
}

/// Whether objects live in /dev/shm and RTSHM_COMPAT is off: then no other setting matters.
#[inline(always)]
pub fn plain_default() -> bool {
    STATE.load(Ordering::Acquire) == DEFAULT
}

/// The directory in effect.
#[inline(always)]
pub fn dir() -> Dir {
    match STATE.load(Ordering::Acquire) {
        DEFAULT | DEFAULT_COMPAT => Dir::Default,
        CUSTOM => custom(),
        INVALID => Dir::Invalid,
        _ => first_read(),
    }
}

/// The published Custom directory.
fn custom() -> Dir {
    let len = DIR_LEN.load(Ordering::Relaxed);
    // SAFETY: STATE was CUSTOM (Acquire): DIR_PTR points to `len` bytes that are never written
    // again.
    Dir::Custom(unsafe { core::slice::from_raw_parts(DIR_PTR.load(Ordering::Relaxed), len) })
}

/// Reads RTSHM_DIR and, if this thread is the first, publishes the result. A thread that finds
/// another one publishing uses the environment's own string for this call rather than wait.
#[cold]
fn first_read() -> Dir {
    // SAFETY: a NUL-terminated name; the result is NULL or a NUL-terminated string in the
    // environment, which the program must not change while other threads may read it.
    let secure = secure_execution();
    let value = secure_getenv(c"RTSHM_DIR", secure);
    let setting = if value.is_null() {
        Dir::Default
    } else {
        // SAFETY: a NUL-terminated string, just returned by secure_getenv; environment strings
        // outlive every call that reads them here (above).
        parse(unsafe { crate::name::c_bytes::<'static>(value) })
    };
    let compat = read_compat(secure);
    if STATE
        .compare_exchange(UNREAD, CLAIMED, Ordering::Acquire, Ordering::Acquire)
        .is_err()
    {
        return match STATE.load(Ordering::Acquire) {
            DEFAULT | DEFAULT_COMPAT => Dir::Default,
            CUSTOM => custom(),
            INVALID => Dir::Invalid,
            _ => setting,
        };
    }
    let state = match setting {
        Dir::Default if compat != 0 => DEFAULT_COMPAT,
        Dir::Default => DEFAULT,
        Dir::Invalid => INVALID,
        Dir::Custom(d) => match crate::sys::map(DIR_MAX + 1, -1) {
            Ok(copy) => {
                // SAFETY: a fresh mapping of DIR_MAX + 1 bytes, this thread's alone; `d` is at
                // most DIR_MAX bytes (parse), so it and the NUL fit.
                unsafe {
                    libc::memmove(copy.cast(), d.as_ptr().cast(), d.len());
                    copy.add(d.len()).write(0);
                }
                DIR_LEN.store(d.len(), Ordering::Relaxed);
                DIR_PTR.store(copy, Ordering::Relaxed);
                CUSTOM
            }
            // No memory for a copy: give the next caller the same chance.
            Err(_) => {
                STATE.store(UNREAD, Ordering::Release);
                return setting;
            }
        },
    };
    COMPAT.store(compat, Ordering::Relaxed);
    STATE.store(state, Ordering::Release);
    match state {
        CUSTOM => custom(),
        _ => setting,
    }
}

/// RTSHM_DIR's value as a setting: an absolute path, trailing slashes dropped, at most
/// DIR_MAX bytes.
pub fn parse(value: &'static [u8]) -> Dir {
    if value.first() != Some(&b'/') {
        return Dir::Invalid;
    }
    let trimmed = match value.iter().rposition(|&b| b != b'/') {
        Some(last) => &value[..=last],
        None => &value[..0],
    };
    if trimmed.len() > DIR_MAX {
        return Dir::Invalid;
    }
    Dir::Custom(trimmed)
}

/// The directory in effect as a C string ("/" for the root), or NULL when RTSHM_DIR is
/// invalid. Waits, the first time only, for a thread that is publishing the setting: a C
/// caller may keep the pointer, so it must be the published buffer's.
pub fn dir_c_string() -> *const c_char {
    loop {
        match STATE.load(Ordering::Acquire) {
            DEFAULT | DEFAULT_COMPAT => return DEFAULT_DIR.as_ptr().cast(),
            INVALID => return core::ptr::null(),
            CUSTOM if DIR_LEN.load(Ordering::Relaxed) == 0 => return c"/".as_ptr(),
            CUSTOM => return DIR_PTR.load(Ordering::Relaxed).cast_const().cast(),
            UNREAD => drop(first_read()),
            _ => core::hint::spin_loop(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(value: &[u8]) -> Option<Vec<u8>> {
        match parse(Box::leak(value.to_vec().into_boxed_slice())) {
            Dir::Custom(d) => Some(d.to_vec()),
            _ => None,
        }
    }

    #[test]
    fn absolute_paths_are_used_without_trailing_slashes() {
        assert_eq!(custom(b"/tmp/x").unwrap(), b"/tmp/x");
        assert_eq!(custom(b"/tmp/x///").unwrap(), b"/tmp/x");
        assert_eq!(custom(b"/").unwrap(), b"");
        assert_eq!(custom(b"//").unwrap(), b"");
    }

    #[test]
    fn relative_and_empty_values_are_invalid() {
        for v in [&b""[..], b"tmp/x", b"./x", b"~/x"] {
            assert!(matches!(parse(Box::leak(v.into())), Dir::Invalid), "{v:?}");
        }
    }

    #[test]
    fn length_limit_leaves_room_for_a_full_name() {
        let mut v = vec![b'/'];
        v.extend(std::iter::repeat(b'd').take(DIR_MAX - 1));
        assert_eq!(custom(&v).unwrap().len(), DIR_MAX);
        v.push(b'd');
        assert!(custom(&v).is_none());
        v.pop();
        v.extend_from_slice(b"////"); // trailing slashes do not count
        assert_eq!(custom(&v).unwrap().len(), DIR_MAX);
    }
}
