"""The app as a whole: start-up, resident memory, the loader's budget, threads under load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks.timing import ROOT, Timing, launched_app, measure, row, rss_mb
from shared.loading import ModelCache, module_bytes
from shared.registry import specs

GOAL_START_S = 15.0  # process start to first answered request
GOAL_RSS_MB = 2500.0  # the app process after every tab has served every bundled model

DETECTION = ROOT / "examples" / "detection" / "scene_1000011.png"
CYCLEGAN = ROOT / "examples" / "cyclegan" / "texture_a_90.png"
POSE = next((ROOT / "examples" / "pose").glob("scene_*_4people.png"))


def bundled(demo: str) -> list[str]:
    return [s.name for s in specs() if s.demo == demo and s.tier == "bundled"]


def warm_every_tab(client) -> int:
    """Call every endpoint once with every bundled model, as visitors would; returns the calls."""
    from gradio_client import handle_file

    calls = [
        lambda: client.predict(image=handle_file(str(DETECTION)), models=bundled("detection"),
                               score_threshold=0.3, api_name="/detect"),
        *[lambda m=m: client.predict(image=handle_file(str(DETECTION)), model=m, gamma=2.0,
                                     api_name="/loss_anatomy") for m in bundled("detection")],
        *[lambda m=m: client.predict(image=handle_file(str(CYCLEGAN)), model=m, direction="A→B",
                                     api_name="/translate") for m in bundled("cyclegan")],
        lambda: client.predict(image=handle_file(str(POSE)), methods=bundled("pose"), keypoint_threshold=0.2,
                               person_threshold=0.2, api_name="/pose"),
        lambda: client.predict(surface="Rosenbrock", optimizers=["SGD", "Momentum", "Adam"], lr=0.001,
                               steps=500, x0=-1.5, y0=2.0, api_name="/optimize"),
        lambda: client.predict(model="linear", n_samples=256, batch_size=32, epochs=20, lr=0.05,
                               api_name="/batch_modes"),
        lambda: client.predict(api_name="/models"),
    ]
    for call in calls:
        call()
    return len(calls)


def memory_rows(client, pid: int) -> list[dict]:
    calls = warm_every_tab(client)
    now, peak = rss_mb(pid)
    return [
        row(f"app: resident memory (VmRSS) after {calls} calls warming every tab and bundled model",
            now, unit="MB", goal=f"<= {GOAL_RSS_MB:.0f} MB", met=now <= GOAL_RSS_MB),
        row("app: peak resident memory (VmHWM) over the same", peak, unit="MB"),
    ]


def cache_rows() -> tuple[list[dict], str]:
    """Every bundled model through a ModelCache that holds only about half of them."""
    names = [s.name for s in specs() if s.tier == "bundled"]
    sizes = {}
    for name in names:  # sizes as the cache counts them: parameters and buffers
        probe = ModelCache(budget_bytes=1 << 40)
        sizes[name] = module_bytes(probe.get(name))
    budget = max(sum(sizes.values()) // 2, max(sizes.values()))
    cache = ModelCache(budget)
    evicted: list[str] = []
    for name in names:
        before = cache.loaded()  # least recently used first
        cache.get(name)
        evicted += [n for n in before if n not in cache.loaded()]
    cache.get(cache.loaded()[-1])  # the most recent model again: served from memory, not reloaded
    reloads = sum(n - 1 for n in cache.loads.values())
    used = cache.used_bytes()
    mb = 2**20
    text = (f"{len(names)} bundled models, {sum(sizes.values()) / mb:.1f} MB in all, loaded in registry "
            f"order into a cache with a budget of {budget / mb:.1f} MB: {used / mb:.1f} MB used, "
            f"{len(cache.loaded())} kept ({', '.join(cache.loaded())}); evicted, least recently used "
            f"first: {', '.join(evicted) or 'none'}; repeated loads: {reloads}.")
    rows = [row(f"loader: {len(names)} bundled models through an LRU cache of {budget / mb:.1f} MB, "
                f"used; {len(evicted)} evicted", used / mb, unit="MB", device="cpu",
                goal="<= budget", met=used <= budget)]
    return rows, text


_PHASES = """
import json, time
t0 = time.perf_counter()
import app
t1 = time.perf_counter()
import importlib
for _, module in app.DEMOS.values():
    importlib.import_module(module)
t2 = time.perf_counter()
app.build_app()
t3 = time.perf_counter()
from shared.loading import CACHE
print(json.dumps({"import": t1 - t0, "tabs": t2 - t1, "build": t3 - t2, "loaded": CACHE.loaded()}))
"""


def start_rows(startup_s: float) -> list[dict]:
    """Process start to first answer, and where it goes: imports, tab modules, building."""
    out = subprocess.run([sys.executable, "-c", _PHASES], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={**os.environ, "VISIONLAB_OFFLINE": "1",
                                          "GRADIO_ANALYTICS_ENABLED": "False"}).stdout
    phases = json.loads(out.strip().splitlines()[-1])
    return [
        row("app: process start to first answered request", startup_s * 1000, unit="ms",
            goal=f"<= {GOAL_START_S:.0f} s", met=startup_s <= GOAL_START_S),
        row("app start: import app (gradio, torch, torchvision, shared)", phases["import"] * 1000),
        row("app start: import the four tab modules (registries, checkpoint metadata)",
            phases["tabs"] * 1000),
        row(f"app start: build the Blocks (models loaded at build: {len(phases['loaded'])})",
            phases["build"] * 1000),
    ]


def _pair(client_a, client_b, call) -> float:
    """Wall time of two requests sent at the same moment, in ms (the slower one's)."""
    with ThreadPoolExecutor(2) as pool:
        t0 = time.perf_counter()
        list(pool.map(call, (client_a, client_b)))
        return (time.perf_counter() - t0) * 1000


def thread_rows(repeats: int) -> list[dict]:
    """/detect alone and two at once, under three settings of torch's threads.

    Each setting is a fresh app that lets two model calls run at once
    (VISIONLAB_MODEL_CONCURRENCY=2), so the two requests really compete for the cores;
    threads per call (VISIONLAB_TORCH_THREADS) and OpenMP's wait policy are read at
    start-up. ACTIVE is libgomp's default (spinning waiters); PASSIVE is the app's.
    """
    from gradio_client import Client, handle_file

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    path = handle_file(str(DETECTION))
    rows = []
    configs = [(cores, "ACTIVE", "all cores each, spinning waiters (torch's default)"),
               (cores, "PASSIVE", "all cores each, sleeping waiters (the app's default)"),
               (max(1, cores // 2), "PASSIVE", "cores / 2 each, sleeping waiters")]
    for threads, policy, label in configs:
        env = {"VISIONLAB_MODEL_CONCURRENCY": "2", "VISIONLAB_TORCH_THREADS": str(threads),
               "OMP_WAIT_POLICY": policy}
        with launched_app(env=env) as app:
            a, b = Client(app.url, verbose=False), Client(app.url, verbose=False)

            def call(c):
                return c.predict(image=path, models=bundled("detection"), score_threshold=0.3,
                                 api_name="/detect")

            alone = measure(lambda a=a: call(a), repeats=repeats)
            times = sorted(_pair(a, b, call) for _ in range(max(3, repeats)))
            both = Timing(times[len(times) // 2], times[-1], len(times))
        what = f"threads: /detect (3 bundled models) {{}}; {threads} thread(s) per call, {label}"
        rows.append(row(what.format("alone"), alone))
        rows.append(row(what.format("two at once"), both))
    return rows
