"""Pose scenes in random drawing styles: determinism, the style space, the held-out styles, the goals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from demos.pose import bottomup, topdown
from demos.pose.data import NUM_KEYPOINTS
from demos.pose.goals import measure, pck_counts
from demos.pose.styles import HELDOUT_STYLES, TRAIN_STYLES, make_styled_scene, styled_ground_truth
from demos.pose.train import main as train_main
from shared import loading


def test_styled_scenes_are_a_pure_function_of_split_and_index():
    one, people_one, style_one = make_styled_scene("train", 11)
    two, people_two, style_two = make_styled_scene("train", 11)
    assert one.size == (256, 256) and one.tobytes() == two.tobytes()
    assert json.dumps(style_one) == json.dumps(style_two)
    for p, q in zip(people_one, people_two, strict=True):
        np.testing.assert_array_equal(p["keypoints"], q["keypoints"])
    other, _, style_other = make_styled_scene("train", 12)
    assert other.tobytes() != one.tobytes() and json.dumps(style_other) != json.dumps(style_one)
    # The same index in another split is another scene: val never repeats a train scene.
    assert make_styled_scene("val", 11)[0].tobytes() != one.tobytes()


def test_training_styles_vary_on_every_axis():
    records = [make_styled_scene("train", i)[2] for i in range(40)]
    people = [p for r in records for p in r["people"]]
    widths, heads = [p["limb_width"] for p in people], [p["head_size"] for p in people]
    assert min(widths) < 0.7 and max(widths) > 1.3 and min(heads) < 0.9 and max(heads) > 1.2
    assert {p["fill"] for p in people} == set(TRAIN_STYLES.fills)
    assert {p["contour"] for p in people} == {True, False}
    assert len({r["background"] for r in records}) >= 4
    heights = [h for r in records for h in r["heights"]]
    assert 40 <= min(heights) < 60 and 150 < max(heights) <= 220


def test_held_out_styles_lie_outside_the_training_ones():
    assert TRAIN_STYLES.limb_width[1] < HELDOUT_STYLES.limb_width[0]
    assert TRAIN_STYLES.head_size[1] < HELDOUT_STYLES.head_size[0]
    assert not set(TRAIN_STYLES.fills) & set(HELDOUT_STYLES.fills)
    assert not set(TRAIN_STYLES.backgrounds) & set(HELDOUT_STYLES.backgrounds)
    for i in range(12):
        record = make_styled_scene("heldout_style", i)[2]
        assert record["background"] in HELDOUT_STYLES.backgrounds
        for p in record["people"]:
            assert p["limb_width"] >= 1.7 and p["head_size"] >= 1.5 and p["fill"] in HELDOUT_STYLES.fills


def test_annotations_of_styled_and_empty_scenes():
    gt = styled_ground_truth("val", 8)
    assert len(gt["images"]) == 8 and gt["annotations"]
    flags = set()
    for ann in gt["annotations"]:
        kps = np.array(ann["keypoints"]).reshape(NUM_KEYPOINTS, 3)  # (17*3,) -> (17, 3)
        flags |= set(kps[:, 2].tolist())
        labelled = kps[kps[:, 2] > 0]
        assert ((labelled[:, :2] >= 0) & (labelled[:, :2] <= 256)).all()
        assert ann["area"] > 0 and ann["num_keypoints"] == int((kps[:, 2] > 0).sum())
    assert {1.0, 2.0} <= flags  # occluded and visible keypoints both occur
    for i in range(4):
        assert make_styled_scene("empty", i)[1] == []


def test_pck_counts_on_constructed_predictions():
    _, people, _ = make_styled_scene("val", 3)
    exact = [p["keypoints"].copy() for p in people]
    for k in exact:
        k[:, 2] = np.where(k[:, 2] > 0, 0.9, 0.0)  # found with a score wherever labelled
    correct, total = pck_counts(exact[::-1], people)  # the order of the found people does not matter
    assert total > 0 and correct == total
    far = [k + np.array([80.0, 80.0, 0.0]) for k in exact]
    assert pck_counts(far, people) == (0, total)
    assert pck_counts([], people) == (0, total)


def test_goals_measure_the_bundled_top_down_model():
    try:
        m = measure(loading.get_model("tiny-topdown-pose"), n=3, empty=2, heldout=2, plain_n=0)
    finally:
        loading.CACHE.clear()
    for key in ("ap_styled", "count_right", "empty_nobody", "pck_heldout"):
        assert 0 <= m[key] <= 1
    assert sum(row["scenes"] for row in m["by_crowd"].values()) == 3


def test_styled_training_smoke_runs_resumes_and_records_its_input_size(tmp_path: Path):
    common = ["--model", "bottomup", "--data", "styled", "--input-size", "256", "--batch-size", "2",
              "--out", str(tmp_path), "--state-dir", str(tmp_path / "state"), "--eval-n", "0",
              "--threads", "1", "--warmup", "1"]
    assert train_main([*common, "--steps", "2"])["steps"] == 2
    assert (tmp_path / "state" / "pose_bottomup_styled_state.json").is_file()
    meta = train_main([*common, "--steps", "3", "--resume"])
    assert meta["steps"] == 3 and meta["input_size"] == 256
    assert [point["step"] for point in meta["curve"]] == [2, 3]  # one point per save, kept across the resume
    with safe_open(str(tmp_path / "pose_bottomup.safetensors"), framework="pt") as f:
        training = json.loads(f.metadata()["training"])
        state = {k: f.get_tensor(k) for k in f.keys()}
    assert training["data"] == "styled" and training["input_size"] == 256
    pose = bottomup.BottomUpPose(training["input_size"]).eval()
    pose.load_state_dict(state)
    out = pose(torch.rand(3, 256, 256))
    assert out["heatmaps"].shape == (NUM_KEYPOINTS, 64, 64)  # 256 px in, stride 4


@pytest.mark.parametrize("model", ["detector", "topdown"])
def test_styled_batches_for_the_top_down_models(model: str, tmp_path: Path):
    common = ["--model", model, "--data", "styled", "--batch-size", "2", "--out", str(tmp_path),
              "--state-dir", str(tmp_path / "state"), "--eval-n", "0", "--threads", "1", "--warmup", "1",
              "--no-export"]
    meta = train_main([*common, "--steps", "1"])
    assert meta["steps"] == 1 and meta["data"] == "styled"
    assert np.isfinite([v for k, v in meta["curve"][0].items() if k not in ("step",)]).all()


# ---------------------------------------------------------------- calibration (the count's settings)


def _person(score: float) -> tuple[np.ndarray, float]:
    keypoints = np.zeros((NUM_KEYPOINTS, 3))
    keypoints[:, 2] = 0.9  # every keypoint confident
    return keypoints, score


def test_count_table_counts_people_at_each_threshold() -> None:
    from demos.pose.calibrate import PERSON_THRESHOLDS, count_table

    # Scene 1: two people, both must be found; found at scores 0.9 and 0.25.
    # Scene 2: one person who may be missed (must 0); found at 0.15, plus a 0.35 duplicate.
    val_raw = [({0.5: [_person(0.9), _person(0.25)]}, 2, 2),
               ({0.5: [_person(0.15), _person(0.35)]}, 0, 1)]
    empty_raw = [{0.5: [_person(0.22)]}, {0.5: []}]
    rows = {r["person_threshold"]: r for r in count_table(val_raw, empty_raw)}
    assert set(rows) == set(PERSON_THRESHOLDS)
    # 0.1: scene 1 right (2), scene 2 wrong (2 > 1); one empty scene has someone.
    assert rows[0.1]["count_right"] == 0.5 and rows[0.1]["mean_count_error"] == 0.5
    assert rows[0.1]["empty_nobody"] == 0.5
    # 0.3: scene 1 finds one of its two (wrong), scene 2 finds one (right); nobody on empty scenes.
    assert rows[0.3]["count_right"] == 0.5 and rows[0.3]["mean_count_error"] == -0.5
    assert rows[0.3]["empty_nobody"] == 1.0
    # 0.4: scene 1 one of two (wrong), scene 2 none (right: nobody had to be found).
    assert rows[0.4]["count_right"] == 0.5 and rows[0.4]["mean_count_error"] == -1.0


def test_readme_calibration_table_matches_its_results_file() -> None:
    """The README's calibration rows are the measured ones (calibration.json), as rounded there."""
    record = json.loads((Path(__file__).resolve().parent.parent / "demos/pose/results/calibration.json")
                        .read_text())
    rows = {(name, r["nms"], r["person_threshold"]): r for name, found in record["models"].items()
            for r in found}
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()

    def cell(name: str, nms, person: float) -> str:
        r = rows[(name, nms, person)]
        return f"{round(100 * r['count_right'])} % | {r['mean_count_error']:+.2f}".replace("-", "−")

    top, bottom = "tiny-topdown-pose", "tiny-bottomup-pose"
    assert f"| defaults (person 0.2; NMS 0.6) | {cell(top, 0.6, 0.2)} | {cell(bottom, None, 0.2)} |" in readme
    assert f"| top-down NMS 0.4, person 0.2 | {cell(top, 0.4, 0.2)} | | |" in readme
    assert f"| bottom-up person 0.3 | | | {cell(bottom, None, 0.3)} |" in readme


