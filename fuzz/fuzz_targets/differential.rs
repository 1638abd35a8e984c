//! Differential fuzzing at the C ABI: each input is a short program of shm_open / shm_unlink
//! calls and on-disk set-ups, run once against glibc's functions and once against rtshm's
//! from the same fresh state in /dev/shm. rtshm is linked in (its exported shm_open and
//! shm_unlink are this program's), instrumented, so coverage guides the fuzzer through it;
//! glibc's are taken from libc.so.6 with dlsym. Result, errno,
//! descriptor flags, fstat and what is left on disk must agree, except where README.md
//! documents a deviation, where rtshm must give what it promises.
#![no_main]

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

type OpenFn = unsafe extern "C" fn(*const c_char, c_int, libc::mode_t) -> c_int;
type UnlinkFn = unsafe extern "C" fn(*const c_char) -> c_int;
type SemOpenFn =
    unsafe extern "C" fn(*const c_char, c_int, libc::mode_t, libc::c_uint) -> *mut libc::c_void;
type SemCloseFn = unsafe extern "C" fn(*mut libc::c_void) -> c_int;

struct Impl {
    open: OpenFn,
    unlink: UnlinkFn,
    sem_open: SemOpenFn,
    sem_close: SemCloseFn,
    sem_unlink: UnlinkFn,
}

fn rtshm() -> &'static Impl {
    static RT: Impl = Impl {
        open: rtshm::shm_open,
        unlink: rtshm::shm_unlink,
        sem_open: rtshm::sem_open,
        sem_close: rtshm::sem_close,
        sem_unlink: rtshm::sem_unlink,
    };
    &RT
}

fn glibc() -> &'static Impl {
    static G: OnceLock<Impl> = OnceLock::new();
    G.get_or_init(|| {
        // SAFETY: dlopen of libc itself; symbols looked up by name and checked.
        unsafe {
            let h = libc::dlopen(c"libc.so.6".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
            assert!(!h.is_null());
            let sym = |n: &CStr| {
                let p = libc::dlsym(h, n.as_ptr());
                assert!(!p.is_null());
                p
            };
            let open = sym(c"shm_open");
            assert_ne!(
                open as usize,
                rtshm::shm_open as *const () as usize,
                "glibc's shm_open is rtshm's"
            );
            // glibc's sem_open is variadic; with O_CREAT it reads a mode_t and an unsigned int,
            // passed in the same registers as these fixed arguments on x86_64 and aarch64.
            Impl {
                open: std::mem::transmute::<*mut libc::c_void, OpenFn>(open),
                unlink: std::mem::transmute::<*mut libc::c_void, UnlinkFn>(sym(c"shm_unlink")),
                sem_open: std::mem::transmute::<*mut libc::c_void, SemOpenFn>(sym(c"sem_open")),
                sem_close: std::mem::transmute::<*mut libc::c_void, SemCloseFn>(sym(c"sem_close")),
                sem_unlink: std::mem::transmute::<*mut libc::c_void, UnlinkFn>(sym(c"sem_unlink")),
            }
        }
    })
}

/// A prefix unique to this fuzzing process: every object it makes starts with it.
fn prefix() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| format!("rtshm-fz.{}.", std::process::id()))
}

const FLAGS: [c_int; 16] = [
    0,
    libc::O_CREAT,
    libc::O_CREAT | libc::O_EXCL,
    libc::O_EXCL,
    libc::O_TRUNC,
    libc::O_CREAT | libc::O_TRUNC,
    libc::O_APPEND,
    libc::O_NONBLOCK,
    libc::O_DIRECTORY,
    libc::O_NOFOLLOW,
    libc::O_PATH,
    libc::O_TMPFILE,
    libc::O_NOATIME,
    libc::O_SYNC,
    0x4000_0000,
    libc::O_CREAT | libc::O_DIRECTORY,
];
const LENGTHS: [usize; 12] = [0, 1, 14, 100, 254, 255, 256, 259, 260, 300, 4095, 4096];

/// Reads the input a byte at a time; zeros when it runs out.
struct Input<'a>(&'a [u8]);
impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self
            .0
            .split_first()
            .map(|(b, r)| (*b, r))
            .unwrap_or((0, &[]));
        self.0 = rest;
        b
    }
    fn empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A name: leading slashes, then this process's prefix and fuzzed bytes padded to a length
/// class, or one of the special forms (which reach no object but the directory itself).
fn make_name(inp: &mut Input) -> Vec<u8> {
    let form = inp.byte();
    if form % 8 == 7 {
        let specials: [&[u8]; 8] = [b"", b"/", b"//", b".", b"..", b"/.", b"///..", b"./"];
        return specials[usize::from(inp.byte() % 8)].to_vec();
    }
    let slashes = match form % 4 {
        0 => 1,
        1 => 0,
        2 => 2,
        _ => 4000 + usize::from(inp.byte() % 100),
    };
    let mut name = vec![b'/'; slashes];
    name.extend_from_slice(prefix().as_bytes());
    for _ in 0..(inp.byte() % 8) {
        let b = inp.byte();
        name.push(if b == 0 { b'x' } else { b }); // any byte but NUL: slashes, dots, non-UTF-8
    }
    let want = LENGTHS[usize::from(inp.byte() % 12)];
    let pad = if inp.byte() % 2 == 0 { b'p' } else { b'/' };
    while name.len() - slashes < want {
        name.push(pad);
    }
    name
}

