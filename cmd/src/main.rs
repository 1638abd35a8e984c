//! rtshm: see, check and clean the POSIX shared memory objects and named semaphores in the
//! directory in effect. The subcommands are here; what they read is in scan.rs (the
//! directory) and holders.rs (/proc), what they remove goes through the rtshm library
//! (rtshm.rs), and what they say about themselves is in doc.rs.

mod doc;
mod holders;
mod out;
mod render;
mod rtshm;
mod scan;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use doc::Command;
use holders::Holders;
use rtshm::Unlink;
use scan::{Entry, Kind};

/// Exit statuses (doc::EXIT_STATUS).
const ERROR: u8 = 1;
const USAGE: u8 = 2;
const UNJUDGED: u8 = 3;

/// Why the command stops: the message for standard error and the exit status.
struct Fail {
    code: u8,
    msg: String,
}

fn error(msg: String) -> Fail {
    Fail { code: ERROR, msg }
}

fn usage(command: &str, msg: String) -> Fail {
    let help = if command.is_empty() {
        "rtshm --help".to_string()
    } else {
        format!("rtshm {command} --help")
    };
    Fail {
        code: USAGE,
        msg: format!("{msg}\nTry '{help}'."),
    }
}

fn main() -> ExitCode {
    // A closed pipe ends the command quietly, as it ends other tools, instead of failing a
    // write.
    // SAFETY: restores the default action of a signal; nothing else runs yet.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            let _ = writeln!(io::stderr(), "rtshm: {}", f.msg);
            ExitCode::from(f.code)
        }
    }
}

fn run(args: &[OsString]) -> Result<u8, Fail> {
    let Some(first) = args.first() else {
        return Err(usage("", "no command given".into()));
    };
    let rest = &args[1..];
    let command = match first.to_str().unwrap_or("") {
        "-h" | "--help" => return print(&render::help()),
        "--version" => return print(&format!("rtshm {}\n", env!("CARGO_PKG_VERSION"))),
        // The man pages, for the build (Makefile).
        "--roff" => {
            return match rest.first().and_then(|s| s.to_str()) {
                Some("1") => print(&render::page1()),
                Some("7") => print(&render::page7()),
                _ => Err(usage("", "--roff takes 1 or 7".into())),
            }
        }
        "help" => {
            if rest.len() > 1 {
                return Err(usage(
                    "help",
                    format!("unexpected argument {}", rest[1].to_string_lossy()),
                ));
            }
            return match rest.first() {
                None => print(&render::help()),
                Some(h) if h == "-h" || h == "--help" => print(&render::command_help(&doc::HELP)),
                Some(c) => match find(c) {
                    Some(c) => print(&render::command_help(c)),
                    None => Err(usage("", format!("no command {}", c.to_string_lossy()))),
                },
            };
        }
        _ => find(first),
    };
    let Some(command) = command else {
        let what = if first.as_bytes().starts_with(b"-") {
            "unknown option"
        } else {
            "unknown command"
        };
        return Err(usage("", format!("{what} {}", first.to_string_lossy())));
    };
    let Some(opts) = parse(command, rest)? else {
        return print(&render::command_help(command));
    };
    match command.name {
        "ls" => ls(&opts),
        "df" => df(&opts),
        "rm" => rm(&opts),
        "gc" => gc(&opts),
        _ => unreachable!("every command is handled"),
    }
}

fn find(name: &OsStr) -> Option<&'static Command> {
    doc::COMMANDS
        .iter()
        .copied()
        .find(|c| c.name.as_bytes() == name.as_bytes())
}

/// Writes to standard output; a failure (a full disk, a closed descriptor) is an error.
fn print(s: &str) -> Result<u8, Fail> {
    io::stdout()
        .write_all(s.as_bytes())
        .and_then(|()| io::stdout().flush())
        .map_err(|e| error(format!("cannot write the output: {}", why(&e))))?;
    Ok(0)
}

/// A command's options and arguments.
#[derive(Default)]
struct Opts {
    dir: Option<PathBuf>,
    json: bool,
    top: Option<usize>,
    only: Option<Unlink>,
    older_than: Option<u64>,
    dry_run: bool,
    names: Vec<OsString>,
}

