"""How busy the machine was while a test ran: the CPU time other processes took, the load average and
the CPU frequency, read from /proc and /sys (Linux; elsewhere the columns stay empty).

`read()` before and after a test, `columns(start, end)` for its row. It runs in the process that runs
the test (the in-process worker, or the sweep process for a server it started), so "own" is that
process and every process below it (threads, a llama-server child, the python tool's children):

    other_cpu_pct = (busy jiffies of all CPUs - own jiffies) / all jiffies of all CPUs, in percent

where busy counts user, nice, system, irq, softirq and steal (a hypervisor's other guests) and all
jiffies add idle and iowait. A server the harness did not start (http_external) counts as other.
"""
from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass
from pathlib import Path

BUSY_LIMIT = 0.10  # others taking more than this share of the CPUs during a point: warned (run, report.md)
BUSY_COLUMNS = ("other_cpu_pct", "load_avg", "cpu_mhz_start", "cpu_mhz_end")
PROC = Path("/proc")


@dataclass(frozen=True)
class Reading:
    busy: int | None          # busy jiffies of all CPUs (/proc/stat)
    total: int | None         # all jiffies of all CPUs
    own: int | None           # jiffies of this process tree (utime + stime + reaped children's)
    mhz: float | None         # mean current frequency of the CPUs


def _stat() -> tuple[int, int] | None:
    try:
        fields = [int(x) for x in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal  # guest time is already inside user
    return busy, busy + idle + iowait


def _tree_jiffies(root: int) -> int | None:
    """utime + stime + cutime + cstime of `root` and every process below it."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    try:
        entries = [e for e in os.listdir(PROC) if e.isdigit()]
    except OSError:
        return None
    for e in entries:
        try:
            text = (PROC / e / "stat").read_text()
        except OSError:
            continue  # gone since the listing
        rest = text[text.rfind(")") + 2:].split()  # after "pid (comm) "; comm may hold spaces
        try:
            parent[int(e)] = int(rest[1])
            ticks[int(e)] = sum(int(x) for x in rest[11:15])
        except (IndexError, ValueError):
            continue
    if root not in ticks:
        return None
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += children.get(pid, [])
    return total


def _mhz() -> float | None:
    """The CPUs' mean current frequency: cpufreq's scaling_cur_freq (kHz), else /proc/cpuinfo's MHz."""
    khz = []
    for f in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq"):
        try:
            khz.append(int(Path(f).read_text()) / 1000)
        except (OSError, ValueError):
            continue
    if khz:
        return sum(khz) / len(khz)
    try:
        mhz = [float(line.split(":")[1]) for line in (PROC / "cpuinfo").read_text().splitlines()
               if line.startswith("cpu MHz")]
    except (OSError, ValueError, IndexError):
        return None
    return sum(mhz) / len(mhz) if mhz else None


def read() -> Reading:
    stat = _stat()
    return Reading(stat[0] if stat else None, stat[1] if stat else None,
                   _tree_jiffies(os.getpid()), _mhz())


def _load_avg() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _delta(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else b - a


def columns(start: Reading, end: Reading) -> dict[str, float | str]:
    """The busyness columns of a test that ran between two readings ('' where unreadable)."""
    other: float | str = ""
    busy, total, own = _delta(start.busy, end.busy), _delta(start.total, end.total), _delta(start.own, end.own)
    if busy is not None and own is not None and total:
        other = round(min(100.0, max(0.0, 100.0 * (busy - own) / total)), 1)
    load = _load_avg()

    def mhz(r: Reading) -> float | str:
        return round(r.mhz, 0) if r.mhz is not None and not math.isnan(r.mhz) else ""
    return {"other_cpu_pct": other, "load_avg": round(load, 2) if load is not None else "",
            "cpu_mhz_start": mhz(start), "cpu_mhz_end": mhz(end)}


def busy_line(point: str, rows: list[dict[str, object]], limit: float = BUSY_LIMIT) -> str | None:
    """One warning line when other processes took more than `limit` of the CPUs during a point's tests."""
    hit = [(str(r.get("test", "")), float(v)) for r in rows
           if isinstance(v := r.get("other_cpu_pct"), (int, float)) and v > 100 * limit]
    if not hit:
        return None
    each = ", ".join(f"{t} {v:.0f}%" for t, v in hit)
    return (f"harness: warning: {point}: other processes took more than {limit:.0%} of the CPUs while it ran "
            f"({each}); its timings may be slow and noisy")
