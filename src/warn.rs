//! One line on standard error, for a setting that is set but unusable (config.rs) and for
//! RTSHM_COMPAT_LOG (compat.rs): "rtshm: ..." with the user's bytes quoted and escaped.
//!
//! The line is built in a page of its own, mapped for the purpose, not on the stack: the first
//! call of a process may run in a signal handler on a small alternate stack. It goes out in one
//! write(2), so lines of threads and processes sharing the descriptor do not interleave.

use crate::sys;

/// The room for one line; longer quoted values are cut (see Line::quoted).
const LINE: usize = 4096;
/// How many bytes of a quoted value a line shows (Line::quoted's `max`): of a setting's value
/// that is not used,
pub(crate) const VALUE_SHOWN: usize = 64;
/// of a name a call was refused for (RTSHM_COMPAT_LOG),
pub(crate) const NAME_SHOWN: usize = 160;
/// and of a path and the component of it that was refused (RTSHM_DIR).
pub(crate) const PATH_SHOWN: usize = 256;

/// A line being built.
pub struct Line<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Line<'_> {
    /// Appends bytes as they are (cut at the end of the room).
    #[inline(never)]
    pub fn put(&mut self, bytes: &[u8]) -> &mut Self {
        // The last byte stays free for the newline.
        let room = self.buf.len().saturating_sub(1);
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len).filter(|_| self.len < room) {
                *slot = b;
                self.len += 1;
            }
        }
        self
    }

    /// Appends `value` in double quotes: printable ASCII as it is, any other byte (and `"` and
    /// `\`) as \xNN, and at most `max` bytes of it, then "...".
    #[inline(never)]
    pub fn quoted(&mut self, value: &[u8], max: usize) -> &mut Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.put(b"\"");
        for &b in value.iter().take(max) {
            if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
                self.put(&[b]);
            } else {
                self.put(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ]);
            }
        }
        if value.len() > max {
            self.put(b"...");
        }
        self.put(b"\"")
    }

    /// Appends a number in decimal.
    #[inline(never)]
    pub fn number(&mut self, n: u64) -> &mut Self {
        let mut digits = [0u8; 20]; // u64::MAX has 20
        let mut start = digits.len();
        let mut rest = n;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
            start -= 1;
            if rest == 0 {
                break;
            }
        }
        self.put(digits.get(start..).unwrap_or_default())
    }
}

/// Writes the line `build` makes, "rtshm: " first and a newline last. Where no page can be
/// mapped for it, `fallback` (a whole line) is written instead.
#[cold]
#[inline(never)]
pub fn line(build: &dyn Fn(&mut Line), fallback: &[u8]) {
    let Ok(page) = sys::map(LINE, -1) else {
        let _ = sys::write_all(2, fallback);
        return;
    };
    // SAFETY: a fresh private mapping of LINE bytes, this call's alone until it is unmapped
    // below, after the last use of the slice.
    let buf = unsafe { core::slice::from_raw_parts_mut(page, LINE) };
    let mut line = Line { buf, len: 0 };
    line.put(b"rtshm: ");
    build(&mut line);
    // The newline always fits: put() keeps the last byte free.
    let len = line.len;
    if let Some(nl) = line.buf.get_mut(len) {
        *nl = b'\n';
    }
    let _ = sys::write_all(2, line.buf.get(..=len).unwrap_or_default());
    // SAFETY: `line` and `buf` are not used after this.
    let _ = unsafe { sys::unmap(page, LINE) };
}

/// Appends an errno value by its name where the directory check or RTSHM_RESERVE (reserve.rs)
/// can meet it, else its number.
pub fn errno(line: &mut Line, e: sys::Errno) {
    let name: &[u8] = match e.0 {
        libc::EACCES => b"EACCES",
        libc::ELOOP => b"ELOOP",
        libc::ENAMETOOLONG => b"ENAMETOOLONG",
        libc::ENOENT => b"ENOENT",
        libc::EOPNOTSUPP => b"EOPNOTSUPP",
        libc::ENOTDIR => b"ENOTDIR",
        libc::EIO => b"EIO",
        libc::EPERM => b"EPERM",
        _ => {
            line.put(b"errno ").number(e.0 as u64);
            return;
        }
    };
    line.put(name);
}