/// The command's options (None for --help). Each option is one the command's usage names;
/// a value follows its option, as the next argument or after "=".
fn parse(c: &Command, args: &[OsString]) -> Result<Option<Opts>, Fail> {
    let mut o = Opts::default();
    let mut i = 0;
    let mut options = true;
    while i < args.len() {
        let arg = args[i].as_bytes();
        i += 1;
        if !options || !arg.starts_with(b"-") || arg == b"-" {
            if c.name != "rm" {
                return Err(usage(
                    c.name,
                    format!("unexpected argument {}", out::shown(arg)),
                ));
            }
            o.names.push(OsString::from_vec(arg.to_vec()));
            continue;
        }
        let (flag, inline) = match arg.iter().position(|&b| b == b'=') {
            Some(eq) if arg.starts_with(b"--") => (&arg[..eq], Some(&arg[eq + 1..])),
            _ => (arg, None),
        };
        let flag = String::from_utf8_lossy(flag).into_owned();
        // Only options the usage line names are taken.
        let known = flag == "-h"
            || flag == "--help"
            || flag == "--"
            || c.usage.split([' ', '[', ']', '|']).any(|w| w == flag);
        if !known {
            return Err(usage(c.name, format!("unknown option {flag}")));
        }
        let mut value = || -> Result<OsString, Fail> {
            if let Some(v) = inline {
                return Ok(OsString::from_vec(v.to_vec()));
            }
            let v = args
                .get(i)
                .ok_or_else(|| usage(c.name, format!("{flag} needs a value")))?;
            i += 1;
            Ok(v.clone())
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--" => options = false,
            "--dir" => o.dir = Some(PathBuf::from(value()?)),
            "--json" => o.json = true,
            "--dry-run" => o.dry_run = true,
            "--shm" | "--sem" => {
                let only = if flag == "--shm" {
                    Unlink::Shm
                } else {
                    Unlink::Sem
                };
                if o.only.is_some_and(|k| k != only) {
                    return Err(usage(c.name, "--shm and --sem exclude each other".into()));
                }
                o.only = Some(only);
            }
            "--top" => {
                let v = value()?;
                let n = v.to_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
                    usage(
                        c.name,
                        format!("--top takes a number, not {}", v.to_string_lossy()),
                    )
                })?;
                o.top = Some(n);
            }
            "--older-than" => {
                let v = value()?;
                let d = v.to_str().and_then(duration).ok_or_else(|| {
                    usage(
                        c.name,
                        format!(
                            "--older-than takes a duration such as 30s, 10m, 2h or 1d, not {}",
                            v.to_string_lossy()
                        ),
                    )
                })?;
                o.older_than = Some(d);
            }
            _ => unreachable!("the usage names no other option"),
        }
        if inline.is_some() && !matches!(flag.as_str(), "--dir" | "--top" | "--older-than") {
            return Err(usage(c.name, format!("{flag} takes no value")));
        }
    }
    if c.name == "rm" && o.names.is_empty() {
        return Err(usage(c.name, "no NAME given".into()));
    }
    Ok(Some(o))
}

/// "30s", "10m", "2h", "1d", or a number of seconds.
fn duration(s: &str) -> Option<u64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (n, unit) = s.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let unit = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// An errno's text and name: "No such file or directory (ENOENT)".
fn why(e: &io::Error) -> String {
    let Some(n) = e.raw_os_error() else {
        return e.to_string();
    };
    let text = io::Error::from_raw_os_error(n).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_string();
    let name = match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ELOOP => "ELOOP",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ESTALE => "ESTALE",
        _ => return format!("{text} (errno {n})"),
    };
    format!("{text} ({name})")
}

