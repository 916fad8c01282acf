"""The benchmark code runs and produces a well-formed table (no timing assertions)."""

from __future__ import annotations

import math

import torch

from benchmarks import gpu, pose, roi, system
from benchmarks.__main__ import table
from benchmarks.timing import Timing, measure, row, rss_mb


def _finite_rows(rows: list[dict]) -> None:
    for r in rows:
        assert r["what"] and r["device"], r
        assert math.isfinite(r["median_ms"]) and r["median_ms"] >= 0, r
        assert r["met"] in (None, True, False)


def test_measure_and_row():
    t = measure(lambda: sum(range(100)), repeats=3, warmup=1)
    assert isinstance(t, Timing) and t.runs == 3 and 0 <= t.median_ms <= t.p95_ms
    r = row("x", t, goal="<= 1 s", met=True)
    assert r["device"].startswith(("cpu", "cuda", "mps")) and r["unit"] == "ms"
    plain = row("memory", 12.5, unit="MB")
    assert plain["median_ms"] == 12.5 and math.isnan(plain["p95_ms"])


def test_table_format():
    rows = [row("a", Timing(1.0, 2.0, 3), goal="<= 5 ms", met=True),
            row("b", 2048.0, unit="MB", goal="<= 2500 MB", met=False), row("c", 3.0)]
    lines = table(rows).splitlines()
    assert lines[0] == "| measurement | device | median | p95 | goal | met |"
    assert len(lines) == 2 + len(rows)
    assert all(line.count("|") == 7 for line in lines)
    assert "| yes |" in lines[2] and "| **no** |" in lines[3] and "2,048 MB" in lines[3]


def test_pose_model_rows_are_finite():
    rows, timings = pose.model_rows(repeats=1)
    assert set(timings) >= {"tiny-topdown-pose", "tiny-bottomup-pose"}
    _finite_rows(rows)


def test_roi_model_rows_are_finite():
    rows, timings = roi.model_rows(repeats=1)
    assert set(timings) == {"detector", "image"} and len(rows) == 2
    _finite_rows(rows)


def test_cache_evicts_least_recently_used_within_budget():
    rows, text = system.cache_rows()
    _finite_rows(rows)
    assert rows[0]["met"] is True and rows[0]["unit"] == "MB"
    from shared.registry import specs

    first = next(s.name for s in specs() if s.tier == "bundled")  # loaded first, so used least recently
    assert f"evicted, least recently used first: {first}" in text  # some were evicted
    assert "repeated loads: 0" in text


def test_rss_reads_this_process():
    import os

    now, peak = rss_mb(os.getpid())
    if not math.isnan(now):  # /proc exists on Linux only
        assert 0 < now <= peak


def test_gpu_rows_skip_cleanly_without_cuda():
    if torch.cuda.is_available():
        return
    assert gpu.rows(repeats=1) == []


def test_gpu_rows_inputs_run_every_bundled_network_here_on_the_cpu():
    # The CUDA rows cannot run on this machine; the inputs they feed each network can.
    import app
    from shared.loading import load_model
    from shared.registry import specs

    app.build_app()  # registers every tab's models
    cpu = torch.device("cpu")
    bundled = [s for s in specs(tier="bundled") if s.demo in ("detection", "cyclegan", "pose")]
    assert len(bundled) >= 9
    for spec in bundled:
        with torch.inference_mode():
            out = gpu._inputs(spec.demo, cpu)(load_model(spec, cpu))
        assert out is not None, spec.name


def test_convolution_frontier_rows_state_the_goal_from_the_measured_points():
    from benchmarks import convolution

    rows = convolution.frontier_rows()
    _finite_rows(rows)
    assert rows and rows[0]["unit"] == "×" and rows[0]["met"] in (True, False)
    assert "within 1 AP" in rows[0]["what"] and "frontier.json" in rows[0]["what"]


def test_a_later_section_replaces_its_own_groups_only():
    from benchmarks.__main__ import later_section

    full = "# Benchmarks\n\nMeasured then.\n\n| table |\n\n## How to read it\n\nNotes.\n"
    first = later_section(full, ["page"], "Measured once.", "cmd", [row("page: a", 900.0)])
    again = later_section(first, ["page"], "Measured twice.", "cmd", [row("page: a", 800.0)])
    both = later_section(again, ["convolution"], "Measured conv.", "cmd", [row("convolution: b", 3.0)])
    assert both.startswith(full.rstrip("\n") + "\n\n## Re-measured later: page\n")
    assert "Measured once." not in both and both.count("## Re-measured later: page\n") == 1
    assert "800.0 ms" in both and "900.0 ms" not in both
    assert both.index("## Re-measured later: page") < both.index("## Re-measured later: convolution")
    assert "\n\n\n" not in both
