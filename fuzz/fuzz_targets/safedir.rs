//! RTSHM_DIR's safety check against a model of the rule as README.md and docs/HARDENING.md
//! state it. Each input builds a small tree in a fresh directory — directories, symbolic links
//! and files, with owners root, 65534 and 1000 and modes with and without group or world
//! write and the sticky bit; links to siblings, parents, the root, absolute paths and nowhere —
//! and then checks a path through it made of those names, ".", ".." and missing ones. The
//! library's verdict (safe, missing, refused where and why) must be the model's.
//!
//! Needs root (to give entries other owners); as another user every entry is the caller's.
#![no_main]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use rtshm::fuzzing::{check_dir, Verdict, Why};

const OWNERS: [u32; 3] = [0, 65534, 1000];
const MODES: [u32; 6] = [0o755, 0o777, 0o1777, 0o700, 0o775, 0o1770];

/// The rule, written from the documentation: walk from /, each entry looked at without
/// following it; a symbolic link must be owned by root or the process's user (its uid when the
/// real, effective and saved uids agree) and its target is walked next; a directory must be so
/// owned and not group- or world-writable unless sticky; anything else is not a directory; a
/// missing entry is Missing.
fn model(path: &[u8]) -> (Verdict, Option<(Vec<u8>, Why)>) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: getresuid writes the three ids.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    let trusted = |uid: u32| uid == 0 || (uid == e && r == e && e == s);
    let mut cur = PathBuf::from("/");
    let mut todo: Vec<Vec<u8>> = split(path);
    let mut links = 0;
    let shown = |p: &Path| p.as_os_str().as_bytes().to_vec();
    let judge_dir = |p: &Path| -> Option<(Verdict, Option<(Vec<u8>, Why)>)> {
        let m = fs::symlink_metadata(p).ok()?;
        if !trusted(m.uid()) {
            return Some((Verdict::Unsafe, Some((shown(p), Why::Owner(m.uid())))));
        }
        if m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0 {
            return Some((Verdict::Unsafe, Some((shown(p), Why::Writable))));
        }
        None
    };
    if let Some(refused) = judge_dir(&cur) {
        return refused;
    }
    while !todo.is_empty() {
        let comp = todo.remove(0);
        match &comp[..] {
            b"." => continue,
            b".." => {
                cur.pop();
                if let Some(refused) = judge_dir(&cur) {
                    return refused;
                }
                continue;
            }
            _ => {}
        }
        let next = cur.join(OsStr::from_bytes(&comp));
        let Ok(m) = fs::symlink_metadata(&next) else {
            return (Verdict::Missing, None);
        };
        if m.file_type().is_symlink() {
            if !trusted(m.uid()) {
                return (
                    Verdict::Unsafe,
                    Some((shown(&next), Why::LinkOwner(m.uid()))),
                );
            }
            links += 1;
            if links > 40 {
                let e = rtshm::fuzzing::Errno(libc::ELOOP);
                return (Verdict::Unsafe, Some((shown(&next), Why::Unchecked(e))));
            }
            let target = fs::read_link(&next).expect("a link just seen");
            let target = target.as_os_str().as_bytes();
            let mut spliced = split(target);
            spliced.append(&mut todo);
            todo = spliced;
            if target.first() == Some(&b'/') {
                cur = PathBuf::from("/");
                if let Some(refused) = judge_dir(&cur) {
                    return refused;
                }
            }
        } else if m.is_dir() {
            if let Some(refused) = judge_dir(&next) {
                return refused;
            }
            cur = next;
        } else {
            return (Verdict::Unsafe, Some((shown(&next), Why::NotDirectory)));
        }
    }
    (Verdict::Safe, None)
}

fn split(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Builds the tree the input describes under `base`; returns the names made.
fn build(base: &Path, data: &mut impl Iterator<Item = u8>) -> Vec<PathBuf> {
    let root = unsafe { libc::geteuid() } == 0;
    let mut made: Vec<PathBuf> = vec![base.to_path_buf()];
    let count = data.next().unwrap_or(0) % 7;
    for i in 0..count {
        let parent = made[usize::from(data.next().unwrap_or(0)) % made.len()].clone();
        if !parent.is_dir()
            || fs::symlink_metadata(&parent).map_or(true, |m| m.file_type().is_symlink())
        {
            continue;
        }
        let path = parent.join(format!("n{i}"));
        let kind = data.next().unwrap_or(0) % 3;
        let owner = OWNERS[usize::from(data.next().unwrap_or(0)) % OWNERS.len()];
        match kind {
            0 => {
                fs::create_dir(&path).expect("mkdir");
                let mode = MODES[usize::from(data.next().unwrap_or(0)) % MODES.len()];
                fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            }
            1 => {
                let to = match data.next().unwrap_or(0) % 7 {
                    0 => PathBuf::from("/"),
                    1 => PathBuf::from(".."),
                    2 => PathBuf::from("nowhere"),
                    3 => PathBuf::from(format!("n{}", data.next().unwrap_or(0) % 7)),
                    4 => PathBuf::from(format!("../n{}", data.next().unwrap_or(0) % 7)),
                    5 => PathBuf::from("/tmp"),
                    _ => made[usize::from(data.next().unwrap_or(0)) % made.len()].clone(),
                };
                symlink(&to, &path).expect("symlink");
            }
            _ => {
                fs::write(&path, b"").expect("a file");
            }
        }
        if root {
            std::os::unix::fs::lchown(&path, Some(owner), Some(owner)).expect("lchown");
        }
        made.push(path);
    }
    made
}

fuzz_target!(|data: &[u8]| {
    let mut data = data.iter().copied();
    let base = std::env::temp_dir().join(format!("rtshm-fuzz-safedir.{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir(&base).expect("the fuzzer's own directory");
    fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).expect("chmod");
    let made = build(&base, &mut data);
    // The path: the base, then up to five components among the names made, ".", ".." and a
    // missing one (names relative to their parent: "n3", or the whole path of one made).
    let mut path = base.as_os_str().as_bytes().to_vec();
    for _ in 0..data.next().unwrap_or(0) % 6 {
        let pick = data.next().unwrap_or(0);
        let comp: Vec<u8> = match pick % 5 {
            0 => b".".to_vec(),
            1 => b"..".to_vec(),
            2 => b"missing".to_vec(),
            3 => format!("n{}", pick / 5 % 7).into_bytes(),
            _ => {
                // Jump to an entry by its whole path.
                path.clear();
                made[usize::from(pick / 5) % made.len()]
                    .as_os_str()
                    .as_bytes()
                    .to_vec()
            }
        };
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&comp);
    }
    let got = check_dir(&path);
    let want = model(&path);
    let _ = fs::remove_dir_all(&base);
    assert_eq!(got, want, "path {:?}", String::from_utf8_lossy(&path));
});
