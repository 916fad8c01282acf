"""CycleGAN: official-layout generators, both checkpoint tiers, the data, metrics and training."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

import demos.cyclegan.registry as cg_registry
from demos.cyclegan.data import heldout, make_scene, to_tensor, unpaired_batch
from demos.cyclegan.evaluate import CI_SUBSET, evaluate_pair
from demos.cyclegan.metrics import (
    background_as_rendered,
    cycle_error,
    mask_iou,
    object_mask,
    shape_change,
    translation_metrics,
)
from demos.cyclegan.model import (
    PatchDiscriminator,
    ResnetGenerator,
    load_pair,
    official_generator,
    read_metadata,
)
from demos.cyclegan.train import main as train_main
from shared import loading
from shared.loading import ModelUnavailable
from shared.registry import BundledFile, get_spec, names

# ---------------------------------------------------------------- architecture


def test_generator_has_the_official_key_names_and_shapes():
    state = official_generator().state_dict()
    layers = ["model.1", "model.4", "model.7", "model.19", "model.22", "model.26"]
    layers += [f"model.{i}.conv_block.{j}" for i in range(10, 19) for j in (1, 5)]
    assert set(state) == {f"{layer}.{p}" for layer in layers for p in ("weight", "bias")}
    assert state["model.1.weight"].shape == (64, 3, 7, 7)
    assert state["model.10.conv_block.1.weight"].shape == (256, 256, 3, 3)
    assert state["model.19.weight"].shape == (256, 128, 3, 3)  # transposed conv: (in, out, k, k)
    assert state["model.26.weight"].shape == (3, 64, 7, 7)
    assert sum(v.numel() for v in state.values()) == 11_378_179


def test_networks_keep_the_image_size_and_patch_grid():
    g = ResnetGenerator(ngf=8, n_blocks=2).eval()
    x = torch.rand(2, 3, 64, 96) * 2 - 1
    y = g(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert PatchDiscriminator(ndf=8)(x).shape == (2, 1, 6, 10)


# ---------------------------------------------------------------- pretrained tier


def test_official_models_are_listed_as_needing_a_download_when_offline(tmp_path, monkeypatch):
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setenv("VISIONLAB_OFFLINE", "1")
    official = names("cyclegan", "pretrained")
    assert len(official) == len(cg_registry.OFFICIAL_MODELS) == 11
    spec = get_spec("cyclegan-horse2zebra")
    assert spec.weights.url == "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/horse2zebra.pth"
    assert loading.availability(spec) == (False, "needs download (46 MB)")
    with pytest.raises(ModelUnavailable, match="horse2zebra.*46 MB.*offline"):
        loading.get_model("cyclegan-horse2zebra")


def test_official_file_loads_through_the_registry_with_a_patched_transfer(tmp_path, monkeypatch):
    """Everything real except the network: an official-layout .pth with stray norm statistics."""
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setenv("VISIONLAB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    torch.manual_seed(1)
    source = official_generator().eval()
    state = dict(source.state_dict())
    # What old checkpoints contain: running statistics of the InstanceNorm layers.
    state["model.2.running_mean"], state["model.2.running_var"] = torch.zeros(64), torch.ones(64)
    state["model.10.conv_block.2.running_mean"] = torch.zeros(256)
    served = tmp_path / "style_monet.pth"
    torch.save(state, served)
    calls = []

    def transfer(url, dst, hash_prefix=None, progress=True):
        calls.append(url)
        shutil.copyfile(served, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", transfer)
    try:
        model = loading.get_model("cyclegan-style_monet")
        assert calls == [cg_registry.OFFICIAL_URL.format(name="style_monet")]
        assert loading.availability(get_spec("cyclegan-style_monet")) == (True, "cached")
        x = torch.rand(1, 3, 64, 64) * 2 - 1
        with torch.inference_mode():
            assert torch.allclose(model(x), source(x), atol=1e-6)
    finally:
        loading.CACHE.clear()


# ---------------------------------------------------------------- bundled tier


@pytest.mark.parametrize("pair", sorted({pair for pair, _ in cg_registry.BUNDLED_NAMES}))
def test_bundled_checkpoints_reproduce_their_card_metrics(pair):
    path = BundledFile(f"cyclegan_{pair}.safetensors").path
    meta = read_metadata(path)
    assert json.loads(meta["ci_subset"]) == CI_SUBSET
    expected = json.loads(meta["ci_metrics"])
    try:
        g_ab = loading.get_model(cg_registry.bundled_name(pair, "AB"))
        g_ba = loading.get_model(cg_registry.bundled_name(pair, "BA"))
        measured = evaluate_pair(g_ab.cpu(), g_ba.cpu(), pair, CI_SUBSET["n"], CI_SUBSET["start"],
                                 CI_SUBSET["size"])
    finally:
        loading.CACHE.clear()
    for direction in ("AB", "BA"):
        for key, value in expected[direction].items():
            got = measured[direction][key]
            if math.isnan(value):
                assert math.isnan(got), key
            else:  # thresholded metrics may flip a few pixels on another CPU
                tolerance = 0.25 if key.endswith("_px") else 0.02
                assert got == pytest.approx(value, abs=tolerance), (direction, key)
    assert path.stat().st_size < 3e6


# ---------------------------------------------------------------- data


def test_scenes_are_deterministic_and_paired_layouts_match():
    one, two = make_scene("geometry", "heldout", 5, 96), make_scene("geometry", "heldout", 5, 96)
    assert np.array_equal(one.a, two.a) and np.array_equal(one.b, two.b)
    assert not np.array_equal(one.mask_a, one.mask_b) and len(one.boxes) >= 1
    texture = make_scene("texture", "heldout", 5, 96)
    assert np.array_equal(texture.mask_a, texture.mask_b) and not np.array_equal(texture.a, texture.b)
    train_a, _ = unpaired_batch("texture", 0, 1, 96)
    assert not torch.equal(train_a[0], to_tensor([texture.a])[0])  # training never sees held-out scenes


# ---------------------------------------------------------------- metrics


def _images(scenes, attr):
    return torch.from_numpy(np.stack([getattr(s, attr) for s in scenes])).permute(0, 3, 1, 2)  # (N, 3, H, W)


def test_identity_keeps_all_structure_and_changes_no_texture():
    a = _images(heldout("texture", 4), "a")
    m = translation_metrics(a, a.clone())
    assert torch.allclose(m["structure_edge_f"], torch.ones(4))
    assert torch.allclose(m["structure_grad_ssim"], torch.ones(4), atol=1e-5)
    assert torch.allclose(m["texture_gram"], torch.zeros(4))
    assert torch.allclose(m["texture_hist"], torch.zeros(4))
    assert torch.allclose(cycle_error(a, a), torch.zeros(4))


def test_a_shifted_image_scores_low_structure():
    a = _images(heldout("geometry", 4), "a")
    m = translation_metrics(a, torch.roll(a, shifts=(8, 8), dims=(2, 3)))
    assert m["structure_edge_f"].mean() < 0.4 and m["structure_grad_ssim"].mean() < 0.5


def test_true_texture_target_keeps_structure_and_changes_texture():
    scenes = heldout("texture", 4)
    m = translation_metrics(_images(scenes, "a"), _images(scenes, "b"))
    assert m["structure_edge_f"].mean() > 0.6 and m["texture_gram"].mean() > 0.1


def test_geometry_masks_tell_kept_shapes_from_moved_ones():
    s = heldout("geometry", 1)[0]
    disc, square = object_mask(s.a, s.background), object_mask(s.b, s.background)
    assert mask_iou(disc, object_mask(s.a.copy(), s.background)) == 1.0
    assert shape_change(disc, disc, square) == 0.0 and shape_change(disc, square, square) == 1.0
    assert shape_change(disc, np.ones_like(disc), square) < 0  # "everything is object" is no shape
    assert mask_iou(disc, square) < 0.85
    assert math.isnan(shape_change(disc, disc, disc))
    # A tint over the whole picture is a colour change, not new objects everywhere.
    tinted = np.clip(s.a * 0.8 + 0.15, 0, 1)
    assert mask_iou(object_mask(tinted, background_as_rendered(tinted, s.background, disc)), disc) > 0.95


# ---------------------------------------------------------------- training


@pytest.fixture
def one_thread():
    """Tiny convolutions run fastest on one thread; more only add hand-off costs on a busy CPU."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_training_smoke_run_resumes_exactly(tmp_path, one_thread):
    common = ["--pair", "texture", "--steps", "4", "--size", "32", "--batch-size", "2", "--eval-n", "0",
              "--checkpoint-every", "1", "--pool", "3", "--threads", "1"]
    train_main(common + ["--state-dir", str(tmp_path / "a"), "--out", str(tmp_path / "a"), "--stop-at", "2"])
    paused = json.loads((tmp_path / "a" / "cyclegan_texture_state.json").read_text())
    assert paused["step"] == 2
    meta = train_main(common + ["--state-dir", str(tmp_path / "a"), "--out", str(tmp_path / "a"), "--resume"])
    train_main(common + ["--state-dir", str(tmp_path / "b"), "--out", str(tmp_path / "b")])
    resumed, _, info = load_pair(tmp_path / "a" / "cyclegan_texture.safetensors")
    straight, _, _ = load_pair(tmp_path / "b" / "cyclegan_texture.safetensors")
    assert json.loads(info["training"])["steps"] == 4 and meta["training"]["steps"] == 4
    for (k, v), w in zip(resumed.state_dict().items(), straight.state_dict().values(), strict=True):
        assert torch.allclose(v, w, atol=1e-3), k  # fp16 files; the runs themselves are identical
