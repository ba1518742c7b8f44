"""CPU time and memory of a process tree, read from /proc (Linux only)."""
import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name (so index 0 is field 3, `state`)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def tree(root):
    """PIDs of root and all its live descendants (e.g. gunicorn's workers, nginx's worker)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat_fields(entry)[1])
            except (OSError, IndexError):
                continue  # exited meanwhile
            children.setdefault(ppid, []).append(int(entry))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def cpu_seconds(root, reaped=False):
    """utime + stime of every live process in the tree (each includes its exited threads); with
    reaped, also the root's children that exited and were waited for (cutime + cstime): a server
    that forks a process per connection, such as PostgreSQL's postmaster, once its clients left."""
    total = 0
    for pid in tree(root):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
        if reaped and pid == root:
            total += int(fields[13]) + int(fields[14])  # fields 16 and 17
    return total / CLK_TCK


def memory_kib(root, key):
    """Sum of one /proc/<pid>/status field over the tree, e.g. key="VmRSS" or "VmHWM" (KiB)."""
    total = 0
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total
