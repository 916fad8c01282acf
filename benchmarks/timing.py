"""Timing helpers shared by the benchmarks: repeated measurement, a launched app, rows."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Timing:
    median_ms: float
    p95_ms: float
    runs: int


def percentile(values: list[float], q: float) -> float:
    """The value below which a fraction `q` of `values` lie (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(fn: Callable[[], object], repeats: int = 20, warmup: int = 2) -> Timing:
    """Median and 95th percentile of `fn`'s wall time, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return Timing(statistics.median(times), percentile(times, 0.95), repeats)


def device_label() -> str:
    """Where models run in this process and in an app started from it (same environment)."""
    from shared.device import pick_device

    dev = pick_device()
    if dev.type == "cuda":
        import torch

        return f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cuda"
    return f"{dev.type} ({os.cpu_count()} cores)"


def row(what: str, value: Timing | float, *, device: str = "", goal: str = "", met: bool | None = None,
        unit: str = "ms", p95: float | None = None) -> dict:
    """One line of the table; a Timing gives median and p95, a plain number its value only."""
    if isinstance(value, Timing):
        median, p95 = value.median_ms, value.p95_ms
    else:
        median = float(value)
    return {"what": what, "device": device or device_label(), "median_ms": median,
            "p95_ms": float("nan") if p95 is None else p95, "unit": unit, "goal": goal, "met": met}


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process in MB, from /proc (Linux; NaN elsewhere)."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if ":" in line)
    except OSError:
        return float("nan"), float("nan")
    kb = [float(fields.get(k, "nan kB").split()[0]) for k in ("VmRSS", "VmHWM")]
    return kb[0] / 1024, kb[1] / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """The app running in its own process."""

    url: str
    proc: subprocess.Popen
    startup_s: float  # process start to the first answered request
    log: Path  # the app's output, kept in a file: an unread pipe fills up and stalls the app

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)[0]


@contextmanager
def launched_app(demo: str = "", timeout: float = 180.0, script: list[str] | None = None,
                 env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start `python app.py` (or `script`) in a fresh process; yield it once it answers.

    The start-up time runs from process start to the first successful `/models` call,
    which is what a visitor waits for after a Space restarts. `env` is added to this
    process's environment (offline unless it says otherwise).
    """
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "VISIONLAB_OFFLINE": "1", **(env or {})}
    if script is not None:  # another server, e.g. the Gradio floor; it takes the port as argument
        args = [sys.executable, *script, str(port)]
    else:
        args = [sys.executable, "app.py", "--port", str(port)] + (["--demo", demo] if demo else [])
    with tempfile.TemporaryDirectory(prefix="visionlab-app-") as tmp:
        log = Path(tmp) / "app.log"
        with open(log, "wb") as sink:
            t0 = time.perf_counter()
            proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{args[1]} exited early:\n{log.read_text(errors='replace')[-3000:]}")
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError(f"{args[1]} did not answer within {timeout:.0f} s")
                try:
                    Client(url, verbose=False).predict(api_name="/models")
                    break
                except Exception:
                    time.sleep(0.2)
            yield Server(url, proc, time.perf_counter() - t0, log)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
