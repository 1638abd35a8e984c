//! The input-parsing pieces against reference models: RTSHM_DIR values, SHM_ANON's flag rules,
//! shm_rename's flags, shm_mkstemp's templates. Each model is the rule as docs/COMPAT.md and
//! README.md state it, written again here independently of the library's code.
#![no_main]

use std::ffi::CString;

use libfuzzer_sys::fuzz_target;
use rtshm::fuzzing::{parse_rtshm_dir, Dir, DIR_MAX};

fn errno() -> i32 {
    // SAFETY: the thread's errno.
    unsafe { *libc::__errno_location() }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 4 {
        // RTSHM_DIR: absolute, trailing slashes dropped, at most DIR_MAX bytes; else invalid.
        0 => {
            // SAFETY: parse only borrows the value for the duration of this block, which the
            // 'static it asks for (environment strings live forever) does not outlast here.
            let value: &'static [u8] = unsafe { std::mem::transmute::<&[u8], &'static [u8]>(rest) };
            let trimmed_len = value.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
            match parse_rtshm_dir(value) {
                Dir::Custom(d) => {
                    assert_eq!(value.first(), Some(&b'/'));
                    assert_eq!(d, &value[..trimmed_len]);
                    assert!(d.len() <= DIR_MAX && d.last() != Some(&b'/'));
                }
                Dir::Invalid => assert!(value.first() != Some(&b'/') || trimmed_len > DIR_MAX),
                Dir::Default => panic!("a set value is never the default"),
            }
        }
        // SHM_ANON: O_RDWR, plus only O_CREAT, O_EXCL, O_TRUNC, O_CLOEXEC; else EINVAL.
        1 => {
            let flags = i32::from_le_bytes([rest.first().copied().unwrap_or(0), rest.get(1).copied().unwrap_or(0), rest.get(2).copied().unwrap_or(0), rest.get(3).copied().unwrap_or(0)]);
            let known = libc::O_ACCMODE | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_CLOEXEC;
            let valid = flags & libc::O_ACCMODE == libc::O_RDWR && flags & !known == 0;
            // SAFETY: SHM_ANON is (char *)1, which the library never reads.
            let fd = unsafe { rtshm::shm_open(1 as *const libc::c_char, flags, 0o600) };
            if valid {
                assert!(fd >= 0, "SHM_ANON refused valid flags {flags:#x}");
                // SAFETY: closing the descriptor just returned.
                unsafe { libc::close(fd) };
            } else {
                assert!(fd == -1 && errno() == libc::EINVAL, "SHM_ANON accepted flags {flags:#x}");
            }
        }
        // shm_rename's flags: 0, NOREPLACE or EXCHANGE; anything else EINVAL, checked before
        // the names (here, of objects that do not exist: ENOENT).
        2 => {
            let flags = i32::from_le_bytes([rest.first().copied().unwrap_or(0), rest.get(1).copied().unwrap_or(0), rest.get(2).copied().unwrap_or(0), rest.get(3).copied().unwrap_or(0)]);
            let (from, to) = (c"/rtshm-fz-missing-a", c"/rtshm-fz-missing-b");
            // SAFETY: NUL-terminated names.
            let r = unsafe { rtshm::shm_rename(from.as_ptr(), to.as_ptr(), flags) };
            let want = if (0..=2).contains(&flags) { libc::ENOENT } else { libc::EINVAL };
            assert!(r == -1 && errno() == want, "shm_rename flags {flags:#x}: {} {}", r, errno());
        }
        // shm_mkstemp: at least six trailing X's, else EINVAL and the template untouched; on
        // success only the X's change, to letters and digits.
        _ => {
            let mut t: Vec<u8> = b"/rtshm-fz-mk.".to_vec();
            t.extend(rest.iter().map(|&b| if b == 0 || b == b'/' { b'X' } else { b }).take(200));
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
