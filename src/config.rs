//! The environment: RTSHM_DIR (where objects live), RTSHM_COMPAT and RTSHM_COMPAT_LOG, read
//! once, at the first call that needs them; and RTSHM_RESERVE (reserve.rs), read once, at the
//! first ftruncate, alone: ftruncate is called for all kinds of files, often before a program
//! sets the other variables for its shm_open calls. After that a call pays one atomic load.
//!
//! Trust. In a secure-execution process (the kernel's AT_SECURE: setuid, setgid, file
//! capabilities) every variable is ignored, exactly as secure_getenv would: whatever the
//! process's ids are when it first calls. RTSHM_DIR is used only once safedir.rs has found it
//! safe. A value that is set but unusable makes every call fail with EINVAL (quietly falling
//! back to /dev/shm would put objects where the user said they must not go) and says why once
//! per process on standard error; an unknown RTSHM_COMPAT or RTSHM_RESERVE is ignored, and said
//! once too.
//!
//! No locks, no claims, no waiting: every thread that finds the settings unread reads them
//! itself and writes the same bytes to the same place (SharedPath), and the first to finish
//! publishes them with one store of STATE; a late writer stores bytes that are already there.
//! So a fork, a signal handler or a failed allocation in the middle of a first call leaves
//! nothing that another call would wait for. This holds as long as the environment does not
//! change while first calls run, which POSIX already asks of programs (getenv and setenv are
//! not thread-safe).

use core::ffi::{c_char, CStr};
use core::sync::atomic::{AtomicU8, Ordering};

use crate::name::{self, SharedPath};
use crate::safedir::{self, Verdict, Why};
use crate::sys::Errno;
use crate::warn;

pub(crate) use crate::name::DIR_MAX;

/// Where objects live, as a call sees it.
#[derive(Clone, Copy)]
pub enum Dir {
    /// /dev/shm: RTSHM_DIR is unset, or this is a secure-execution process.
    Default,
    /// RTSHM_DIR, checked and safe.
    Custom(&'static SharedPath),
    /// RTSHM_DIR is set but unusable (not absolute, too long, or not safe): EINVAL.
    Invalid,
    /// RTSHM_DIR cannot be used yet (a component does not exist, or the check could not
    /// finish): the call fails with this errno, and the next call checks again.
    Unavailable(Errno),
}

/// A value of RTSHM_DIR, as parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting<'a> {
    /// An absolute path, without its trailing slashes ("" for the root directory).
    Custom(&'a [u8]),
    /// Not an absolute path (the empty string included).
    Relative,
    /// Longer than DIR_MAX bytes without its trailing slashes.
    TooLong,
}

const UNREAD: u8 = 0;
/// /dev/shm and RTSHM_COMPAT off: nothing else to look at (plain_default).
const DEFAULT: u8 = 1;
/// /dev/shm with RTSHM_COMPAT set.
const DEFAULT_COMPAT: u8 = 2;
/// RTSHM_DIR copied into DIR, not yet found safe.
const UNCHECKED: u8 = 3;
/// RTSHM_DIR copied into DIR and found safe.
const CUSTOM: u8 = 4;
/// RTSHM_DIR unusable.
const INVALID: u8 = 5;

static STATE: AtomicU8 = AtomicU8::new(UNREAD);
/// RTSHM_DIR without its trailing slashes, once STATE is UNCHECKED or CUSTOM.
static DIR: SharedPath = SharedPath::new();
/// RTSHM_COMPAT and RTSHM_COMPAT_LOG, published by the same store of STATE: the Compat value
/// (MODE_BITS), plus LOG_BIT.
static OPTIONS: AtomicU8 = AtomicU8::new(0);
const MODE_BITS: u8 = 0x0f;
const LOG_BIT: u8 = 0x80;

/// RTSHM_RESERVE: UNREAD until the first ftruncate, then OFF or ON (read_reserve).
static RESERVE: AtomicU8 = AtomicU8::new(UNREAD);
const OFF: u8 = 1;
const ON: u8 = 2;

/// RTSHM_COMPAT: the stricter system whose rules are enforced on top of Linux's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Compat {
    /// Unset (or unknown): no change at all.
    Off,
    /// POSIX's portable subset.
    Posix,
    /// FreeBSD's shm_open(2).
    FreeBsd,
    /// macOS's shm_open.
    MacOs,
}