/// The directory to look in: --dir, or the library's. With `remove`, the library must work in
/// it too: --dir becomes RTSHM_DIR, before the library's first call reads it.
fn directory(o: &Opts, remove: bool) -> Result<PathBuf, Fail> {
    let dir = match &o.dir {
        Some(d) => {
            let d = if d.is_absolute() {
                d.clone()
            } else {
                std::env::current_dir()
                    .map_err(|e| error(format!("cannot find the current directory: {}", why(&e))))?
                    .join(d)
            };
            // The library's form: no trailing slashes ("/" stays).
            let bytes = d.as_os_str().as_bytes();
            let end = bytes.iter().rposition(|&b| b != b'/').map_or(1, |p| p + 1);
            let d = PathBuf::from(OsStr::from_bytes(&bytes[..end]));
            if remove {
                // Nothing else runs yet: no thread reads the environment meanwhile.
                std::env::set_var("RTSHM_DIR", &d);
                match rtshm::dir() {
                    Some(lib) if lib == d => {}
                    Some(lib) => {
                        return Err(error(format!(
                            "the library ignores RTSHM_DIR (secure execution?): it uses {}",
                            lib.display()
                        )))
                    }
                    None => {
                        return Err(error(format!(
                            "the rtshm library does not use {} (the line above says why)",
                            d.display()
                        )))
                    }
                }
            }
            d
        }
        None => rtshm::dir().ok_or_else(|| {
            error("RTSHM_DIR is set but not usable (the line above says why); --dir DIR looks in a directory anyway".into())
        })?,
    };
    match fs::metadata(&dir) {
        Ok(m) if m.is_dir() => Ok(dir),
        Ok(_) => Err(error(format!(
            "{}: {}",
            dir.display(),
            why(&io::Error::from_raw_os_error(libc::ENOTDIR))
        ))),
        Err(e) => Err(error(format!("{}: {}", dir.display(), why(&e)))),
    }
}

