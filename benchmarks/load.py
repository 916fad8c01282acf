"""Load test: the real app in its own process, driven by concurrent gradio_client clients.

    python -m benchmarks.load [--clients 16] [--seconds 60] [--out LOAD.md]

Every client calls every public endpoint in turn (each starting at a different one, so
all endpoints are in flight at once) until the time is up. Reported: requests and
failures, p50 / p95 latency per endpoint as the client sees it (queue wait included),
and the app process's resident memory (VmRSS) after a warm-up pass over every endpoint
and again after the load. Goals: no failed request; memory growth under 10 %.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.timing import ROOT, Server, launched_app, percentile

EXAMPLES = ROOT / "examples"
MEMORY_GROWTH_LIMIT = 0.10


# ---------------------------------------------------------------- the requests


def _files(folder: str, pattern: str) -> list[str]:
    found = sorted(str(p) for p in (EXAMPLES / folder).glob(pattern))
    if not found:
        raise FileNotFoundError(f"no example images matching examples/{folder}/{pattern}")
    return found


def request_mix() -> list[tuple[str, Callable[..., object]]]:
    """(endpoint, call(client, i)) for every public endpoint; `i` varies the input."""
    from gradio_client import handle_file

    scenes = _files("detection", "scene_*.png")
    textures = _files("cyclegan", "texture_*.png")
    people = [p for p in _files("pose", "scene_*.png") if "0people" not in p]
    surfaces = ["Rosenbrock", "Beale", "Himmelblau"]
    pick = lambda seq, i: seq[i % len(seq)]  # noqa: E731

    return [
        ("/optimize", lambda c, i: c.predict(
            surface=pick(surfaces, i), optimizers=["SGD", "Momentum", "Nesterov", "RMSprop", "Adam"],
            lr=0.001, steps=500, x0=-1.5, y0=2.0, api_name="/optimize")),
        ("/step_view", lambda c, i: c.predict(
            surface="Rosenbrock", optimizer="Adam", step=1 + i % 50, lr=0.01, api_name="/step_view")),
        ("/batch_modes", lambda c, i: c.predict(
            model=pick(["linear", "logistic"], i), n_samples=256, batch_size=32, epochs=20, lr=0.05,
            api_name="/batch_modes")),
        ("/detect", lambda c, i: c.predict(
            image=handle_file(pick(scenes, i)),
            models=["tiny-retinanet-focal", "tiny-retinanet-ce", "tiny-retinanet-ohem"],
            score_threshold=0.3, api_name="/detect")),
        ("/loss_anatomy", lambda c, i: c.predict(
            image=handle_file(pick(scenes, i)), model="tiny-retinanet-focal", gamma=2.0,
            api_name="/loss_anatomy")),
        ("/translate", lambda c, i: c.predict(
            image=handle_file(pick(textures, i)), model="cyclegan-plain2striped",
            direction="A→B" if "_a_" in pick(textures, i) else "B→A", api_name="/translate")),
        ("/pose", lambda c, i: c.predict(
            image=handle_file(pick(people, i)), methods=["tiny-topdown-pose", "tiny-bottomup-pose"],
            keypoint_threshold=0.2, person_threshold=0.2, api_name="/pose")),
        ("/models", lambda c, i: c.predict(api_name="/models")),
    ]


# ---------------------------------------------------------------- the run


@dataclass
class Result:
    clients: int
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)  # endpoint -> seconds
    failures: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, error)
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    startup_s: float = 0.0
    wall_s: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + len(self.failures)

    @property
    def memory_growth(self) -> float:
        return self.rss_after_mb / self.rss_before_mb - 1


def _client(url: str):
    from gradio_client import Client

    # Each visitor is its own session, with its own download folder for the pictures.
    return Client(url, verbose=False, download_files=tempfile.mkdtemp(prefix="visionlab-load-"))


def warm_up(url: str, clients: int) -> None:
    """Every client calls every endpoint once, together: every model is loaded, every
    worker thread and code path has run, before the first memory reading."""
    mix = request_mix()
    errors: list[str] = []

    def one(k: int) -> None:
        c = _client(url)
        for j in range(len(mix)):
            endpoint, call = mix[(k + j) % len(mix)]
            try:
                call(c, k)
            except Exception as exc:
                errors.append(f"{endpoint}: {exc}")

    threads = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("warm-up failed: " + "; ".join(errors[:5]))


def drive(url: str, clients: int, seconds: float, result: Result) -> None:
    """`clients` threads, each a gradio_client session, calling endpoints in turn until time is up."""
    mix = request_mix()
    for endpoint, _ in mix:
        result.latencies.setdefault(endpoint, [])
    lock = threading.Lock()
    deadline = [0.0]

    def set_deadline() -> None:  # runs once all have arrived, before any is released
        deadline[0] = time.perf_counter() + seconds

    start = threading.Barrier(clients + 1, action=set_deadline)

    def visitor(k: int) -> None:
        c = _client(url)
        start.wait()
        j = 0
        while time.perf_counter() < deadline[0]:
            endpoint, call = mix[(k + j) % len(mix)]
            t0 = time.perf_counter()
            try:
                call(c, k + j)
                with lock:
                    result.latencies[endpoint].append(time.perf_counter() - t0)
            except Exception as exc:
                with lock:
                    result.failures.append((endpoint, f"{type(exc).__name__}: {exc}"[:300]))
            j += 1

    threads = [threading.Thread(target=visitor, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = deadline[0] - seconds
    for t in threads:
        t.join()
    result.wall_s = time.perf_counter() - t0


def run(clients: int = 16, seconds: float = 60.0, server: Server | None = None) -> Result:
    """The whole test: launch (unless given a server), warm up, measure memory, load, measure."""
    if server is None:
        with launched_app() as launched:
            return run(clients, seconds, launched)
    result = Result(clients, seconds, startup_s=server.startup_s)
    warm_up(server.url, clients)
    time.sleep(1.0)
    result.rss_before_mb = server.rss_mb()
    drive(server.url, clients, seconds, result)
    time.sleep(1.0)  # let the last responses' buffers go
    result.rss_after_mb = server.rss_mb()
    return result


# ---------------------------------------------------------------- the report


def table(result: Result) -> str:
    lines = [
        "| endpoint | requests | failed | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    failed_by: dict[str, int] = {}
    for endpoint, _ in result.failures:
        failed_by[endpoint] = failed_by.get(endpoint, 0) + 1
    for endpoint, times in result.latencies.items():
        ms = [t * 1000 for t in times]
        cells = (f"{statistics.median(ms):,.0f} | {percentile(ms, 0.95):,.0f} | {max(ms):,.0f}"
                 if ms else "— | — | —")
        lines.append(f"| `{endpoint}` | {len(ms)} | {failed_by.get(endpoint, 0)} | {cells} |")
    ok = result.requests - len(result.failures)
    lines.append(f"| all | {result.requests} | {len(result.failures)} | | | |")
    summary = (
        f"{result.clients} clients for {result.seconds:.0f} s: {result.requests} requests "
        f"({ok / result.wall_s:.1f} answered per second), {len(result.failures)} failed. "
        f"App resident memory (VmRSS) {result.rss_before_mb:,.0f} MB after warm-up, "
        f"{result.rss_after_mb:,.0f} MB after the load ({result.memory_growth:+.1%}; goal < "
        f"{MEMORY_GROWTH_LIMIT:.0%}). App start to first answer: {result.startup_s:.1f} s."
    )
    return "\n".join(lines) + "\n\n" + summary


def report(result: Result) -> str:
    from shared import device, settings

    header = (
        "# Load test\n\n"
        "`python -m benchmarks.load` launches `python app.py` in its own process and drives it with "
        "concurrent `gradio_client` clients, each calling every public endpoint in turn (latency as "
        "the client sees it: upload, queue wait, compute, download of the pictures). The load "
        "generator runs on the same machine as the app, so it takes a share of the same cores.\n\n"
        f"Machine: {device.describe()}, {time.strftime('%Y-%m-%d')}.\n"
        + f"Model pool size (VISIONLAB_MODEL_CONCURRENCY): {settings.MODEL_CONCURRENCY}.\n"
    )
    failures = ""
    if result.failures:
        failures = "\n\nFailures (first 10):\n\n" + "\n".join(
            f"- `{e}`: {msg}" for e, msg in result.failures[:10])
    return header + "\n" + table(result) + failures + "\n"


def main(argv: list[str] | None = None) -> Result:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--out", default=str(ROOT / "LOAD.md"), help="write the report here ('' for none)")
    args = p.parse_args(argv)
    result = run(args.clients, args.seconds)
    text = report(result)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if result.failures or result.memory_growth >= MEMORY_GROWTH_LIMIT:
        raise SystemExit(1)
    return result


if __name__ == "__main__":
    main()
