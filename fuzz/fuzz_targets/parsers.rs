//! The input-parsing pieces against reference models: RTSHM_DIR values, SHM_ANON's flag rules,
//! shm_rename's flags, shm_mkstemp's templates, RTSHM_COMPAT's rules. Each model is the rule as docs/COMPAT.md and
//! README.md state it, written again here independently of the library's code.
#![no_main]

use std::ffi::CString;

use libfuzzer_sys::fuzz_target;
use rtshm::fuzzing::{compat_check, dir_max, parse_rtshm_dir, Compat, Setting};

/// RTSHM_COMPAT's rules for shm_open as docs/COMPAT.md states them: the flags to use, or the
/// errno.
fn compat_model(mode: Compat, name: &[u8], flags: i32) -> Result<i32, i32> {
    let acc = flags & libc::O_ACCMODE;
    let acc_ok = acc == libc::O_RDONLY || acc == libc::O_RDWR;
    match mode {
        Compat::Posix => {
            let portable = name.len() >= 2 && name[0] == b'/' && !name[1..].contains(&b'/');
            let only =
                flags & !(libc::O_ACCMODE | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC) == 0;
            let trunc_ro = flags & libc::O_TRUNC != 0 && acc == libc::O_RDONLY;
            let excl_alone = flags & libc::O_EXCL != 0 && flags & libc::O_CREAT == 0;
            if portable && acc_ok && only && !trunc_ro && !excl_alone {
                Ok(flags)
            } else {
                Err(libc::EINVAL)
            }
        }
        Compat::FreeBsd => {
            let known =
                libc::O_ACCMODE | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_CLOEXEC;
            if !acc_ok || flags & !known != 0 || name.first() != Some(&b'/') {
                Err(libc::EINVAL)
            } else if name.len() >= 1024 {
                Err(libc::ENAMETOOLONG)
            } else if acc == libc::O_RDONLY {
                Ok(flags & !libc::O_TRUNC)
            } else {
                Ok(flags)
            }
        }
        Compat::MacOs => {
            if name.len() > 31 {
                Err(libc::ENAMETOOLONG)
            } else {
                Ok(flags)
            }
        }
        Compat::Off => Ok(flags),
    }
}