/// The directory's figures and entries.
fn read(dir: &Path) -> Result<(scan::Space, Vec<Entry>), Fail> {
    let cannot = |e: io::Error| error(format!("cannot read {}: {}", dir.display(), why(&e)));
    let space = scan::space(dir).map_err(cannot)?;
    let entries = scan::entries(dir, &space).map_err(cannot)?;
    Ok((space, entries))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn ls(o: &Opts) -> Result<u8, Fail> {
    let dir = directory(o, false)?;
    let (space, entries) = read(&dir)?;
    let holders = holders::find(&entries);
    let mut names = out::Names::default();
    let mut text = String::new();
    if o.json {
        for (i, e) in entries.iter().enumerate() {
            text.push_str(&json_entry(e, i, &holders, &mut names));
            text.push('\n');
        }
        return print(&text);
    }
    let now = now();
    let mut rows = vec![[
        "NAME", "KIND", "SIZE", "OWNER", "MODE", "CHANGED", "VALUE", "HOLDERS",
    ]
    .map(String::from)
    .to_vec()];
    for (i, e) in entries.iter().enumerate() {
        let mut held: Vec<String> = holders.of[i]
            .iter()
            .map(|h| format!("{} {}", h.pid, out::shown(h.command.as_bytes())))
            .collect();
        if holders.unknown(i) > 0 {
            held.push("?".into());
        }
        rows.push(vec![
            out::shown(&e.name),
            e.kind.as_str().into(),
            out::size(e.size),
            names.user(e.uid).unwrap_or_else(|| e.uid.to_string()),
            format!("{:04o}", e.mode),
            format!("{} ago", out::age(now - e.changed())),
            match (e.kind, e.sem) {
                (Kind::Sem, Some((value, _))) => value.to_string(),
                (Kind::Sem, None) => "?".into(),
                _ => "-".into(),
            },
            if held.is_empty() {
                "-".into()
            } else {
                held.join(", ")
            },
        ]);
    }
    text.push_str(&out::table(&rows));
    let total: u64 = entries.iter().map(|e| e.size).sum();
    text.push_str(&format!(
        "total {} {}, {}; {}: {}\n",
        entries.len(),
        if entries.len() == 1 {
            "entry"
        } else {
            "entries"
        },
        out::size(total),
        dir.display(),
        usage_line(&space)
    ));
    let unchecked = holders.unchecked.len();
    if unchecked > 0 || holders.hidden {
        // SAFETY: geteuid only returns the caller's effective uid.
        let why = if unsafe { libc::geteuid() } == 0 {
            // A process with capabilities root's shell lacks, as PID 1 in some containers.
            "closed even to root here"
        } else {
            "another user's: root sees them"
        };
        text.push_str(&format!(
            "?: {}{} could not be checked ({why}); an entry may be held by {}\n",
            if unchecked == 1 {
                "1 process".to_string()
            } else {
                format!("{unchecked} processes")
            },
            if holders.hidden {
                " and the processes /proc hides (hidepid)"
            } else {
                ""
            },
            if unchecked + usize::from(holders.hidden) == 1 {
                "it"
            } else {
                "one of them"
            },
        ));
    }
    print(&text)
}

/// "16M used (1%), 7.8G free of 7.8G".
fn usage_line(s: &scan::Space) -> String {
    if s.size == 0 {
        return format!("{} used, no size limit", out::size(s.used));
    }
    format!(
        "{} used ({}%), {} free of {}",
        out::size(s.used),
        percent(s),
        out::size(s.free),
        out::size(s.size)
    )
}

fn percent(s: &scan::Space) -> u64 {
    // Rounded up, as df does: 89.1% is 90%.
    (s.used as u128 * 100).div_ceil(s.size.max(1) as u128) as u64
}

fn json_entry(e: &Entry, i: usize, holders: &Holders, names: &mut out::Names) -> String {
    let null_or = |v: Option<String>| v.map_or("null".to_string(), |s| out::json_str(s.as_bytes()));
    let mut hs: Vec<_> = holders.of[i].iter().collect();
    hs.sort_by_key(|h| h.pid);
    let hs: Vec<String> = hs
        .iter()
        .map(|h| {
            format!(
                "{{\"pid\":{},\"command\":{},\"fd\":{},\"mapped\":{}}}",
                h.pid,
                out::json_str(h.command.as_bytes()),
                h.fd,
                h.mapped
            )
        })
        .collect();
    let (value, waiters) = match e.sem {
        Some((v, w)) => (v.to_string(), w.to_string()),
        None => ("null".into(), "null".into()),
    };
    format!(
        "{{\"name\":{},\"file\":{},\"kind\":\"{}\",\"type\":\"{}\",\"size\":{},\"allocated\":{},\
         \"uid\":{},\"gid\":{},\"user\":{},\"group\":{},\"mode\":\"{:04o}\",\"mtime\":{},\
         \"ctime\":{},\"changed\":{},\"value\":{},\"waiters\":{},\"holders\":[{}],\
         \"holders_unknown\":{}}}",
        out::json_str(&e.name),
        out::json_str(&e.file),
        e.kind.as_str(),
        e.file_type,
        e.size,
        e.allocated,
        e.uid,
        e.gid,
        null_or(names.user(e.uid)),
        null_or(names.group(e.gid)),
        e.mode,
        e.mtime,
        e.ctime,
        e.changed(),
        value,
        waiters,
        hs.join(","),
        holders.unknown(i)
    )
}

fn df(o: &Opts) -> Result<u8, Fail> {
    let dir = directory(o, false)?;
    let (space, mut entries) = read(&dir)?;
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let unbacked: u64 = entries
        .iter()
        .filter(|e| e.file_type == "file")
        .map(|e| e.size.saturating_sub(e.allocated))
        .sum();
    let nearly_full = space.size > 0 && (percent(&space) >= 90 || unbacked > space.free);
    let count = entries.len();
    entries.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.name.cmp(&b.name)));
    entries.truncate(o.top.unwrap_or(5));
    if o.json {
        let largest: Vec<String> = entries
            .iter()
            .map(|e| {
                format!(
                    "{{\"name\":{},\"kind\":\"{}\",\"size\":{},\"allocated\":{}}}",
                    out::json_str(&e.name),
                    e.kind.as_str(),
                    e.size,
                    e.allocated
                )
            })
            .collect();
        return print(&format!(
            "{{\"dir\":{},\"size\":{},\"used\":{},\"free\":{},\"used_percent\":{},\
             \"entries\":{},\"entries_size\":{},\"unbacked\":{},\"nearly_full\":{},\
             \"largest\":[{}]}}\n",
            out::json_str(dir.as_os_str().as_bytes()),
            space.size,
            space.used,
            space.free,
            if space.size > 0 {
                percent(&space).to_string()
            } else {
                "null".into()
            },
            count,
            total,
            unbacked,
            nearly_full,
            largest.join(",")
        ));
    }
    let mut text = format!(
        "{}: {}\n{count} {}, {} in all, {} of it unbacked (pages not touched yet)\n",
        dir.display(),
        usage_line(&space),
        if count == 1 { "entry" } else { "entries" },
        out::size(total),
        out::size(unbacked),
    );
    if !entries.is_empty() {
        let mut rows = vec![["SIZE", "ALLOCATED", "KIND", "NAME"]
            .map(String::from)
            .to_vec()];
        for e in &entries {
            rows.push(vec![
                out::size(e.size),
                out::size(e.allocated),
                e.kind.as_str().into(),
                out::shown(&e.name),
            ]);
        }
        text.push_str("largest:\n");
        text.push_str(&out::table(&rows));
    }
    if nearly_full {
        let full = if percent(&space) >= 90 {
            format!("{} is {}% full", dir.display(), percent(&space))
        } else {
            format!(
                "{}: the entries' unbacked pages ({}) need more than the free space ({})",
                dir.display(),
                out::size(unbacked),
                out::size(space.free)
            )
        };
        text.push_str(&render::paragraph(&format!(
            "warning: {full}. A process that touches a page of a shared object when no space \
             is left dies of SIGBUS. Remedies: RTSHM_RESERVE=1 makes ftruncate reserve the \
             space, failing with ENOSPC instead; RTSHM_DIR puts the objects in a bigger file \
             system (man 7 rtshm)."
        )));
    }
    print(&text)
}

