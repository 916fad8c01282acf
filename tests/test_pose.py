"""Pose estimation: generated scenes, geometry, grouping, training, bundled and pretrained models."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from demos.pose import bottomup, openpose, registry, topdown
from demos.pose.data import IMAGE_SIZE, NUM_KEYPOINTS, coco_ground_truth, make_scene, split_seed, to_tensor
from demos.pose.evaluate import CI_SUBSET, _coco_eval, oks_ap
from demos.pose.inference import estimate, run
from demos.pose.train import main as train_main
from shared import loading
from shared.loading import ModelUnavailable
from shared.registry import get_spec

AP_TOLERANCE = 0.01  # float summation order differs across CPUs; AP on 40 scenes moves by less


# ---------------------------------------------------------------- data


def test_scenes_are_a_pure_function_of_the_seed() -> None:
    a, people_a = make_scene(123)
    b, people_b = make_scene(123)
    assert a.tobytes() == b.tobytes()
    assert len(people_a) == len(people_b) >= 1
    for p, q in zip(people_a, people_b, strict=True):
        np.testing.assert_array_equal(p["keypoints"], q["keypoints"])
    assert make_scene(124)[0].tobytes() != a.tobytes()


def test_annotations_follow_coco() -> None:
    gt = coco_ground_truth("val", 20)
    assert gt["categories"][0]["keypoints"][0] == "nose" and len(gt["categories"][0]["skeleton"]) == 19
    flags = set()
    for ann in gt["annotations"]:
        kps = np.array(ann["keypoints"]).reshape(NUM_KEYPOINTS, 3)  # (17*3,) -> (17, 3)
        flags |= set(kps[:, 2].tolist())
        assert ann["num_keypoints"] == int((kps[:, 2] > 0).sum())
        labelled = kps[kps[:, 2] > 0]
        assert ((labelled[:, :2] >= 0) & (labelled[:, :2] <= IMAGE_SIZE)).all()
        assert ann["area"] > 0 and ann["bbox"][2] > 0
    assert flags == {0.0, 1.0, 2.0}  # visible, occluded and unlabelled all occur


def test_crowd_size_can_be_asked_for() -> None:
    image, people = make_scene(split_seed("timing", 7), size=256, num_people=8)
    assert image.size == (256, 256)
    assert 6 <= len(people) <= 8  # a person hidden behind others entirely is dropped


# ---------------------------------------------------------------- geometry


def test_crop_coordinates_round_trip_and_peaks_decode_sub_cell() -> None:
    regions = topdown.crop_regions(torch.tensor([[10.0, 20.0, 40.0, 100.0], [0.0, 0.0, 50.0, 30.0]]))
    assert torch.allclose(regions[:, 2] / regions[:, 3], torch.tensor(48 / 64))
    xy = torch.tensor([[[25.0, 60.0], [12.3, 33.3]], [[20.0, 10.0], [3.7, 28.1]]])  # (N=2, K=2, 2)
    uv = topdown.image_to_heatmap(xy, regions, (32, 24))
    assert torch.allclose(topdown.heatmap_to_image(uv, regions, (32, 24)), xy, atol=1e-4)
    targets = topdown.gaussian_targets(uv, torch.ones(2, 2, dtype=torch.bool), (32, 24))
    peaks = topdown.decode_heatmaps(targets)
    assert torch.allclose(peaks[..., :2], uv, atol=0.02)  # the parabola fit is exact for Gaussians


def test_grouping_ideal_maps_recovers_the_people() -> None:
    """Ground-truth heat-maps and PAFs through find_peaks + group score a high AP."""
    n, size, stride = 12, 256, 4
    gt = coco_ground_truth("val", n, size=size, num_people=4)
    detections = []
    for image in gt["images"]:
        anns = [a for a in gt["annotations"] if a["image_id"] == image["id"]]
        kps = [np.array(a["keypoints"]).reshape(-1, 3) for a in anns]  # (17*3,) -> (17, 3)
        cells = [np.concatenate([k[:, :2] / stride - 0.5, k[:, 2:]], 1) for k in kps]
        heat, paf, _ = bottomup.targets(cells, size // stride)
        peaks = bottomup.find_peaks(heat, 0.1)
        channels = [(2 * i, 2 * i + 1) for i in range(len(bottomup.LIMBS))]
        for found, score in bottomup.group(peaks, paf.numpy(), bottomup.LIMBS, channels):
            found[:, :2] = (found[:, :2] + 0.5) * stride
            detections.append({"image_id": image["id"], "category_id": 1, "score": score,
                               "keypoints": found.reshape(-1).tolist()})
    assert _coco_eval(gt, detections, "keypoints")["AP"] > 0.7


# ---------------------------------------------------------------- training


@pytest.mark.parametrize("model", ["detector", "topdown", "bottomup"])
def test_training_smoke_runs_and_resumes(model: str, tmp_path: Path) -> None:
    common = ["--model", model, "--batch-size", "2", "--out", str(tmp_path), "--state-dir",
              str(tmp_path / "state"), "--eval-n", "0", "--threads", "1", "--warmup", "2"]
    if model == "topdown":  # bundling needs a detector; a 1-step one will do
        train_main(["--model", "detector", "--steps", "1", *common[2:]])
    meta = train_main([*common, "--steps", "2"])
    assert meta["steps"] == 2
    resumed = train_main([*common, "--steps", "3", "--resume"])
    assert resumed["steps"] == 3
    path = tmp_path / f"pose_{model}.safetensors"
    with safe_open(str(path), framework="pt") as f:
        assert all(torch.isfinite(f.get_tensor(k)).all() for k in f.keys())


# ---------------------------------------------------------------- bundled checkpoints


@pytest.mark.parametrize("name", registry.bundled_names())
def test_bundled_checkpoint_reaches_its_card_ap(name: str) -> None:
    spec = get_spec(name)
    with safe_open(str(spec.weights.path), framework="pt") as f:
        expected = float(f.metadata()["ci_ap"])
    model = loading.get_model(name)
    measured = oks_ap(model, CI_SUBSET["split"], CI_SUBSET["n"], CI_SUBSET["start"])["AP"]
    assert measured == pytest.approx(expected, abs=AP_TOLERANCE)
    assert expected > 0.2  # a trained model, not a random one
    card = spec.weights.path.with_suffix(".md").read_text()
    assert f"AP {expected:.4f}" in card
    assert spec.weights.path.stat().st_size < 5e6


@pytest.mark.parametrize("name", registry.bundled_names())
def test_estimate_api_on_people_and_on_nobody(name: str) -> None:
    image, truth = make_scene(split_seed("timing", 401), size=256, num_people=4)
    result = estimate(name, image, keypoint_threshold=0.2, person_threshold=0.2)
    assert set(result) >= {"people", "seconds", "evidence", "method"}
    assert result["people"], "nobody found in a scene with four people"
    for person in result["people"]:
        assert len(person["keypoints"]) == NUM_KEYPOINTS and 0 <= person["score"] <= 1
        xs = [x for x, _, s in person["keypoints"] if s > 0]
        assert xs and max(xs) < 256 + 8  # input pixels, not the network's 128 px
    empty = Image.new("RGB", (200, 150), (120, 140, 160))
    assert estimate(name, empty, 0.2, 0.2)["people"] == []


@pytest.mark.parametrize("name", registry.bundled_names())
def test_bundled_speed_at_256_with_four_people(name: str) -> None:
    image = make_scene(split_seed("timing", 402), size=256, num_people=4)[0]
    model = loading.get_model(name)
    x = to_tensor(image)
    run(model, x)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        run(model, x)
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) <= 0.100


# ---------------------------------------------------------------- pretrained tier, offline


def test_pretrained_models_say_they_need_a_download_offline() -> None:
    for name, mb in (("keypointrcnn_resnet50_fpn", 226), ("openpose_body_coco", 209)):
        spec = get_spec(name)
        if loading.cached_path(spec) is None:
            assert loading.availability(spec) == (False, f"needs download ({mb} MB)")
            with pytest.raises(ModelUnavailable, match="offline"):
                loading.get_model(name)


def test_openpose_keys_match_the_published_file() -> None:
    names = openpose.caffe_names(openpose.OpenPoseBody())
    assert len(names) == 184  # 12 backbone + 10 stage-1 + 70 refinement convolutions, weight + bias
    assert tuple(names["conv5_5_CPM_L1.weight"].shape) == (38, 512, 1, 1)
    assert tuple(names["Mconv1_stage2_L2.weight"].shape) == (128, 185, 7, 7)
    assert tuple(names["Mconv7_stage6_L2.weight"].shape) == (19, 128, 1, 1)


def test_openpose_from_a_prepopulated_hub_cache(tmp_path: Path, monkeypatch) -> None:
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    spec = get_spec("openpose_body_coco")
    w = spec.weights
    snapshot = tmp_path / f"models--{w.repo_id.replace('/', '--')}" / "snapshots" / w.revision
    snapshot.mkdir(parents=True)
    torch.manual_seed(0)
    source = openpose.OpenPoseBody().eval()
    torch.save(openpose.caffe_names(source), snapshot / w.filename)  # the published file's layout
    assert loading.availability(spec) == (True, "cached")
    loading.CACHE.clear()
    model = loading.get_model("openpose_body_coco")
    x = torch.rand(1, 3, 48, 40)
    torch.testing.assert_close(model(x)[1], source(x)[1])
    out = model.estimate_people(torch.rand(3, 60, 50), input_height=64)
    assert out["heatmaps"].shape[0] == NUM_KEYPOINTS and out["pafs"].shape[0] == 38
    loading.CACHE.clear()


def test_keypoint_rcnn_through_a_patched_transfer(tmp_path: Path, monkeypatch) -> None:
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setenv("VISIONLAB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    spec = get_spec("keypointrcnn_resnet50_fpn")
    source = spec.build().eval()
    local = tmp_path / "served.pth"
    torch.save(source.state_dict(), local)
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda url, dst, hash_prefix=None, progress=True: shutil.copyfile(local, dst))
    loading.CACHE.clear()
    model = loading.get_model("keypointrcnn_resnet50_fpn")
    model.transform.min_size, model.transform.max_size = (96,), 96  # keep the test fast
    people, evidence = run(model, torch.rand(3, 80, 96))
    assert isinstance(people, list) and "boxes" in evidence
    loading.CACHE.clear()
