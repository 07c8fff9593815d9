"""The model served: `train serve` under a sequential REST load, and what `train predict --engine spark` reports.

The REST load is one client posting requests one after another over a kept-alive
requests.Session: the throughput and latency a single caller sees, not the server's
capacity under concurrent callers.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench import measure

START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0
REQUEST_TIMEOUT_SECONDS = 60.0
WARMUP_REQUESTS = 5
SPARK_LINE = re.compile(r"tagged ([\d,]+) rows on Spark (\S+) in ([\d.]+) s")


def free_port() -> int:
    """A port nothing listens on now, picked by the OS; the server binds it a moment later."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(command: Sequence[str], url: str, log_file: Path) -> Iterator[float]:
    """Run a server in its own process group until GET /ping answers 200; yield the seconds that took.

    The whole group (train serve, mlflow and uvicorn) is stopped on the way out, whatever happened.
    """
    with log_file.open("wb") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield _wait_until_up(process, command, f"{url}/ping", log_file, start)
        finally:
            _stop_group(process)


def _wait_until_up(
    process: subprocess.Popen[bytes], command: Sequence[str], ping: str, log_file: Path, start: float
) -> float:
    while time.perf_counter() - start < START_TIMEOUT_SECONDS:
        if process.poll() is not None:
            raise measure.CommandFailed(command, process.returncode, log_file.read_text(errors="replace"))
        try:
            if requests.get(ping, timeout=1.0).status_code == 200:
                return time.perf_counter() - start
        except requests.RequestException:
            pass
        time.sleep(0.1)
    output = log_file.read_text(errors="replace")
    raise measure.CommandFailed(command, -1, f"{output}\nno 200 from {ping} in {START_TIMEOUT_SECONDS:.0f} s")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, then SIGKILL to whatever is left of it after STOP_TIMEOUT_SECONDS."""
    _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _group_alive(process) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    process.poll()  # reaps the leader once it exits: only live members keep the group
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- the load ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """Timed requests of one mode, after the warm-up."""

    paragraphs: int
    seconds: float
    latencies: tuple[float, ...]  # seconds per request, in order sent

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def paragraphs_per_second(self) -> float:
        return self.paragraphs / self.seconds

    @property
    def p50_ms(self) -> float:
        return measure.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        return measure.percentile(self.latencies, 99) * 1000


def batches(texts: Iterator[str], size: int) -> Iterator[list[str]]:
    """Consecutive batches of `size` texts, taken as needed: what one mode leaves, the next one gets."""
    while batch := list(itertools.islice(texts, size)):
        yield batch


def send(url: str, to_send: Iterator[list[str]], seconds: float) -> Load:
    """POST each batch to /invocations from one kept-alive session, one after another, for `seconds`
    or until the batches run out.

    The first WARMUP_REQUESTS are not timed. A request's latency runs from sending it to
    its answer parsed and checked (one prediction per paragraph).
    """
    endpoint = f"{url}/invocations"
    latencies: list[float] = []
    paragraphs = 0
    with requests.Session() as session:
        for batch in itertools.islice(to_send, WARMUP_REQUESTS):
            _post(session, endpoint, batch)
        start = time.perf_counter()
        for batch in to_send:
            sent = time.perf_counter()
            _post(session, endpoint, batch)
            done = time.perf_counter()
            latencies.append(done - sent)
            paragraphs += len(batch)
            if done - start >= seconds:
                break
    if not latencies:
        raise RuntimeError(f"no paragraphs left to send to {endpoint} after the warm-up")
    return Load(paragraphs, time.perf_counter() - start, tuple(latencies))


def _post(session: requests.Session, endpoint: str, batch: list[str]) -> None:
    response = session.post(endpoint, json={"inputs": batch}, timeout=REQUEST_TIMEOUT_SECONDS)
    response.raise_for_status()
    predictions = response.json()["predictions"]
    if len(predictions) != len(batch):
        raise RuntimeError(f"{endpoint}: {len(predictions)} predictions for {len(batch)} paragraphs")


# --- Spark -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SparkLine:
    """`tagged N rows on Spark MASTER in X s → OUT`: what `train predict --engine spark` prints."""

    rows: int
    master: str
    seconds: float


def spark_line(stdout: str) -> SparkLine | None:
    found = SPARK_LINE.search(stdout)
    if found is None:
        return None
    return SparkLine(int(found[1].replace(",", "")), found[2], float(found[3]))