/// The names RTSHM_COMPAT takes, as packed in OPTIONS (1, 2, 3).
const COMPAT_NAMES: [(&[u8], Compat); 3] = [
    (b"posix", Compat::Posix),
    (b"freebsd", Compat::FreeBsd),
    (b"macos", Compat::MacOs),
];

impl Compat {
    /// The value RTSHM_COMPAT takes for this mode.
    pub fn name(self) -> &'static [u8] {
        COMPAT_NAMES
            .iter()
            .find(|(_, mode)| *mode == self)
            .map_or(b"", |(name, _)| name)
    }
}

/// Whether objects live in /dev/shm and RTSHM_COMPAT is off: then no other setting matters.
/// One load and compare: the usual case's whole cost.
#[inline(always)]
pub fn plain_default() -> bool {
    STATE.load(Ordering::Acquire) == DEFAULT
}

/// The RTSHM_COMPAT setting in effect, and whether RTSHM_COMPAT_LOG asks for a line on stderr
/// per violation.
pub fn compat() -> (Compat, bool) {
    if STATE.load(Ordering::Acquire) == UNREAD {
        read();
    }
    let packed = OPTIONS.load(Ordering::Relaxed);
    let mode = COMPAT_NAMES
        .get(usize::from(packed & MODE_BITS).wrapping_sub(1))
        .map_or(Compat::Off, |(_, mode)| *mode);
    (mode, packed & LOG_BIT != 0)
}

/// Whether ftruncate is the plain system call: RTSHM_RESERVE is read, and off. One load and
/// compare: the whole cost of ftruncate's choice.
#[inline(always)]
pub fn reserve_off() -> bool {
    RESERVE.load(Ordering::Relaxed) == OFF
}

/// Whether RTSHM_RESERVE=1 asks ftruncate to reserve what it grows an object by (reserve.rs);
/// the variable is read at the first call.
pub fn reserve() -> bool {
    if RESERVE.load(Ordering::Relaxed) == UNREAD {
        read_reserve();
    }
    RESERVE.load(Ordering::Relaxed) == ON
}

