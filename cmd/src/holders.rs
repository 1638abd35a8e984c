//! Who holds an entry: the processes that have it open (a descriptor in /proc/PID/fd) or
//! mapped (a line of /proc/PID/maps), matched by device and inode, never by path. A process
//! whose descriptors or mappings the caller may not read is counted as unchecked: it may hold
//! any entry, and nothing is guessed about it.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;

use crate::scan::Entry;

/// A process that holds an entry.
#[derive(Clone)]
pub struct Holder {
    pub pid: u32,
    pub command: String,
    /// It has a descriptor of it.
    pub fd: bool,
    /// It has it mapped.
    pub mapped: bool,
}

/// The holders of each entry (in the entries' order), and the processes that could not be
/// checked.
pub struct Holders {
    pub of: Vec<Vec<Holder>>,
    /// The pids of the processes whose descriptors or mappings could not be read.
    pub unchecked: Vec<u32>,
    /// /proc hides other users' processes (hidepid), or could not be listed: some processes
    /// could not even be counted.
    pub hidden: bool,
}

impl Holders {
    /// How many processes could not be checked and were not found holding entry `i`: its
    /// holders are unknown unless this is 0.
    pub fn unknown(&self, i: usize) -> usize {
        let found = |pid: &u32| self.of[i].iter().any(|h| h.pid == *pid);
        self.unchecked.iter().filter(|p| !found(p)).count() + usize::from(self.hidden)
    }
}

/// Linux's PF_KTHREAD, in /proc/PID/stat's flags: a kernel thread has no descriptors or
/// mappings of a user's, and its /proc entries are root's alone.
const PF_KTHREAD: u64 = 0x0020_0000;

/// Why reading a process's file failed: it is gone (skipped), or it may not be read.
fn gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH))
}

pub fn find(entries: &[Entry]) -> Holders {
    let mut by_id: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        by_id.entry((e.dev, e.ino)).or_default().push(i);
    }
    let mut holders = Holders {
        of: vec![Vec::new(); entries.len()],
        unchecked: Vec::new(),
        hidden: hidepid(),
    };
    let procs = match fs::read_dir("/proc") {
        Ok(d) => d,
        Err(_) => {
            holders.hidden = true;
            return holders;
        }
    };
    let me = std::process::id();
    for p in procs.flatten() {
        let pid = match p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
            Some(pid) if pid != me => pid,
            _ => continue,
        };
        match process(pid, &by_id, &mut holders.of) {
            Ok(true) => {}
            Ok(false) => holders.unchecked.push(pid),
            Err(_) => {} // it exited while it was read
        }
    }
    holders.unchecked.sort_unstable();
    holders
}

/// Adds process `pid` to the holders of the entries it holds. Ok(false) when its descriptors
/// or mappings could not all be read; Err (ENOENT, ESRCH) when it exited meanwhile.
fn process(
    pid: u32,
    by_id: &HashMap<(u64, u64), Vec<usize>>,
    of: &mut [Vec<Holder>],
) -> io::Result<bool> {
    let (stat, command) = match (
        fs::read_to_string(format!("/proc/{pid}/stat")),
        fs::read_to_string(format!("/proc/{pid}/comm")),
    ) {
        (Ok(stat), Ok(comm)) => (stat, comm.trim_end_matches('\n').to_string()),
        (Err(e), _) | (_, Err(e)) if gone(&e) => return Err(e),
        _ => return Ok(false),
    };
    let flags = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(6))
        .and_then(|f| f.parse::<u64>().ok());
    match flags {
        Some(flags) if flags & PF_KTHREAD != 0 => return Ok(true),
        Some(_) => {}
        None => return Ok(false),
    }
    let mut checked = true;
    let mut held: Vec<(usize, bool)> = Vec::new(); // (entry, by a descriptor)

    match fs::read_dir(format!("/proc/{pid}/fd")) {
        Ok(fds) => {
            for fd in fds.flatten() {
                // stat follows the link to the open file itself.
                match fs::metadata(fd.path()) {
                    Ok(m) => {
                        if let Some(is) = by_id.get(&(m.dev(), m.ino())) {
                            held.extend(is.iter().map(|&i| (i, true)));
                        }
                    }
                    Err(e) if gone(&e) => {} // closed meanwhile
                    Err(_) => checked = false,
                }
            }
        }
        Err(e) if gone(&e) => return Err(e),
        Err(_) => checked = false,
    }
    match fs::read(format!("/proc/{pid}/maps")) {
        Ok(maps) => {
            for line in maps.split(|&b| b == b'\n') {
                if let Some(id) = mapped_file(line) {
                    if let Some(is) = by_id.get(&id) {
                        held.extend(is.iter().map(|&i| (i, false)));
                    }
                }
            }
        }
        Err(e) if gone(&e) => return Err(e),
        Err(_) => checked = false,
    }
    for (i, fd) in held {
        let list = &mut of[i];
        match list.iter_mut().find(|h| h.pid == pid) {
            Some(h) => {
                h.fd |= fd;
                h.mapped |= !fd;
            }
            None => list.push(Holder {
                pid,
                command: command.clone(),
                fd,
                mapped: !fd,
            }),
        }
    }
    Ok(checked)
}

/// The (device, inode) of a line of /proc/PID/maps ("start-end perms offset MAJ:MIN inode
/// path"), as stat gives them; None for an anonymous mapping.
fn mapped_file(line: &[u8]) -> Option<(u64, u64)> {
    let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty()).skip(3);
    let dev = std::str::from_utf8(fields.next()?).ok()?;
    let ino: u64 = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    let (major, minor) = dev.split_once(':')?;
    let major = u32::from_str_radix(major, 16).ok()?;
    let minor = u32::from_str_radix(minor, 16).ok()?;
    if ino == 0 {
        return None;
    }
    Some((libc::makedev(major, minor), ino))
}

/// /proc is mounted with hidepid=2 or 4 (invisible, ptraceable): a process that is not root
/// does not see other users' processes at all, so it cannot count them.
fn hidepid() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return false;
    }
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return true;
    };
    info.lines().any(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let Some(dash) = f.iter().position(|&x| x == "-") else {
            return false;
        };
        f.get(4) == Some(&"/proc")
            && f.get(dash + 1) == Some(&"proc")
            && f.get(dash + 3).is_some_and(|opts| {
                opts.split(',').any(|o| {
                    matches!(
                        o,
                        "hidepid=2" | "hidepid=4" | "hidepid=invisible" | "hidepid=ptraceable"
                    )
                })
            })
    })
}
