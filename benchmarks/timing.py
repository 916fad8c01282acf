"""Timing helpers shared by the benchmarks: repeated measurement and a launched app."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
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


def measure(fn: Callable[[], object], repeats: int = 20, warmup: int = 2) -> Timing:
    """Median and 95th percentile of `fn`'s wall time, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return Timing(statistics.median(times), p95, repeats)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def launched_app(demo: str = "", timeout: float = 180.0, script: list[str] | None = None,
                 ) -> Iterator[tuple[str, float]]:
    """Start `python app.py` in a fresh process; yield (url, seconds until it answered).

    The start-up time runs from process start to the first successful `/models` call,
    which is what a visitor waits for after a Space restarts.
    """
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "VISIONLAB_OFFLINE": "1"}
    if script is not None:  # another server, e.g. the Gradio floor; it takes the port as argument
        args = [sys.executable, *script, str(port)]
    else:
        args = [sys.executable, "app.py", "--port", str(port)] + (["--demo", demo] if demo else [])
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[1]} exited early:\n{proc.stderr.read().decode()[-2000:]}")
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"app.py did not answer within {timeout:.0f} s")
            try:
                Client(url, verbose=False).predict(api_name="/models")
                break
            except Exception:
                time.sleep(0.2)
        yield url, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
