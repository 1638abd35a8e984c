//! How things are written: sizes, ages, names in a table and in JSON, owners.

use std::collections::HashMap;
use std::ffi::CStr;
use std::fmt::Write;

/// 1024-based, as ls -h: "512", "1.5K", "16M", "7.8G".
pub fn size(n: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1023.95 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if v < 9.95 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

/// How long ago, roughly: "40s", "12m", "5h", "3d".
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..120 => format!("{s}s"),
        120..7200 => format!("{}m", s / 60),
        7200..172_800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// A name for a table: UTF-8 as it is; control characters, backslashes and bytes that are not
/// UTF-8 as \xNN, so that every name is one visible word.
pub fn shown(name: &[u8]) -> String {
    let mut out = String::new();
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' || c == ' ' {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// A JSON string. A byte that is not UTF-8 is written as the lone surrogate U+DC80 + its value
/// (Python's surrogateescape: os.fsencode(name) gives the bytes back).
pub fn json_str(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\u{:04x}", 0xdc00 + u32::from(*b));
        }
    }
    out.push('"');
    out
}

/// The names of users and groups, looked up once each (NSS: /etc/passwd, LDAP...).
#[derive(Default)]
pub struct Names {
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
}

impl Names {
    pub fn user(&mut self, uid: u32) -> Option<String> {
        self.users
            .entry(uid)
            .or_insert_with(|| lookup(uid, true))
            .clone()
    }
    pub fn group(&mut self, gid: u32) -> Option<String> {
        self.groups
            .entry(gid)
            .or_insert_with(|| lookup(gid, false))
            .clone()
    }
}

fn lookup(id: u32, user: bool) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: all-zero bytes are valid for both structs (integers and null pointers).
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::c_void = std::ptr::null_mut();
    // SAFETY: each call fills the struct, points its strings into buf (of the length given),
    // and sets `found` to the struct or to NULL.
    let r = unsafe {
        if user {
            libc::getpwuid_r(
                id,
                &mut pw,
                buf.as_mut_ptr(),
                buf.len(),
                (&mut found as *mut *mut libc::c_void).cast(),
            )
        } else {
            libc::getgrgid_r(
                id,
                &mut gr,
                buf.as_mut_ptr(),
                buf.len(),
                (&mut found as *mut *mut libc::c_void).cast(),
            )
        }
    };
    if r != 0 || found.is_null() {
        return None;
    }
    let name = if user { pw.pw_name } else { gr.gr_name };
    // SAFETY: the call succeeded: the name is a NUL-terminated string in buf.
    Some(
        unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Rows of cells, each column as wide as its widest cell; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = width[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0");
        assert_eq!(size(1023), "1023");
        assert_eq!(size(1024), "1.0K");
        assert_eq!(size(1536), "1.5K");
        assert_eq!(size(16 << 20), "16M");
        assert_eq!(size((1 << 30) - 1), "1.0G");
        assert_eq!(size(10 * 1024 - 1), "10K");
    }

    #[test]
    fn json_strings() {
        assert_eq!(json_str(b"/a\"b\\c\n\x01"), r#""/a\"b\\c\n\u0001""#);
        assert_eq!(json_str(b"/\xff\xc3\xa9"), "\"/\\udcff\u{e9}\"");
    }

    #[test]
    fn shown_names() {
        assert_eq!(shown(b"/a b\\\xff\xc3\xa9"), "/a\\x20b\\x5c\\xff\u{e9}");
    }

    #[test]
    fn ages() {
        assert_eq!(age(-5), "0s");
        assert_eq!(age(119), "119s");
        assert_eq!(age(120), "2m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(172_800), "2d");
    }
}