#[derive(Debug, PartialEq, Eq, Clone)]
struct Outcome {
    ret: c_int,
    errno: c_int,
    fdflags: c_int,
    flflags: c_int,
    stat: Option<(u32, i64, u32, u64)>,
}

fn errno() -> c_int {
    // SAFETY: the thread's errno.
    unsafe { *libc::__errno_location() }
}

fn set_errno(e: c_int) {
    // SAFETY: the thread's errno.
    unsafe { *libc::__errno_location() = e }
}

fn call(im: &Impl, op: u8, name: &CStr, flags: c_int, mode: libc::mode_t) -> Outcome {
    set_errno(12345);
    if op == 6 {
        // sem_open: the value comes from the mode's high bits, up to past SEM_VALUE_MAX.
        let value = [0, 1, 5, i32::MAX as u32, i32::MAX as u32 + 1][(mode >> 12) as usize % 5];
        // SAFETY: a NUL-terminated name; a returned semaphore is closed with the same library.
        let sem = unsafe { (im.sem_open)(name.as_ptr(), flags, mode & 0o7777, value) };
        let err = errno();
        if sem.is_null() {
            return Outcome {
                ret: -1,
                errno: err,
                fdflags: 0,
                flflags: 0,
                stat: None,
            };
        }
        // SAFETY: as above; flags 0 opens the same semaphore again.
        let again = unsafe { (im.sem_open)(name.as_ptr(), 0, 0, 0) };
        let same = if again == sem {
            1
        } else if again.is_null() {
            2
        } else {
            3
        };
        // SAFETY: semaphores this library returned.
        unsafe {
            if !again.is_null() {
                (im.sem_close)(again);
            }
            (im.sem_close)(sem);
        }
        // errno after a success is not compared: glibc leaves ENOENT there (a deviation).
        return Outcome {
            ret: 0,
            errno: 0,
            fdflags: same,
            flflags: 0,
            stat: None,
        };
    }
    // SAFETY: a NUL-terminated name.
    let ret = unsafe {
        match op {
            0 => (im.open)(name.as_ptr(), flags, mode),
            7 => (im.sem_unlink)(name.as_ptr()),
            _ => (im.unlink)(name.as_ptr()),
        }
    };
    let err = errno();
    let mut out = Outcome {
        ret,
        errno: err,
        fdflags: 0,
        flflags: 0,
        stat: None,
    };
    if op == 0 && ret >= 0 {
        // SAFETY: a descriptor just returned.
        unsafe {
            out.fdflags = libc::fcntl(ret, libc::F_GETFD);
            out.flflags = libc::fcntl(ret, libc::F_GETFL);
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(ret, &mut st) == 0 {
                let size = if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                    0
                } else {
                    st.st_size
                };
                out.stat = Some((st.st_mode, size, st.st_uid, st.st_nlink));
            }
            libc::close(ret);
        }
    }
    out
}

/// What this process has in /dev/shm: names (after the prefix), types, modes, sizes.
fn mine(n: &[u8]) -> bool {
    n.strip_prefix(b"sem.")
        .unwrap_or(n)
        .starts_with(prefix().as_bytes())
}

/// What this process has in /dev/shm (semaphores "sem.<name>" too): names, modes, sizes and,
/// for small files, a digest of their bytes (a semaphore's must be glibc's).
fn disk() -> Vec<(Vec<u8>, u32, i64)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
    {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::MetadataExt;
        let n = e.file_name().as_bytes().to_vec();
        if mine(&n) {
            if let Ok(m) = e.path().symlink_metadata() {
                let mut size = if m.file_type().is_symlink() {
                    0
                } else {
                    m.size() as i64
                };
                if m.file_type().is_file() && m.size() <= 64 {
                    let bytes = std::fs::read(e.path()).unwrap_or_default();
                    size ^= bytes
                        .iter()
                        .fold(17i64, |h, &b| h.wrapping_mul(31).wrapping_add(i64::from(b)))
                        << 8;
                }
                v.push((n, m.mode(), size));
            }
        }
    }
    v.sort();
    v
}

fn clean() {
    for e in std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
    {
        use std::os::unix::ffi::OsStrExt;
        if mine(e.file_name().as_bytes()) {
            let p = e.path();
            let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
        }
    }
}

