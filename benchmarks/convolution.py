"""The convolution tab: compression time at the defaults, `/compress` and `/convolution` end to
end against their floors, and the detector's measured size/accuracy frontier."""

from __future__ import annotations

import time

from benchmarks.timing import ROOT, measure, row
from demos.convolution import pipeline, sweep

SCENE = ROOT / "examples" / "detection" / "scene_1000011.png"
GOAL_S = 10.0  # compressing the default model at the defaults, fine-tuning off
GOAL_RATIO = 1.3  # cached defaults end to end / floor
GOAL_SMALLER, GOAL_AP = 20.0, 0.01  # the detector: >= 20x smaller at <= 1 AP point lost


def model_rows(repeats: int) -> list[dict]:
    """`pipeline.run` at the defaults: the first (also measures the original once) and later runs."""
    t0 = time.perf_counter()
    first = pipeline.run(**pipeline.DEFAULTS)
    cold = time.perf_counter() - t0
    warm = measure(lambda: pipeline.run(**pipeline.DEFAULTS), repeats=max(2, repeats // 5), warmup=0)
    stages = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in first.seconds.items() if k != "total")
    settings = f"k={first.settings['k']}, sparsity {first.settings['sparsity']:g}, Huffman"
    return [
        row(f"convolution: compress {first.settings['model']} at the defaults ({settings}; fine-tuning off), "
            f"first run incl. measuring the original ({stages})", cold * 1000,
            goal=f"<= {GOAL_S:.0f} s", met=cold <= GOAL_S),
        row("convolution: the same, later runs (the original's AP is kept)", warm,
            goal=f"<= {GOAL_S:.0f} s", met=warm.median_ms <= GOAL_S * 1000),
        row("convolution: the kernel-size and channel sweep (all five methods, measured once per process)",
            sweep.sweep().seconds * 1000),
    ]


def end_to_end_rows(client, floor_client, repeats: int) -> list[dict]:
    """`/compress` with the defaults once they are kept, and `/convolution` at the defaults."""
    from gradio_client import handle_file

    settings = dict(model=pipeline.DEFAULTS["model"], k=pipeline.DEFAULTS["k"],
                    sparsity=pipeline.DEFAULTS["sparsity"], init=pipeline.DEFAULTS["init"], fine_tune_steps=0,
                    huffman=pipeline.DEFAULTS["huffman"])
    client.predict(**settings, api_name="/compress")  # computes (or finds) the defaults
    cached = measure(lambda: client.predict(**settings, api_name="/compress"), repeats=repeats)
    floor = measure(lambda: floor_client.predict(**settings, api_name="/echo_compress"), repeats=repeats)
    ratio = cached.median_ms / floor.median_ms
    path = handle_file(str(SCENE))
    conv = measure(lambda: client.predict(image=path, api_name="/convolution"), repeats=repeats)
    return [
        row("floor for /compress: 6 settings in, text + 2 pictures + table + 2 prebuilt plots + a 300 KB "
            "file + JSON out", floor),
        row(f"convolution: /compress end to end, defaults kept from an earlier call (ratio to floor "
            f"{ratio:.2f})", cached, goal=f"ratio <= {GOAL_RATIO}", met=ratio <= GOAL_RATIO),
        row("convolution: /convolution end to end, 32 px scene, 3x3, five methods timed in the call", conv),
    ]


def frontier_rows() -> list[dict]:
    """From demos/convolution/frontier.json (`python -m demos.convolution.frontier`; too slow to rerun
    here: the fine-tuned points take minutes each)."""
    record = pipeline.frontier()
    points = [p for p in record.get("points", []) if p["model"] == pipeline.DEFAULTS["model"]]
    if not points:
        return []
    within = [p for p in points if p["change"] >= -GOAL_AP and p.get("agnostic_change", 0) >= -GOAL_AP]
    best = max(within, key=lambda p: p["ratio"]) if within else None
    far = [p for p in points if p["ratio"] >= GOAL_SMALLER]
    least = max(far, key=lambda p: p["change"]) if far else None
    met = bool(best and best["ratio"] >= GOAL_SMALLER)
    source = f"frontier.json, {record.get('date', '?')}, {len(points)} points"
    rows = []
    if best:
        rows.append(row(f"convolution: detector, smallest file within 1 AP (class-aware and -agnostic): "
                        f"k={best['k']}, sparsity {best['sparsity']:g}, {best['fine_tune_steps']} "
                        f"fine-tuning steps, AP change {best['change']:+.3f} ({source})", best["ratio"],
                        unit="×", goal=f">= {GOAL_SMALLER:.0f}× at <= 1 AP lost", met=met))
    if least:
        rows.append(row(f"convolution: detector, best AP at >= {GOAL_SMALLER:.0f}×: k={least['k']}, "
                        f"sparsity {least['sparsity']:g}, {least['fine_tune_steps']} steps, AP change "
                        f"{least['change']:+.3f} ({source})", least["ratio"], unit="×"))
    return rows

