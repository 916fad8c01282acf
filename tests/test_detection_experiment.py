"""The focal-loss sweep: the imbalance knob, the AP bootstrap, the interval, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from demos.detection.evaluate import evaluate, val_predictions
from demos.detection.experiment import imbalance_of_level
from demos.detection.model import load_checkpoint
from demos.detection.registry import SWEEP_SHOWN, sweep_file, sweep_name
from demos.detection.stats import ap_replicates, bootstrap_weights, class_agnostic, interval

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "demos" / "detection" / "results"


@pytest.mark.parametrize(("objects", "low", "high"), [(8, 180, 300), (1, 1300, 2400)])
def test_objects_per_scene_set_the_foreground_background_ratio(objects: int, low: float, high: float) -> None:
    stats = imbalance_of_level(objects, n=60)
    assert low <= stats["bg_per_fg_anchor"] <= high
    # Per binary term (anchor x class) it is about K = 5 times the per-anchor ratio.
    assert stats["bg_per_fg_term"] == pytest.approx(5 * stats["bg_per_fg_anchor"], rel=0.01)
    # The recorded level table was measured the same way, on more scenes.
    recorded = {row["objects"]: row for row in json.loads((RESULTS / "levels.json").read_text())}
    assert stats["bg_per_fg_anchor"] == pytest.approx(recorded[objects]["bg_per_fg_anchor"], rel=0.3)


def test_fewer_objects_mean_more_background_per_object() -> None:
    ratios = [imbalance_of_level(k, n=30)["bg_per_fg_anchor"] for k in (8, 4, 2, 1)]
    assert ratios == sorted(ratios)


def _bundled_predictions(n: int = 48) -> tuple[list[dict], list[dict], torch.nn.Module]:
    model = load_checkpoint(ROOT / "checkpoints" / "detection_focal.safetensors")
    return (*val_predictions(model, n), model)


def test_bootstrap_ap_at_unit_weights_is_pycocotools_ap() -> None:
    detections, truths, model = _bundled_predictions()
    reps = ap_replicates(detections, truths, 5, bootstrap_weights(48, 50))
    reference = evaluate(model, n=48)  # torchmetrics with the pycocotools backend
    assert reps["AP"][0] == pytest.approx(reference["AP"], abs=6e-4)
    assert reps["AP50"][0] == pytest.approx(reference["AP50"], abs=6e-4)
    assert reps["AP75"][0] == pytest.approx(reference["AP75"], abs=6e-4)
    # Resampled scenes move the AP around its value, not away from it.
    assert 0.005 < reps["AP"][1:].std() < 0.1
    assert abs(np.median(reps["AP"][1:]) - reps["AP"][0]) < 0.03
    # A scene counted twice is the same as the scene listed twice.
    doubled = ap_replicates(detections + detections[:1], truths + truths[:1], 5, np.ones((1, 49)))
    weights = np.ones((1, 48))
    weights[0, 0] = 2
    assert ap_replicates(detections, truths, 5, weights)["AP"][0] == pytest.approx(doubled["AP"][0])


def test_class_agnostic_ap_ignores_the_label_and_merges_double_labels() -> None:
    truth = [{"boxes": np.array([[10, 10, 50, 50], [100, 100, 140, 140]], dtype=np.float32),
              "labels": np.array([2, 1])}]
    # Object A found twice, first under the wrong class (1); object B found with its class.
    dets = [{"boxes": np.array([[10, 10, 50, 50], [11, 10, 50, 51], [100, 100, 140, 141]], dtype=np.float32),
             "scores": np.array([0.9, 0.8, 0.7], dtype=np.float32), "labels": np.array([1, 2, 1])}]
    # Class 1: a false positive ranked above its true positive -> AP 0.5; class 2: AP 1.
    assert ap_replicates(dets, truth, 5, np.ones((1, 1)))["AP"][0] == pytest.approx(0.75)
    d, t = class_agnostic(dets, truth)
    assert len(d[0]["scores"]) == 2 and t[0]["labels"].tolist() == [0, 0]
    assert ap_replicates(d, t, 1, np.ones((1, 1)))["AP"][0] == pytest.approx(1.0)


def test_interval_covers_the_true_mean_at_its_nominal_rate() -> None:
    # Known answer: seed effects ~ N(0, 0.02²), a shared scene effect ~ N(0, 0.01²);
    # the true mean is 0.5. A 95 % interval should cover it in about 95 % of experiments.
    rng = np.random.default_rng(0)
    covered, widths = 0, []
    trials = 400
    for _ in range(trials):
        seeds = 0.5 + rng.normal(0, 0.02, 3)
        scene_shift = rng.normal(0, 0.01)
        points = list(seeds + scene_shift)
        # Every seed is scored on the same resampled scenes: one shared bootstrap noise.
        shared = rng.normal(0, 0.01, 500)
        replicates = [p + shared for p in points]
        ci = interval(points, replicates)
        covered += ci["low"] <= 0.5 <= ci["high"]
        widths.append(ci["high"] - ci["low"])
    assert 0.9 <= covered / trials <= 0.99
    # Width: t(≈2 df) × sqrt(0.02²/3 + 0.01²) ≈ 2 × 4.3 × 0.0153, on average.
    assert 0.05 < float(np.mean(widths)) < 0.2
    # One seed: only the scene noise is left, with a normal quantile.
    single = interval([0.4], [0.4 + rng.normal(0, 0.01, 2000)])
    assert single["high"] - single["low"] == pytest.approx(2 * 1.96 * 0.01, rel=0.1)


def _sweep(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"VISIONLAB_SCENE_CACHE": str(tmp_path / "cache"), "VISIONLAB_SCENE_CHUNK": "16"}
    return subprocess.run([sys.executable, "-m", "demos.detection.sweep", "--results", str(tmp_path / "res"),
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_smoke_sweep_writes_results_the_report_reads_and_a_rerun_skips(tmp_path: Path) -> None:
    plan = ["--arms", "focal,ohem", "--levels", "2", "--seeds", "0", "--steps", "4", "--eval-n", "8",
            "--lr", "0.01"]
    done = _sweep(tmp_path, *plan)
    assert done.returncode == 0, done.stderr[-2000:]
    files = sorted(p.name for p in (tmp_path / "res").glob("*-s0-*.json"))
    assert files == ["focal-obj2-s0-lr0.01-st4.json", "ohem-obj2-s0-lr0.01-st4.json"]
    record = json.loads((tmp_path / "res" / files[0]).read_text())
    assert len(record["metrics"]["agnostic"]["bootstrap_AP"]) == 1000
    assert record["config"]["arm_params"] == {"gamma": 2.0, "alpha": 0.25}
    mtimes = {p: p.stat().st_mtime for p in (tmp_path / "res").glob("*-s0-*.json")}
    again = _sweep(tmp_path, *plan)
    assert again.returncode == 0
    assert {p: p.stat().st_mtime for p in mtimes} == mtimes  # nothing trained again
    summary = json.loads((tmp_path / "res" / "summary.json").read_text())
    assert {(c["arm"], c["objects"]) for c in summary["cells"]} == {("focal", 2), ("ohem", 2)}
    # A corrupted results file is reported, skipped, and the others survive.
    (tmp_path / "res" / files[1]).write_text('{"config": {"run_id"')
    report = subprocess.run([sys.executable, "-m", "demos.detection.report", "--results",
                             str(tmp_path / "res")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0
    assert f"{files[1]} is not a readable run file" in report.stderr
    assert "focal" in report.stdout
    dry = _sweep(tmp_path, *plan, "--dry-run")
    assert "1 of 2 runs done" in dry.stdout and "to do ohem-obj2" in dry.stdout


def test_sweep_refuses_an_unknown_arm_in_plain_words(tmp_path: Path) -> None:
    result = _sweep(tmp_path, "--arms", "focal,softmax", "--lr", "0.01", "--dry-run")
    assert result.returncode == 2
    assert "Unknown arm 'softmax'" in result.stderr and "Traceback" not in result.stderr


# The sweep's models shipped so far (python -m demos.detection.bundle): each is checked against its run.
SHIPPED = [(arm, n) for arm, n in SWEEP_SHOWN if (ROOT / "checkpoints" / sweep_file(arm, n)).exists()]


@pytest.mark.parametrize(("arm", "objects"), SHIPPED)
def test_a_shipped_sweep_model_is_its_run_and_finds_objects(arm: str, objects: int) -> None:
    from demos.detection.inference import detect
    from shared.loading import read_metadata

    meta = read_metadata(ROOT / "checkpoints" / sweep_file(arm, objects))
    run = json.loads(meta["run"])
    record = json.loads((RESULTS / f"{run['run_id']}.json").read_text())
    assert float(meta["val_ap"]) == pytest.approx(record["metrics"]["aware"]["AP"])
    assert float(meta["agnostic_ap"]) == pytest.approx(record["metrics"]["agnostic"]["AP"])
    # A real detector, not a blank one: on val scenes of its level (100-119, outside nothing it
    # was tuned on), its best box lies on the object in most scenes where it reports one.
    import torch
    from torchvision.ops import box_iou

    from demos.detection.data import make_scene, split_seed

    hits = 0
    for i in range(100, 120):
        image, boxes, _ = make_scene(split_seed("val", i), objects)
        found = detect(sweep_name(arm, objects), image, score_threshold=0.0)
        if found.boxes:
            best = max(range(len(found.scores)), key=found.scores.__getitem__)
            hits += float(box_iou(torch.tensor([found.boxes[best]]), boxes).max()) >= 0.5
    assert hits >= 10