fn rm(o: &Opts) -> Result<u8, Fail> {
    let dir = directory(o, true)?;
    let mut status = 0;
    for name in &o.names {
        let name = name.as_bytes();
        let how = match o.only {
            Some(how) => how,
            None => match which(&dir, name) {
                Ok(how) => how,
                Err(msg) => {
                    let _ = writeln!(io::stderr(), "rtshm: rm {}: {msg}", out::shown(name));
                    status = ERROR;
                    continue;
                }
            },
        };
        if let Err(e) = rtshm::unlink(how, name) {
            let _ = writeln!(io::stderr(), "rtshm: rm {}: {}", out::shown(name), why(&e));
            status = ERROR;
        }
    }
    Ok(status)
}

/// Whether `name` is an object's or a semaphore's, by what the directory holds: shm_unlink
/// when neither is there (or the name is invalid), so that the library gives its error.
fn which(dir: &Path, name: &[u8]) -> Result<Unlink, String> {
    let rest = &name[name.iter().position(|&b| b != b'/').unwrap_or(name.len())..];
    if !scan::valid_rest(rest) {
        return Ok(Unlink::Shm);
    }
    let exists = |file: &[u8]| fs::symlink_metadata(dir.join(OsStr::from_bytes(file))).is_ok();
    let sem = [b"sem.", rest].concat();
    match (exists(rest), exists(&sem)) {
        (true, true) => {
            Err("both an object and a semaphore have this name: say --shm or --sem".into())
        }
        (false, true) => Ok(Unlink::Sem),
        _ => Ok(Unlink::Shm),
    }
}

fn gc(o: &Opts) -> Result<u8, Fail> {
    let dir = directory(o, true)?;
    let older_than = o.older_than.unwrap_or(3600) as i64;
    let (_, entries) = read(&dir)?;
    let holders = holders::find(&entries);
    let now = now();
    let (mut failed, mut unjudged) = (false, 0);
    for (i, e) in entries.iter().enumerate() {
        let how = match e.kind {
            Kind::Shm => Unlink::Shm,
            Kind::Sem => Unlink::Sem,
            Kind::Other => continue,
        };
        if now.saturating_sub(e.changed()) < older_than || !holders.of[i].is_empty() {
            continue;
        }
        let what = format!("{} {}", e.kind.as_str(), out::shown(&e.name));
        let unknown = holders.unknown(i);
        if unknown > 0 {
            let _ = writeln!(
                io::stderr(),
                "rtshm: gc: left {what}: {unknown} {} could not be checked",
                if unknown == 1 { "process" } else { "processes" }
            );
            unjudged += 1;
            continue;
        }
        // Unchanged since the scan: the same file, no newer change.
        match fs::symlink_metadata(dir.join(OsStr::from_bytes(&e.file))) {
            Ok(m)
                if (m.dev(), m.ino()) == (e.dev, e.ino)
                    && m.mtime().max(m.ctime()) == e.changed() => {}
            _ => continue,
        }
        if o.dry_run {
            print(&format!("would remove {what}\n"))?;
            continue;
        }
        match rtshm::unlink(how, &e.name) {
            Ok(()) => {
                print(&format!("removed {what}\n"))?;
            }
            Err(err) => {
                let _ = writeln!(io::stderr(), "rtshm: gc: {what}: {}", why(&err));
                failed = true;
            }
        }
    }
    Ok(if failed {
        ERROR
    } else if unjudged > 0 {
        UNJUDGED
    } else {
        0
    })
}
