"""Run commands and measure wall time, peak RSS and when output starts.

Peak RSS comes from the kernel's rusage of the measured process: `/usr/bin/time -f %M`
when GNU time is there, else bench/maxrss.py, a wrapper that reads
`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`. Either way it is the peak of the largest
single process (the command or a worker it waited for), not a sum. Where a command runs
worker processes, a sampler also sums the PSS (RSS with shared pages split among the
processes sharing them) of the whole process tree twice a second.
"""

from __future__ import annotations

import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import IO

GNU_TIME = Path("/usr/bin/time")
WRAPPER = Path(__file__).with_name("maxrss.py")
KB_PER_MB = 1024


class CommandFailed(RuntimeError):
    def __init__(self, command: Sequence[str], code: int, stderr: str) -> None:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        super().__init__(f"exit code {code}: {' '.join(command)}\n{tail}")


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float  # largest single process
    tree_peak_mb: float | None = None  # sampled PSS sum over the process tree, when asked for


@dataclass(frozen=True)
class Sample:
    seconds: float
    lines: int
    rss_mb: float


@dataclass
class Streamed:
    seconds: float  # until the output ended, or until the process was stopped
    first_line_seconds: float
    lines: int
    completed: bool  # False when stopped at the time limit
    peak_rss_mb: float
    timeline: list[Sample] = field(default_factory=list)


@cache
def have_gnu_time() -> bool:
    if not GNU_TIME.is_file():
        return False
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rss"
        done = subprocess.run([str(GNU_TIME), "-f", "%M", "-o", str(out), "true"], capture_output=True, check=False)
        return done.returncode == 0 and out.exists() and out.read_text().strip().isdigit()


def rss_tool() -> str:
    return "/usr/bin/time -f %M" if have_gnu_time() else "bench/maxrss.py (getrusage RUSAGE_CHILDREN)"


def _rss_prefix(out_file: Path) -> list[str]:
    if have_gnu_time():
        return [str(GNU_TIME), "-f", "%M", "-o", str(out_file)]
    return [sys.executable, str(WRAPPER), str(out_file)]


def _read_peak_mb(out_file: Path) -> float:
    # GNU time may put "Command terminated by signal 15" before the figure.
    lines = [line for line in out_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    return int(lines[-1]) / KB_PER_MB


# --- the process tree, from /proc ------------------------------------------------------


def _parent_of_each() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ")".
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(root: int) -> list[int]:
    parents = _parent_of_each()
    found: list[int] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def _proc_mb(path: str, key: str) -> float | None:
    """A `Key:   1234 kB` field of a /proc file in MB; None if the file or field is missing."""
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / KB_PER_MB
    except (OSError, ValueError):
        pass
    return None


def rss_mb(pid: int) -> float:
    """Current resident set of one process; 0 once it is gone."""
    return _proc_mb(f"/proc/{pid}/status", "VmRSS:") or 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (a forked worker's copy-on-write memory) split among sharers.

    Summed over a process tree it counts each page once, which summed RSS does not. Falls
    back to RSS where /proc/PID/smaps_rollup is not available.
    """
    pss = _proc_mb(f"/proc/{pid}/smaps_rollup", "Pss:")
    return rss_mb(pid) if pss is None else pss


class TreeSampler:
    """Samples the summed PSS of every descendant of a process in a background thread."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        self.root = root
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(pss_mb(pid) for pid in descendants(self.root))
            self.peak_mb = max(self.peak_mb, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()


# --- measured runs -----------------------------------------------------------------------


def run_measured(
    command: Sequence[str], *, stdout: int | IO[bytes] = subprocess.DEVNULL, sample_tree: bool = False
) -> Measured:
    """Run to completion; wall time and peak RSS (and the sampled tree peak if asked)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        rss_file, err_file = Path(tmp) / "rss", Path(tmp) / "stderr"
        with err_file.open("wb") as err:
            start = time.perf_counter()
            process = subprocess.Popen([*_rss_prefix(rss_file), *command], stdout=stdout, stderr=err)
            if sample_tree:
                with TreeSampler(process.pid) as sampler:
                    code = process.wait()
                tree_peak: float | None = sampler.peak_mb
            else:
                code = process.wait()
                tree_peak = None
            seconds = time.perf_counter() - start
        if code != 0:
            raise CommandFailed(command, code, err_file.read_text(encoding="utf-8", errors="replace"))
        return Measured(seconds=seconds, peak_rss_mb=_read_peak_mb(rss_file), tree_peak_mb=tree_peak)


def wall_times(command: Sequence[str], runs: int) -> list[float]:
    """Wall seconds of `runs` fresh processes, output discarded."""
    return [_timed(command) for _ in range(runs)]


def _timed(command: Sequence[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise CommandFailed(command, done.returncode, done.stderr.decode("utf-8", errors="replace"))
    return seconds


def interleaved_wall_times(commands: Mapping[str, Sequence[str]], runs: int) -> dict[str, list[float]]:
    """Each command once to warm caches, then `runs` rounds taking each in turn: noise hits all alike."""
    for command in commands.values():
        _timed(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(_timed(command))
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: int) -> float:
    """The p-th percentile (1 to 99), interpolated between samples, never past the largest."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def run_streamed(command: Sequence[str], *, max_seconds: float | None) -> Streamed:
    """Read the command's stdout: time its first line, then drain and discard the rest.

    With max_seconds, the command is stopped (SIGTERM) once that much time has passed;
    its peak RSS up to then is still reported. The RSS of the process is sampled about
    once a second along with the number of lines it has written.
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        rss_file, err_file = Path(tmp) / "rss", Path(tmp) / "stderr"
        with err_file.open("wb") as err:
            start = time.perf_counter()
            process = subprocess.Popen([*_rss_prefix(rss_file), *command], stdout=subprocess.PIPE, stderr=err)
            stdout = process.stdout
            assert isinstance(stdout, io.BufferedReader)
            first = stdout.readline()
            first_line_seconds = time.perf_counter() - start
            lines = first.count(b"\n")
            worker = _measured_child(process.pid)
            timeline = [Sample(first_line_seconds, lines, rss_mb(worker))] if worker else []
            stopped = False
            while chunk := stdout.read1(1 << 16):
                lines += chunk.count(b"\n")
                elapsed = time.perf_counter() - start
                if worker and elapsed - timeline[-1].seconds >= 1.0:
                    timeline.append(Sample(elapsed, lines, rss_mb(worker)))
                if max_seconds is not None and elapsed >= max_seconds and not stopped:
                    if worker:
                        timeline.append(Sample(elapsed, lines, rss_mb(worker)))
                    _stop(worker or process.pid)
                    stopped = True
            seconds = time.perf_counter() - start
            code = process.wait()
        if not first or (code != 0 and not stopped):
            raise CommandFailed(command, code, err_file.read_text(encoding="utf-8", errors="replace"))
        return Streamed(
            seconds=seconds,
            first_line_seconds=first_line_seconds,
            lines=lines,
            completed=not stopped,
            peak_rss_mb=_read_peak_mb(rss_file),
            timeline=timeline,
        )


def _measured_child(wrapper_pid: int) -> int | None:
    """The command itself: the child of the /usr/bin/time (or maxrss.py) process."""
    children = [pid for pid, parent in _parent_of_each().items() if parent == wrapper_pid]
    return min(children) if children else None


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