fn errno() -> i32 {
    // SAFETY: the thread's errno.
    unsafe { *libc::__errno_location() }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 5 {
        // RTSHM_DIR: absolute, trailing slashes dropped, at most DIR_MAX bytes; else invalid.
        0 => {
            let value = rest;
            let trimmed_len = value.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
            match parse_rtshm_dir(value) {
                Setting::Custom(d) => {
                    assert_eq!(value.first(), Some(&b'/'));
                    assert_eq!(d, &value[..trimmed_len]);
                    assert!(d.len() <= dir_max() && d.last() != Some(&b'/'));
                }
                Setting::Relative => assert!(value.first() != Some(&b'/')),
                Setting::TooLong => {
                    assert!(value.first() == Some(&b'/') && trimmed_len > dir_max())
                }
            }
        }
        // SHM_ANON: O_RDWR, plus only O_CREAT, O_EXCL, O_TRUNC, O_CLOEXEC; else EINVAL.
        1 => {
            let flags = i32::from_le_bytes([
                rest.first().copied().unwrap_or(0),
                rest.get(1).copied().unwrap_or(0),
                rest.get(2).copied().unwrap_or(0),
                rest.get(3).copied().unwrap_or(0),
            ]);
            let known =
                libc::O_ACCMODE | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_CLOEXEC;
            let valid = flags & libc::O_ACCMODE == libc::O_RDWR && flags & !known == 0;
            // SAFETY: SHM_ANON is (char *)1, which the library never reads.
            let fd = unsafe { rtshm::shm_open(1 as *const libc::c_char, flags, 0o600) };
            if valid {
                assert!(fd >= 0, "SHM_ANON refused valid flags {flags:#x}");
                // SAFETY: closing the descriptor just returned.
                unsafe { libc::close(fd) };
            } else {
                assert!(
                    fd == -1 && errno() == libc::EINVAL,
                    "SHM_ANON accepted flags {flags:#x}"
                );
            }
        }
        // shm_rename's flags: 0, NOREPLACE or EXCHANGE; anything else EINVAL, checked before
        // the names (here, of objects that do not exist: ENOENT).
        2 => {
            let flags = i32::from_le_bytes([
                rest.first().copied().unwrap_or(0),
                rest.get(1).copied().unwrap_or(0),
                rest.get(2).copied().unwrap_or(0),
                rest.get(3).copied().unwrap_or(0),
            ]);
            let (from, to) = (c"/rtshm-fz-missing-a", c"/rtshm-fz-missing-b");
            // SAFETY: NUL-terminated names.
            let r = unsafe { rtshm::shm_rename(from.as_ptr(), to.as_ptr(), flags) };
            let want = if (0..=2).contains(&flags) {
                libc::ENOENT
            } else {
                libc::EINVAL
            };
            assert!(
                r == -1 && errno() == want,
                "shm_rename flags {flags:#x}: {} {}",
                r,
                errno()
            );
        }
        // RTSHM_COMPAT: the rules for a random name and flags, in each mode.
        4 => {
            let mode = [Compat::Posix, Compat::FreeBsd, Compat::MacOs]
                [usize::from(rest.first().copied().unwrap_or(0) % 3)];
            let flags = i32::from_le_bytes([
                rest.get(1).copied().unwrap_or(0),
                rest.get(2).copied().unwrap_or(0),
                rest.get(3).copied().unwrap_or(0),
                rest.get(4).copied().unwrap_or(0),
            ]);
            let mut name: Vec<u8> = rest.iter().skip(5).copied().filter(|&b| b != 0).collect();
            if let Some(&n) = rest.get(5) {
                name.extend(std::iter::repeat(b'n').take(usize::from(n) * 5)); // lengths past 1024
            }
            let c = CString::new(name.clone()).unwrap();
            // SAFETY: a NUL-terminated name.
            let got = unsafe { compat_check(mode, false, "shm_open", c.as_ptr(), Some(flags)) }
                .map_err(|e| e.0);
            assert_eq!(
                got,
                compat_model(mode, &name, flags),
                "{mode:?} flags {flags:#x} name of {} bytes",
                name.len()
            );
        }
        // shm_mkstemp: at least six trailing X's, else EINVAL and the template untouched; on
        // success only the X's change, to letters and digits.
        _ => {
            let mut t: Vec<u8> = b"/rtshm-fz-mk.".to_vec();
            t.extend(
                rest.iter()
                    .map(|&b| if b == 0 || b == b'/' { b'X' } else { b })
                    .take(200),
            );
            let xs = t.iter().rev().take_while(|&&b| b == b'X').count();
            let c = CString::new(t.clone()).unwrap();
            let raw = c.into_raw();
            // SAFETY: a writable NUL-terminated template of our own.
            let fd = unsafe { rtshm::shm_mkstemp(raw) };
            let err = errno();
            // SAFETY: the CString given away above, taken back.
            let after = unsafe { CString::from_raw(raw) }.into_bytes();
            if xs < 6 {
                assert!(fd == -1 && err == libc::EINVAL && after == t);
            } else if fd >= 0 {
                let start = t.len() - xs;
                assert_eq!(after[..start], t[..start]);
                assert!(after[start..].iter().all(|b| b.is_ascii_alphanumeric()));
                // SAFETY: the object just made, and its descriptor.
                unsafe {
                    libc::close(fd);
                    rtshm::shm_unlink(after.as_ptr().cast());
                }
            } else {
                // shm_open's own refusals (a long name, bytes that make it invalid).
                assert!(after == t, "a failed shm_mkstemp changed its template");
            }
        }
    }
});