def test_a_lengthened_run_is_found_in_its_curve():
    from demos.pose.evaluate import schedule_restarts

    curve = [{"step": 100, "lr": 0.002}, {"step": 200, "lr": 0.0019}, {"step": 400, "lr": 1e-6},
             {"step": 600, "lr": 0.0011}, {"step": 800, "lr": 0.0005}]
    assert schedule_restarts(curve, warmup=100) == [(400, 600)]
    assert schedule_restarts([{"step": 50, "lr": 1e-4}, {"step": 100, "lr": 0.002}], warmup=100) == []


def test_init_from_continues_a_bundled_run_with_its_record(tmp_path: Path) -> None:
    """--init-from: the bundled weights come back exactly, the new run continues the finished run's
    step and curve, and the rate warms up again for the fresh AdamW moments."""
    from safetensors.torch import load_file

    from demos.pose.train import init_from, rewarm

    bundled = Path("checkpoints/pose_bottomup.safetensors")
    results = tmp_path / "results"
    results.mkdir()
    curve = [{"step": 4, "seconds": 8.0, "lr": 0.002}]
    (results / "pose_bottomup_plain.json").write_text(json.dumps(
        {"steps": 4, "training_seconds": 8.0, "curve": curve}))
    net = bottomup.BottomUpNet()
    assert init_from(net, "bottomup", bundled, results / "pose_bottomup_plain.json") == (4, 8.0, curve)
    stored = load_file(str(bundled))
    assert all(torch.equal(v, stored[f"net.{k}"].float()) for k, v in net.state_dict().items())
    with pytest.raises(SystemExit, match="no detector weights"):
        init_from(topdown.build_person_detector(0), "detector", bundled, results / "x.json")

    assert [rewarm(s, 4, 4) for s in (4, 5, 7, 9)] == [0.25, 0.5, 1.0, 1.0]
    assert rewarm(0, -1, 4) == 1.0  # no --init-from: the schedule alone
    meta = train_main(["--model", "bottomup", "--init-from", str(bundled), "--steps", "6",
                       "--batch-size", "2", "--warmup", "2", "--eval-n", "0", "--threads", "1",
                       "--results", str(results), "--out", str(tmp_path),
                       "--state-dir", str(tmp_path / "state")])
    assert meta["steps"] == 6 and meta["init_from"]["step"] == 4
    assert [c["step"] for c in meta["curve"]][:1] == [4]  # the finished run's curve comes first