/// A file, directory or link at the object path of a name (set-up steps of the program).
fn set_up(kind: u8, name: &[u8]) {
    let mut rest: Vec<u8> = name.iter().skip_while(|&&b| b == b'/').copied().collect();
    // Only names of this process's objects (the prefix, no slash) are set up.
    if !rest.starts_with(prefix().as_bytes()) || rest.contains(&b'/') || rest.len() > 255 {
        return;
    }
    if kind % 2 == 1 && rest.len() <= 251 {
        rest.splice(0..0, b"sem.".iter().copied()); // a set-up where a semaphore would be
    }
    use std::os::unix::ffi::OsStrExt;
    let path = std::path::Path::new("/dev/shm").join(std::ffi::OsStr::from_bytes(&rest));
    let _ = match kind % 4 {
        0 => std::fs::write(&path, b"data"),
        1 => std::fs::create_dir(&path),
        2 => std::os::unix::fs::symlink(format!("/dev/shm/{}target", prefix()), &path),
        _ => std::fs::write(&path, b"").and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400))
        }),
    };
}

extern "C" {
    /// tests-c/deviation.c: the errno rtshm answers where it deviates from glibc, else 0; `op`
    /// is shm_open, shm_unlink, sem_open, sem_unlink (0-3).
    fn rtshm_deviation(name: *const c_char, op: c_int) -> c_int;
}

/// What rtshm promises where it deviates from glibc (the model the C suite uses), else None:
/// for shm_open and shm_unlink (ops 0, 1), and for sem_open and sem_unlink (6, 7).
fn deviation(name: &[u8], op: u8) -> Option<c_int> {
    let op = match op {
        0 | 1 => c_int::from(op),
        6 | 7 => c_int::from(op) - 4,
        _ => return None,
    };
    let name = CString::new(name).ok()?;
    // SAFETY: a NUL-terminated name; the model only reads it.
    let errno = unsafe { rtshm_deviation(name.as_ptr(), op) };
    (errno != 0).then_some(errno)
}

/// The umask both runs make objects under: the usual one.
const USUAL_UMASK: libc::mode_t = 0o022;

struct Step {
    op: u8,
    name: Vec<u8>,
    flags: c_int,
    mode: libc::mode_t,
}

fn run(im: &Impl, steps: &[Step], is_glibc: bool) -> Vec<(Outcome, Vec<(Vec<u8>, u32, i64)>)> {
    clean();
    let mut results = Vec::new();
    for s in steps {
        if (2..6).contains(&s.op) {
            set_up(s.op, &s.name);
            continue;
        }
        if is_glibc && deviation(&s.name, s.op).is_some() {
            // glibc's answer here is the one rtshm deliberately does not give (and it may make
            // an object, which would part the two runs): not called.
            results.push((
                Outcome {
                    ret: -2,
                    errno: 0,
                    fdflags: 0,
                    flflags: 0,
                    stat: None,
                },
                disk(),
            ));
            continue;
        }
        let c = CString::new(s.name.clone()).unwrap();
        let out = call(im, s.op, &c, s.flags, s.mode);
        results.push((out, disk()));
    }
    clean();
    results
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let mut steps = Vec::new();
    while !inp.empty() && steps.len() < 8 {
        let op = inp.byte() % 8; // 0 open, 1 unlink, 2..5 set-ups, 6 sem_open, 7 sem_unlink
        let name = make_name(&mut inp);
        let flags = [
            libc::O_RDONLY,
            libc::O_WRONLY,
            libc::O_RDWR,
            libc::O_ACCMODE,
        ][usize::from(inp.byte() % 4)]
            | FLAGS[usize::from(inp.byte() % 16)];
        let mode = libc::mode_t::from(u16::from_le_bytes([inp.byte(), inp.byte()]));
        steps.push(Step {
            op,
            name,
            flags,
            mode,
        });
    }
    // SAFETY: umask has no memory effects.
    unsafe { libc::umask(USUAL_UMASK) };
    let g = run(glibc(), &steps, true);
    let r = run(rtshm(), &steps, false);
    let calls = steps.iter().filter(|s| !(2..6).contains(&s.op));
    for ((s, (go, gd)), (ro, rd)) in calls.zip(&g).zip(&r) {
        match deviation(&s.name, s.op) {
            // A deviation: rtshm answers as documented, and changes nothing.
            Some(want) => {
                assert!(
                    ro.ret == -1 && ro.errno == want,
                    "deviation not as documented for {:?}: rtshm {:?}",
                    String::from_utf8_lossy(&s.name[..s.name.len().min(80)]),
                    ro
                );
                assert_eq!(gd, rd, "a documented deviation changed something on disk");
            }
            None => {
                assert_eq!(
                    go,
                    ro,
                    "glibc and rtshm differ: op {} name {:?} flags {:#x} mode {:o}",
                    s.op,
                    String::from_utf8_lossy(&s.name[..s.name.len().min(80)]),
                    s.flags,
                    s.mode
                );
                assert_eq!(gd, rd, "different state left on disk");
            }
        }
    }
});
