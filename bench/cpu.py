"""CPU time of process trees, read from /proc: what each part of a fleet spent during a run."""

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and of its children it has waited for)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command: state ppid ... utime(11) stime(12) cutime(13) cstime(14), 0-based.
    return int(fields[1]), sum(int(f) for f in fields[11:15]) / _TICK


def tree_cpu_s(root: int) -> float:
    """CPU seconds of `root` and every live descendant (dead ones are in their parents' totals)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _stat(int(entry))) is not None:
            parents[int(entry)], cpu[int(entry)] = found
    total, frontier = 0.0, {root}
    while frontier:
        total += sum(cpu.get(pid, 0.0) for pid in frontier)
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
    return total


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split()[0])
