//! RTSHM_COMPAT: another system's shm_open rules, enforced on top of Linux's, so that a test
//! run on Linux catches what would fail on that system. Each rule answers with the errno that
//! system returns; docs/COMPAT.md cites the source of each. With RTSHM_COMPAT_LOG set, every
//! violation (and every silent difference) also writes one line to standard error.

use core::ffi::{c_char, c_int};

use crate::config::{self, Compat, Dir};
use crate::name;
use crate::place;
use crate::sys::Errno;
use crate::warn;

/// The flags FreeBSD's shm_open accepts (kern_shm_open2): SHM_ANON's rules too (bsd.rs).
pub const FREEBSD_OPEN_FLAGS: c_int =
    libc::O_ACCMODE | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_CLOEXEC;
/// FreeBSD's MAXPATHLEN: a name with its NUL must fit.
const FREEBSD_MAXPATHLEN: usize = 1024;
/// macOS's PSHMNAMLEN: the longest name, leading slash included.
const MACOS_PSHMNAMLEN: usize = 31;

/// The flags a call of `func` on `name` (with `oflag` for shm_open; 0 for the calls without
/// flags) goes on with under RTSHM_COMPAT, or the errno the stricter system would answer; the
/// flags as given when RTSHM_COMPAT is off, and for a name that is not a string or an unusable
/// RTSHM_DIR, which place::resolve answers. Called only when objects are not in /dev/shm with
/// RTSHM_COMPAT off (config::plain_default), so never on the usual path.
///
/// # Safety
/// `name` is NULL, SHM_ANON, or points to a NUL-terminated string.
#[cold]
#[inline(never)]
pub unsafe fn adjust(
    func: &str,
    name: *const c_char,
    oflag: Option<c_int>,
) -> Result<c_int, Errno> {
    let flags = oflag.unwrap_or(0);
    let (mode, log) = config::compat();
    let string = !name.is_null() && !place::is_anon(name);
    if mode == Compat::Off || !string || matches!(config::dir(), Dir::Invalid) {
        return Ok(flags);
    }
    // SAFETY: not NULL or SHM_ANON, so a NUL-terminated string by the caller's contract.
    unsafe { check(mode, log, func, name, oflag) }
}

/// Checks a call of `func` on `name` (with `oflag` for shm_open) against `mode`'s rules.
/// Returns the flags to use (FreeBSD ignores O_TRUNC without O_RDWR), or the errno that system
/// would answer.
///
/// # Safety
/// `name` points to a NUL-terminated string.
#[cold]
#[inline(never)]
pub unsafe fn check(
    mode: Compat,
    log: bool,
    func: &str,
    name: *const c_char,
    oflag: Option<c_int>,
) -> Result<c_int, Errno> {
    // SAFETY: the caller's contract.
    let bytes = unsafe { name::c_bytes(name) };
    let mut flags = oflag.unwrap_or(0);
    let acc = flags & libc::O_ACCMODE;
    let refuse = |errno: c_int, why: &str| {
        if log {
            report(mode, func, bytes, why);
        }
        Err(Errno(errno))
    };
    match mode {
        Compat::Off => {}
        Compat::Posix => {
            let portable =
                matches!(bytes, [b'/', rest @ ..] if !rest.is_empty() && !rest.contains(&b'/'));
            if !portable {
                return refuse(libc::EINVAL, "POSIX's portable name is a slash and then one or more bytes, none of them a slash");
            }
            if oflag.is_some() {
                if acc != libc::O_RDONLY && acc != libc::O_RDWR {
                    return refuse(libc::EINVAL, "POSIX: exactly one of O_RDONLY and O_RDWR");
                }
                if flags & !(libc::O_ACCMODE | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC) != 0 {
                    return refuse(
                        libc::EINVAL,
                        "POSIX names no flags but O_CREAT, O_EXCL and O_TRUNC",
                    );
                }
                if flags & libc::O_TRUNC != 0 && acc == libc::O_RDONLY {
                    return refuse(
                        libc::EINVAL,
                        "POSIX leaves O_TRUNC with O_RDONLY unspecified",
                    );
                }
                if flags & libc::O_EXCL != 0 && flags & libc::O_CREAT == 0 {
                    return refuse(
                        libc::EINVAL,
                        "POSIX leaves O_EXCL without O_CREAT undefined",
                    );
                }
            }
        }
        Compat::FreeBsd => {
            if oflag.is_some() {
                if acc != libc::O_RDONLY && acc != libc::O_RDWR {
                    return refuse(libc::EINVAL, "FreeBSD accepts only O_RDONLY or O_RDWR");
                }
                if flags & !FREEBSD_OPEN_FLAGS != 0 {
                    return refuse(
                        libc::EINVAL,
                        "FreeBSD refuses flags but O_CREAT, O_EXCL, O_TRUNC and O_CLOEXEC",
                    );
                }
            }
            if bytes.first() != Some(&b'/') {
                return refuse(libc::EINVAL, "FreeBSD requires a leading slash");
            }
            if bytes.len() >= FREEBSD_MAXPATHLEN {
                return refuse(libc::ENAMETOOLONG, "FreeBSD's limit is 1023 bytes");
            }
            if log && bytes.starts_with(b"//") {
                report(
                    mode,
                    func,
                    bytes,
                    "note: on FreeBSD \"//name\" is another object than \"/name\"",
                );
            }
            if flags & libc::O_TRUNC != 0 && acc == libc::O_RDONLY {
                if log {
                    report(
                        mode,
                        func,
                        bytes,
                        "note: FreeBSD truncates only with O_RDWR; O_TRUNC ignored",
                    );
                }
                flags &= !libc::O_TRUNC;
            }
        }
        Compat::MacOs => {
            if bytes.len() > MACOS_PSHMNAMLEN {
                return refuse(libc::ENAMETOOLONG, "macOS's PSHMNAMLEN is 31 bytes");
            }
        }
    }
    Ok(flags)
}

/// Writes one line to standard error: "rtshm: RTSHM_COMPAT=<mode>: <func>("<name>"): <why>".
/// Async-signal-safe: the line is built in a page of its own and written in one write(2).
fn report(mode: Compat, func: &str, name: &[u8], why: &str) {
    warn::line(
        &|l| {
            l.put(b"RTSHM_COMPAT=")
                .put(mode.name())
                .put(b": ")
                .put(func.as_bytes())
                .put(b"(")
                .quoted(name, warn::NAME_SHOWN)
                .put(b"): ")
                .put(why.as_bytes());
        },
        b"rtshm: RTSHM_COMPAT: a call was refused (no memory to say more)\n",
    );
}
