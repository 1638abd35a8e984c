"""Checks the rtshm command's output against the directory, field by field.
  check.py ls-json DIR PID UNKNOWN  rtshm ls --json on stdin; PID's holder holds /held (a
                                   descriptor), /mapped and /s1 (mapped); UNKNOWN is 0, or +
                                   when the output is another user's, who could not check the
                                   holder and others (then nothing is seen held)
  check.py ls-table DIR            rtshm ls on stdin: order, alignment, sizes, the total line
Prints what differs and exits 1, or exits 0."""
import grp
import json
import os
import pwd
import re
import stat
import struct
import sys

FIELDS = ["name", "file", "kind", "type", "size", "allocated", "uid", "gid", "user", "group",
          "mode", "mtime", "ctime", "changed", "value", "waiters", "holders", "holders_unknown"]
errors = []


def expect(what, got, want):
    if got != want:
        errors.append(f"{what}: {got!r}, expected {want!r}")


def describe(d, file, others):
    """What rtshm should say of DIR/FILE, from lstat and the file's bytes; with `others`, as
    another user than the owner sees it (a semaphore it may not read has no value)."""
    st = os.lstat(os.path.join(d, file))
    kind, name = "other", b"/" + file
    if stat.S_ISREG(st.st_mode):
        rest = file[4:] if file.startswith(b"sem.") else None
        if rest is None:
            kind = "shm"
        elif rest not in (b"", b".", b"..") and st.st_size == 32:
            kind, name = "sem", b"/" + rest
    value = waiters = None
    if kind == "sem" and not (others and not st.st_mode & stat.S_IROTH):
        try:
            with open(os.path.join(d, file), "rb") as f:
                data, = struct.unpack("=Q", f.read(8))
            value, waiters = data & 0xFFFFFFFF, data >> 32
        except PermissionError:
            pass
    types = [(stat.S_ISREG, "file"), (stat.S_ISDIR, "directory"), (stat.S_ISLNK, "symlink"),
             (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"), (stat.S_ISBLK, "block"),
             (stat.S_ISCHR, "char")]

    def name_of(f, i):
        try:
            return f(i)[0]
        except KeyError:
            return None
    return st, {
        "name": os.fsdecode(name), "file": os.fsdecode(file), "kind": kind,
        "type": next(t for f, t in types if f(st.st_mode)), "size": st.st_size,
        "allocated": st.st_blocks * 512, "uid": st.st_uid, "gid": st.st_gid,
        "user": name_of(pwd.getpwuid, st.st_uid), "group": name_of(grp.getgrgid, st.st_gid),
        "mode": "%04o" % stat.S_IMODE(st.st_mode), "mtime": int(st.st_mtime),
        "ctime": int(st.st_ctime), "changed": max(int(st.st_mtime), int(st.st_ctime)),
        "value": value, "waiters": waiters,
    }


def ls_json(d, pid, unknown):
    d = os.fsencode(d)
    lines = sys.stdin.read().splitlines()
    entries = [json.loads(line) for line in lines]
    files = sorted(os.listdir(d))
    expect("files listed", sorted(os.fsencode(e["file"]) for e in entries), files)
    expect("order", [os.fsencode(e["name"]) for e in entries],
           sorted(os.fsencode(e["name"]) for e in entries))
    held = {"/held": (True, False), "/mapped": (False, True), "/s1": (False, True)}
    for e in entries:
        expect(f"{e.get('name')}: fields", list(e), FIELDS)
        _, want = describe(d, os.fsencode(e["file"]), unknown != "0")
        for k, v in want.items():
            expect(f"{e['name']}: {k}", e[k], v)
        if unknown == "0":
            fd_map = held.get(e["name"])
            want_holders = [] if fd_map is None else [
                {"pid": pid, "command": "cmd-holder", "fd": fd_map[0], "mapped": fd_map[1]}]
            expect(f"{e['name']}: holders", e["holders"], want_holders)
            expect(f"{e['name']}: holders_unknown", e["holders_unknown"], 0)
        else:
            expect(f"{e['name']}: holders", e["holders"], [])
            if not e["holders_unknown"] >= 1:
                errors.append(f"{e['name']}: holders_unknown {e['holders_unknown']}, expected 1 or more")


def ls_table(d):
    lines = sys.stdin.read().splitlines()
    header, rows = lines[0], lines[1:]
    cols = ["NAME", "KIND", "SIZE", "OWNER", "MODE", "CHANGED", "VALUE", "HOLDERS"]
    expect("header", header.split(), cols)
    starts = [header.index(c) for c in cols]
    entries = [r for r in rows if not r.startswith(("total ", "?: "))]
    for r in entries:
        cells = [(m.start(), m.group()) for m in re.finditer(r"\S+", r)]
        # CHANGED is "N ago": two words; HOLDERS may be several.
        got = [cells[i][0] for i in range(6)] + [cells[7][0], cells[8][0]]
        expect(f"row {r!r}: column starts", got, starts)
    names = [r.split()[0] for r in entries]
    expect("sorted", names, sorted(names, key=lambda n: n.encode()))
    sizes = {r.split()[0]: r.split()[2] for r in entries}
    for name, want in {"/held": "2.9K", "/mapped": "1.0M", "/s1": "32", "/closed": "10"}.items():
        expect(f"{name}: size", sizes.get(name), want)
    total = [r for r in rows if r.startswith("total ")]
    n = len(os.listdir(d))
    pattern = rf"total {n} entries, [0-9.]+[KMG]?; {re.escape(d)}: [0-9.]+[KMG]? used \([0-9]+%\), [0-9.]+[KMG]? free of [0-9.]+[KMG]?$"
    if len(total) != 1 or not re.match(pattern, total[0]):
        errors.append(f"total line {total!r} does not match {pattern}")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "ls-json":
        ls_json(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif what == "ls-table":
        ls_table(sys.argv[2])
    for e in errors:
        print(e)
    sys.exit(1 if errors else 0)