/// Reads RTSHM_RESERVE and publishes it, unless another thread has already; the thread whose
/// store publishes it reports a value other than 0 and 1.
#[cold]
fn read_reserve() {
    // Unset and 0 are off, 1 on; anything else is off and said.
    let value = var(c"RTSHM_RESERVE");
    let state = if value == Some(b"1") { ON } else { OFF };
    if RESERVE
        .compare_exchange(UNREAD, state, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    if let Some(v) = value.filter(|v| *v != b"0" && *v != b"1") {
        warn::line(
            &|l| {
                l.put(b"RTSHM_RESERVE=")
                    .quoted(v, warn::VALUE_SHOWN)
                    .put(b" is not used: not 0 or 1; ftruncate does not reserve");
            },
            b"rtshm: RTSHM_RESERVE is not used: not 0 or 1; ftruncate does not reserve\n",
        );
    }
}

/// A variable of the environment: None when unset, and in a secure-execution process (as
/// secure_getenv).
fn var(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: getauxval only reads the auxiliary vector the kernel gave the process.
    if unsafe { libc::getauxval(libc::AT_SECURE) } != 0 {
        return None;
    }
    // SAFETY: a NUL-terminated name; getenv only reads the environment.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    // SAFETY: a NUL-terminated string in the environment, which stays in place while the
    // program does not change the environment (see the module's comment).
    (!value.is_null()).then(|| unsafe { name::c_bytes::<'static>(value) })
}

/// The directory in effect (the environment is read at the first call).
pub fn dir() -> Dir {
    if STATE.load(Ordering::Acquire) == UNREAD {
        read();
    }
    match STATE.load(Ordering::Acquire) {
        DEFAULT | DEFAULT_COMPAT => Dir::Default,
        CUSTOM => Dir::Custom(&DIR),
        INVALID => Dir::Invalid,
        _ => check(),
    }
}

/// The directory in effect as a C string ("/" for the root), or NULL when RTSHM_DIR is
/// unusable. A directory not checked yet (it does not exist yet) is returned as it is set.
pub fn dir_c_string() -> *const c_char {
    match dir() {
        Dir::Default => name::DEFAULT_DIR.as_ptr(),
        Dir::Invalid => core::ptr::null(),
        Dir::Custom(_) | Dir::Unavailable(_) if DIR.is_empty() => c"/".as_ptr(),
        Dir::Custom(_) | Dir::Unavailable(_) => DIR.as_ptr(),
    }
}

/// Reads the environment and publishes the settings, unless another thread has already. The
/// thread whose store publishes them reports an unusable value.
#[cold]
fn read() {
    // Empty is unset (`RTSHM_COMPAT= program` turns it off), not an unknown mode.
    let compat_value = var(c"RTSHM_COMPAT").filter(|v| !v.is_empty());
    let mode = compat_value.map_or(Some(0), |v| {
        (1..)
            .zip(COMPAT_NAMES)
            .find(|(_, (name, _))| *name == v)
            .map(|(packed, _)| packed)
    });
    let logging = var(c"RTSHM_COMPAT_LOG").is_some_and(|v| !v.is_empty() && v != b"0");
    let packed = mode.unwrap_or(0) | if logging { LOG_BIT } else { 0 };
    let value = var(c"RTSHM_DIR");
    let setting = value.map(parse);
    if STATE.load(Ordering::Acquire) != UNREAD {
        return;
    }
    let state = match setting {
        None if packed & MODE_BITS != 0 => DEFAULT_COMPAT,
        None => DEFAULT,
        Some(Setting::Custom(dir)) => {
            DIR.store(dir);
            UNCHECKED
        }
        Some(_) => INVALID,
    };
    OPTIONS.store(packed, Ordering::Relaxed);
    if STATE
        .compare_exchange(UNREAD, state, Ordering::Release, Ordering::Acquire)
        .is_err()
    {
        return;
    }
    if let (Some(v), None) = (compat_value, mode) {
        warn::line(
            &|l| {
                l.put(b"RTSHM_COMPAT=")
                    .quoted(v, warn::VALUE_SHOWN)
                    .put(b" is not used: not ");
                for (i, (name, _)) in COMPAT_NAMES.iter().enumerate() {
                    let last = i + 1 == COMPAT_NAMES.len();
                    l.put(match i {
                        0 => b"",
                        _ if last => b" or ",
                        _ => b", ",
                    })
                    .put(name);
                }
            },
            b"rtshm: RTSHM_COMPAT is not used: not a known mode\n",
        );
    }
    if !matches!(setting, Some(Setting::Relative | Setting::TooLong)) {
        return;
    }
    let v = value.unwrap_or_default();
    warn::line(
        &|l| {
            l.put(b"RTSHM_DIR=").quoted(v, warn::VALUE_SHOWN);
            if setting == Some(Setting::Relative) {
                l.put(b" is not used: not an absolute path");
            } else {
                l.put(b" is not used: longer than ")
                    .number(DIR_MAX as u64)
                    .put(b" bytes");
            }
            l.put(b"; calls fail with EINVAL");
        },
        b"rtshm: RTSHM_DIR is not used: not an absolute path short enough to use\n",
    );
}

/// Checks the published RTSHM_DIR (STATE UNCHECKED) and publishes the verdict. The thread
/// whose store publishes a refusal reports it.
#[cold]
fn check() -> Dir {
    let verdict = safedir::check(
        DIR.len(),
        |out| DIR.copy_to_bytes(out),
        |path, component, why| {
            if STATE
                .compare_exchange(UNCHECKED, INVALID, Ordering::Release, Ordering::Acquire)
                .is_ok()
            {
                refused(path, component, why);
            }
        },
    );
    match verdict {
        Verdict::Safe => {
            let _ = STATE.compare_exchange(UNCHECKED, CUSTOM, Ordering::Release, Ordering::Acquire);
            dir()
        }
        Verdict::Missing => Dir::Unavailable(Errno(libc::ENOENT)),
        Verdict::Retry(e) => Dir::Unavailable(e),
        Verdict::Unsafe => Dir::Invalid,
    }
}

/// The line for an RTSHM_DIR found unsafe at `component`.
#[cold]
#[inline(never)]
fn refused(path: &[u8], component: &[u8], why: Why) {
    warn::line(
        &|l| {
            l.put(b"RTSHM_DIR=")
                .quoted(if path.is_empty() { b"/" } else { path }, warn::PATH_SHOWN);
            l.put(b" is not used: ")
                .quoted(component, warn::PATH_SHOWN)
                .put(b" ");
            let user = crate::sys::settled_uid();
            match why {
                Why::Owner(uid) | Why::LinkOwner(uid) => {
                    l.put(if matches!(why, Why::Owner(_)) {
                        b"is owned by uid "
                    } else {
                        b"is a symbolic link owned by uid "
                    })
                    .number(uid.into());
                    match user {
                        Some(user) => {
                            l.put(b", not by root or the effective uid ")
                                .number(user.into());
                        }
                        None => {
                            l.put(b", not by root (this process's real, effective and saved uids differ: only root's directories are trusted)");
                        }
                    }
                }
                Why::Writable => {
                    l.put(b"is writable by group or others and not sticky");
                }
                Why::NotDirectory => {
                    l.put(b"is not a directory");
                }
                Why::Fuse => {
                    l.put(b"is on a FUSE file system, whose owners its server chooses");
                }
                Why::MountedOver => {
                    l.put(b"leads elsewhere when followed (an automount or a mount over it)");
                }
                Why::Unchecked(e) => {
                    l.put(b"cannot be checked: ");
                    warn::errno(l, e);
                }
            }
            l.put(b"; calls fail with EINVAL");
        },
        b"rtshm: RTSHM_DIR is not used: it is not a safe directory; calls fail with EINVAL\n",
    );
}

/// RTSHM_DIR's value as a setting: an absolute path, trailing slashes dropped, at most
/// DIR_MAX bytes.
pub fn parse(value: &[u8]) -> Setting<'_> {
    if value.first() != Some(&b'/') {
        return Setting::Relative;
    }
    let trimmed = match value.iter().rposition(|&b| b != b'/') {
        Some(last) => &value[..=last],
        None => &value[..0],
    };
    if trimmed.len() > DIR_MAX {
        return Setting::TooLong;
    }
    Setting::Custom(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(value: &[u8]) -> Option<Vec<u8>> {
        match parse(value) {
            Setting::Custom(d) => Some(d.to_vec()),
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
            assert_eq!(parse(v), Setting::Relative, "{v:?}");
        }
    }

    #[test]
    fn length_limit_leaves_room_for_a_full_name() {
        let mut v = vec![b'/'];
        v.extend(std::iter::repeat(b'd').take(DIR_MAX - 1));
        assert_eq!(custom(&v).unwrap().len(), DIR_MAX);
        v.push(b'd');
        assert_eq!(parse(&v), Setting::TooLong);
        v.pop();
        v.extend_from_slice(b"////"); // trailing slashes do not count
        assert_eq!(custom(&v).unwrap().len(), DIR_MAX);
    }
}
