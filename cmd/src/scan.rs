//! What the directory holds: each entry's kind, size, owner, mode, times and, for a
//! semaphore, its value; and the file system's size and free space (statfs).

use std::ffi::{CString, OsString};
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// glibc's sizeof(sem_t) on x86_64 and aarch64: a semaphore's file is this long.
pub const SEM_SIZE: u64 = 32;
/// A file system of huge pages, where a semaphore's file is one huge page long (the library
/// writes it through a mapping there).
const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// A shared memory object: a regular file that is not a semaphore.
    Shm,
    /// A named semaphore: `sem.NAME`, a regular file of sem_t's size.
    Sem,
    /// Anything else: a directory, a symbolic link, a socket, a `sem.` file of another size...
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Shm => "shm",
            Kind::Sem => "sem",
            Kind::Other => "other",
        }
    }
}

/// One entry of the directory.
pub struct Entry {
    /// The file's name in the directory.
    pub file: Vec<u8>,
    /// The name a program passes to shm_open or sem_open: "/" and the file name, without
    /// "sem." for a semaphore.
    pub name: Vec<u8>,
    pub kind: Kind,
    /// The file's type: "file", "directory", "symlink", "fifo", "socket", "block", "char".
    pub file_type: &'static str,
    pub size: u64,
    /// Bytes of storage the file takes (st_blocks): less than its size when it is sparse.
    pub allocated: u64,
    pub uid: u32,
    pub gid: u32,
    /// The permission bits (and setuid, setgid, sticky).
    pub mode: u32,
    pub mtime: i64,
    pub ctime: i64,
    pub dev: u64,
    pub ino: u64,
    /// A semaphore's value and number of waiters, when its file could be read.
    pub sem: Option<(u32, u32)>,
}

impl Entry {
    /// When it last changed: the newer of its data's (mtime) and its inode's (ctime), which
    /// nobody can set back.
    pub fn changed(&self) -> i64 {
        self.mtime.max(self.ctime)
    }
}

/// The file system's figures, in bytes.
pub struct Space {
    /// 0 when the file system has no limit (a tmpfs mounted with size=0).
    pub size: u64,
    pub used: u64,
    /// What an unprivileged process can still use.
    pub free: u64,
    pub fs_type: i64,
    pub block: u64,
}

pub fn space(dir: &Path) -> io::Result<Space> {
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: all-zero bytes are a valid statfs (integers only).
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path, which statfs reads, and a statfs it fills.
    if unsafe { libc::statfs(path.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let unit = st.f_frsize as u64;
    Ok(Space {
        size: st.f_blocks as u64 * unit,
        used: (st.f_blocks as u64).saturating_sub(st.f_bfree as u64) * unit,
        free: st.f_bavail as u64 * unit,
        fs_type: st.f_type as i64,
        block: st.f_bsize as u64,
    })
}

/// Every entry of `dir`, sorted by name (then kind). An entry removed while it is read is
/// left out.
pub fn entries(dir: &Path, space: &Space) -> io::Result<Vec<Entry>> {
    let sem_sizes = if space.fs_type == HUGETLBFS_MAGIC {
        [SEM_SIZE, space.block]
    } else {
        [SEM_SIZE, SEM_SIZE]
    };
    let mut list = Vec::new();
    for dirent in fs::read_dir(dir)? {
        let file = dirent?.file_name().into_vec();
        let path = dir.join(OsString::from_vec(file.clone()));
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        list.push(entry(&path, file, &meta, &sem_sizes));
    }
    list.sort_by(|a, b| (&a.name, a.kind.as_str()).cmp(&(&b.name, b.kind.as_str())));
    Ok(list)
}

fn entry(path: &Path, file: Vec<u8>, meta: &Metadata, sem_sizes: &[u64; 2]) -> Entry {
    let t = meta.file_type();
    let file_type = if t.is_file() {
        "file"
    } else if t.is_dir() {
        "directory"
    } else if t.is_symlink() {
        "symlink"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() {
        "block"
    } else {
        "char"
    };
    let sem_rest = file.strip_prefix(b"sem.").filter(|r| valid_rest(r));
    let kind = match sem_rest {
        _ if !t.is_file() => Kind::Other,
        Some(_) if sem_sizes.contains(&meta.len()) => Kind::Sem,
        Some(_) => Kind::Other,
        None => Kind::Shm,
    };
    let mut name = b"/".to_vec();
    name.extend_from_slice(match (kind, sem_rest) {
        (Kind::Sem, Some(rest)) => rest,
        _ => &file,
    });
    let sem = if kind == Kind::Sem {
        sem_value(path, meta).ok()
    } else {
        None
    };
    Entry {
        file,
        name,
        kind,
        file_type,
        size: meta.len(),
        allocated: meta.blocks() * 512,
        uid: meta.uid(),
        gid: meta.gid(),
        mode: meta.mode() & 0o7777,
        mtime: meta.mtime(),
        ctime: meta.ctime(),
        dev: meta.dev(),
        ino: meta.ino(),
        sem,
    }
}

/// A name's rest (after its leading slashes) that shm_open and sem_open accept.
pub fn valid_rest(rest: &[u8]) -> bool {
    !rest.is_empty() && rest != b"." && rest != b".." && !rest.contains(&b'/') && rest.len() <= 255
}

/// glibc's sem_t on x86_64 and aarch64: a native-endian 64-bit word, the value in its low 32
/// bits and the number of waiters in its high 32. Read with read(2), never mapped: a file
/// that changed under the command is only read, and not blocked on (O_NONBLOCK for a FIFO
/// swapped in).
fn sem_value(path: &Path, meta: &Metadata) -> io::Result<(u32, u32)> {
    let mut f = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let now = f.metadata()?;
    if (now.dev(), now.ino()) != (meta.dev(), meta.ino()) || !now.is_file() {
        return Err(io::Error::from_raw_os_error(libc::ESTALE));
    }
    let mut word = [0u8; 8];
    f.read_exact(&mut word)?;
    let data = u64::from_ne_bytes(word);
    Ok((data as u32, (data >> 32) as u32))
}
