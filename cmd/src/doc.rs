//! The command's documentation, in one place: `--help` prints it as text and `rtshm --roff 1`
//! as the man page rtshm(1) (render.rs); `rtshm --roff 7` gives rtshm(7), the library's
//! environment variables.

/// A piece of text.
pub enum Block {
    /// A paragraph, filled to the width.
    P(&'static str),
    /// Lines shown as they are (examples, output).
    Pre(&'static str),
    /// Terms and what they mean (options, fields, codes).
    Items(&'static [(&'static str, &'static str)]),
}
use Block::{Items, Pre, P};

pub struct Command {
    pub name: &'static str,
    pub usage: &'static str,
    /// One line, for `rtshm --help`'s list.
    pub summary: &'static str,
    pub text: &'static [Block],
}

pub struct Section {
    pub title: &'static str,
    pub text: &'static [Block],
}

pub const USAGE: &str = "rtshm COMMAND [OPTION...]";

pub const ABOUT: &[Block] = &[P(
    "See, check and clean the POSIX shared memory objects and named semaphores in the \
     directory in effect: RTSHM_DIR, as the rtshm library takes it (rtshm(7)), or /dev/shm; \
     --dir DIR looks elsewhere.",
)];

const DIR_OPTION: (&str, &str) = (
    "--dir DIR",
    "Look in DIR instead of the directory in effect. rm and gc remove through the library, \
     with RTSHM_DIR set to DIR, so DIR must pass RTSHM_DIR's safety check (rtshm(7)).",
);
const HELP_OPTION: (&str, &str) = ("-h, --help", "Print this help and exit.");

pub const LS: Command = Command {
    name: "ls",
    usage: "rtshm ls [--dir DIR] [--json]",
    summary: "list the objects and semaphores: kind, size, owner, mode, age, holders",
    text: &[
        P("Lists every entry of the directory, sorted by name: the name a program passes to \
           shm_open or sem_open, its kind (shm, sem or other), size, owner, mode, how long ago \
           it last changed, a semaphore's value, and its holders: the processes that have it \
           open or mapped, as \"PID COMMAND\". A ? among the holders stands for the processes \
           that could not be checked (see HOLDERS in rtshm(1)): the entry may be held by one of \
           them. The last line gives the number of entries, the sum of their sizes, and the \
           directory's used and free space (statfs)."),
        Items(&[
            DIR_OPTION,
            ("--json", "One JSON object per entry, one per line (JSON Lines), with the fields below, always all of them, in this order."),
            HELP_OPTION,
        ]),
        P("JSON fields:"),
        Items(&[
            ("name", "The name as shm_open or sem_open takes it: \"/\" and the file name, without \"sem.\" for a semaphore. Bytes that are not UTF-8 are written as the lone surrogates \\udc80 to \\udcff (Python's surrogateescape: os.fsencode(name) gives the bytes back)."),
            ("file", "The file's name in the directory (written as name is)."),
            ("kind", "\"shm\", \"sem\" or \"other\"."),
            ("type", "The file's type: \"file\", \"directory\", \"symlink\", \"fifo\", \"socket\", \"block\" or \"char\"."),
            ("size", "Its length in bytes (st_size)."),
            ("allocated", "The bytes of storage it takes (st_blocks * 512): less than size for a sparse object, whose untouched pages take no space yet."),
            ("uid, gid", "Its owner and group, as numbers."),
            ("user, group", "Their names, or null when they have none."),
            ("mode", "The permission bits, in octal, as a string: \"0600\"."),
            ("mtime, ctime", "When its data and its inode last changed, in seconds since the epoch."),
            ("changed", "The later of the two: what gc's age is measured from."),
            ("value, waiters", "A semaphore's value and the number of processes waiting on it, read from its file; null for other kinds, and when the file cannot be read."),
            ("holders", "The processes found holding it: an array of {\"pid\": N, \"command\": \"...\", \"fd\": true|false, \"mapped\": true|false} (fd: it has a descriptor of it; mapped: it has it mapped), sorted by pid."),
            ("holders_unknown", "How many processes could not be checked and were not found holding it: holders is complete only when this is 0."),
        ]),
    ],
};

pub const DF: Command = Command {
    name: "df",
    usage: "rtshm df [--dir DIR] [--json] [--top N]",
    summary: "the directory's size, used and free space, and its largest objects",
    text: &[
        P("Prints the size of the file system that holds the directory, its used and free \
           space (statfs; free is what an unprivileged process can still use), the sum of the \
           entries' sizes and of their unbacked parts (size less allocated: the pages that \
           nobody has touched yet), and the largest entries by size."),
        P("A process that touches a page of a shared object when the file system is full dies \
           of SIGBUS. df prints a warning when the directory is nearly full: when 90% or more \
           of it is used, or when the unbacked parts of its entries add up to more than the \
           free space (touching every page of them would fill it). The warning names the \
           remedies: RTSHM_RESERVE=1 makes a program that grows an object with ftruncate \
           reserve the space there, failing with ENOSPC instead of a SIGBUS later; RTSHM_DIR \
           puts the objects in a bigger file system (rtshm(7))."),
        Items(&[
            DIR_OPTION,
            ("--json", "One JSON object: dir, size, used, free (bytes; size is 0 when the file system has no limit), used_percent (a number, or null without a limit), entries, entries_size, unbacked, nearly_full (true or false), largest (an array of {name, kind, size, allocated}, as in ls --json)."),
            ("--top N", "How many of the largest entries to show (5; 0 for none)."),
            HELP_OPTION,
        ]),
    ],
};

pub const RM: Command = Command {
    name: "rm",
    usage: "rtshm rm [--dir DIR] [--shm | --sem] NAME...",
    summary: "remove objects or semaphores, as shm_unlink and sem_unlink do",
    text: &[
        P(
            "Removes each NAME with the rtshm library's shm_unlink or sem_unlink, so the \
           directory, the name rules and the errors are exactly a program's (errno's name is \
           printed, as in \"No such file or directory (ENOENT)\"). NAME is written as ls shows \
           it (\"/name\"). Without --shm or --sem, the function is chosen by what is there: \
           shm_unlink when an object has that name, sem_unlink when a semaphore has, an error \
           when both have; shm_unlink when neither has (it fails with ENOENT, as sem_unlink \
           would). Nothing is printed on success. The other names are still removed after \
           one fails.",
        ),
        Items(&[
            DIR_OPTION,
            ("--shm", "Remove objects: shm_unlink(NAME)."),
            ("--sem", "Remove semaphores: sem_unlink(NAME)."),
            ("--", "Every argument after it is a NAME."),
            HELP_OPTION,
        ]),
    ],
};

pub const GC: Command = Command {
    name: "gc",
    usage: "rtshm gc [--dir DIR] [--older-than DURATION] [--dry-run]",
    summary: "remove the objects and semaphores nobody holds that have not changed for a while",
    text: &[
        P("Removes, with the library's shm_unlink or sem_unlink, each object and semaphore that \
           no process holds (open or mapped) and that has not changed for DURATION (its mtime \
           and its ctime are both older). It never removes one that a process holds, nor one \
           that it cannot judge: when some process could not be checked (another user's, \
           unless gc runs as root), every entry old enough and not found held is left, and \
           named on standard error. Just before it removes an entry it looks again, and leaves \
           it if it changed meanwhile. Entries of kind other are never removed. Prints \
           \"removed KIND NAME\" (or \"would remove KIND NAME\") on standard output for each."),
        P("A process that maps an object writes into it without changing its mtime: its age \
           says when it was last resized, written with write(2) or had its owner or mode \
           changed. That is why a held object is never removed, however old."),
        Items(&[
            DIR_OPTION,
            ("--older-than DURATION", "A number and a unit: s, m, h or d (30s, 10m, 2h, 1d; a number alone is seconds). 1h by default."),
            ("--dry-run", "Remove nothing; print what would be removed."),
            HELP_OPTION,
        ]),
        P("Exit status 3 says that some entries were left because they could not be judged: run \
           it as root to check every process."),
    ],
};

pub const HELP: Command = Command {
    name: "help",
    usage: "rtshm help [COMMAND]",
    summary: "this help, or a command's",
    text: &[P("Prints the help of COMMAND, or rtshm's.")],
};

pub const COMMANDS: &[&Command] = &[&LS, &DF, &RM, &GC, &HELP];

pub const EXIT_STATUS: &[Block] = &[Items(&[
    ("0", "Success. gc: every entry was judged (removed, or left because it is held or recent)."),
    ("1", "An error: the directory does not exist or cannot be read, RTSHM_DIR is set but unusable, a removal failed."),
    ("2", "A usage error: an unknown command or option, a missing or invalid argument."),
    ("3", "gc: some entries were left because some processes could not be checked."),
])];

pub const MORE: &[Section] = &[
    Section {
        title: "NAMES AND KINDS",
        text: &[P(
            "The directory holds the objects as files: shm_open(\"/name\") makes NAME, \
                  sem_open(\"/name\") makes sem.NAME (glibc's convention, which rtshm follows). \
                  A regular file sem.NAME of a semaphore's size (32 bytes on x86_64 and aarch64, \
                  a huge page on hugetlbfs) is the semaphore /NAME, kind sem; its value is read \
                  from its first 8 bytes (glibc's layout) with read(2), never mapped. Any other \
                  regular file is the object /FILE, kind shm. Anything else (a directory, a \
                  symbolic link, a socket, a sem. file of another size...) is kind other, \
                  named /FILE.",
        )],
    },
    Section {
        title: "HOLDERS",
        text: &[
            P(
                "A process holds an entry when one of its descriptors (/proc/PID/fd) or mappings \
               (/proc/PID/maps) is that file: the same device and inode, whatever its path. \
               The command is /proc/PID/comm. A process that exits during the scan is skipped; \
               kernel threads are not looked at; rtshm does not count itself.",
            ),
            P(
                "Reading another user's descriptors and mappings needs root (or CAP_SYS_PTRACE). \
               A process whose descriptors or mappings cannot be read could hold any entry: it \
               is counted in holders_unknown (a ? in ls), and gc leaves what it might hold. \
               When /proc hides other users' processes (hidepid=2 or 4), they cannot even be \
               counted: holders_unknown is one more.",
            ),
        ],
    },
];

pub const ENVIRONMENT: &[Block] = &[Items(&[(
    "RTSHM_DIR",
    "The directory in effect, as the rtshm library takes it (rtshm(7)); /dev/shm when unset.",
)])];

pub const EXAMPLES: &[Block] = &[
    P("What is there, and who holds it:"),
    Pre("rtshm ls"),
    P("Which objects older than a day nobody holds:"),
    Pre("rtshm gc --older-than 1d --dry-run"),
    P("In a script, the names of the semaphores whose value is 0:"),
    Pre("rtshm ls --json | jq -r 'select(.kind == \"sem\" and .value == 0) | .name'"),
];

pub const SEE_ALSO: &str =
    "rtshm(7), shm_open(3), sem_open(3), shm_overview(7), sem_overview(7), lsof(8)";

/// rtshm(7): the library's environment.
pub const PAGE7_NAME: &str = "rtshm \\- the rtshm library's environment variables";
pub const PAGE7: &[Section] = &[
    Section {
        title: "DESCRIPTION",
        text: &[P(
            "rtshm is POSIX shared memory (shm_open, shm_unlink) and named semaphores \
                  (sem_open, sem_close, sem_unlink) with glibc's behaviour, linked with -lrtshm \
                  or librtshm.a, or preloaded (LD_PRELOAD=librtshm.so). These variables change \
                  what it does. Each is read once, at the first call of any rtshm function: \
                  later changes to the environment change nothing. A value that is set but \
                  unusable is reported once per process, in one line on standard error.",
        )],
    },
    Section {
        title: "ENVIRONMENT",
        text: &[Items(&[
            (
                "RTSHM_DIR",
                "The directory that holds every object and semaphore, instead of /dev/shm. \
              It must be an absolute path of at most 3839 bytes (trailing slashes are fine), \
              and safe: every component from / down to it, symbolic links on the way included, \
              owned by root or the process's user, and no directory on the way writable by \
              group or others unless sticky; none on FUSE. A directory that does not exist yet \
              gives ENOENT and is checked again at the next call; rtshm never creates it. Set but \
              unusable: every call fails with EINVAL, rtshm_dir() returns NULL, and one line \
              says why.",
            ),
            (
                "RTSHM_COMPAT",
                "posix, freebsd or macos: refuse what that system refuses (macOS's \
              31-byte names, FreeBSD's flag and leading-slash rules, POSIX's portable names), \
              with its errno, so that a Linux run finds portability bugs. Unset or empty: no \
              change; any other value changes nothing and is reported.",
            ),
            (
                "RTSHM_COMPAT_LOG",
                "Any value but empty or 0: one line on standard error for each \
              call that breaks RTSHM_COMPAT's rules.",
            ),
            (
                "RTSHM_RESERVE",
                "1: ftruncate and ftruncate64 that grow a shared memory object (a \
              regular file directly in the directory in effect, open for writing, on a file \
              system with a size limit; not SHM_ANON's memfds, which have none) first reserve \
              the new range (fallocate); when the space is not there they fail with ENOSPC and \
              leave the size unchanged, instead of the process dying of SIGBUS when it first \
              touches a page that has no room. The memory is then taken at ftruncate time: a \
              sparse object is no longer sparse. Unset or 0: glibc's behaviour. Any other value \
              is reported once and ignored. Read at the process's first ftruncate.",
            ),
        ])],
    },
    Section {
        title: "SECURE EXECUTION",
        text: &[P(
            "In a secure-execution process (setuid, setgid, file capabilities: the kernel's \
                  AT_SECURE, secure_getenv's test) every variable is ignored: RTSHM_DIR cannot \
                  redirect a privileged program.",
        )],
    },
    Section {
        title: "FILES",
        text: &[Items(&[
            (
                "/dev/shm/NAME",
                "The object shm_open(\"/NAME\") opens, or RTSHM_DIR/NAME.",
            ),
            (
                "/dev/shm/sem.NAME",
                "The semaphore sem_open(\"/NAME\") opens, or RTSHM_DIR/sem.NAME.",
            ),
        ])],
    },
];
pub const PAGE7_SEE_ALSO: &str =
    "rtshm(1), shm_open(3), sem_open(3), shm_overview(7), sem_overview(7)";
