"""The shared layer: registry, both loader tiers (offline), the cache, image input."""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from shared import loading, registry
from shared.images import BadInput, load_image
from shared.loading import ModelCache, ModelUnavailable
from shared.registry import BundledFile, HubFile, ModelSpec, UrlFile


def tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def spec_for(name: str, weights, build=tiny_net, tier="bundled", **kw) -> ModelSpec:
    return ModelSpec(name=name, demo="test", task="test", tier=tier, weights=weights,
                     build=build, size_mb=1.0, licence="MIT", **kw)


@pytest.fixture
def registered():
    """Register specs for one test and remove them afterwards."""
    added: list[str] = []

    def add(spec: ModelSpec) -> ModelSpec:
        registry.register(spec)
        added.append(spec.name)
        return spec

    yield add
    for name in added:
        registry.unregister(name)
    loading.CACHE.clear()


@pytest.fixture
def checkpoint_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "CHECKPOINTS", tmp_path)
    return tmp_path


# ---------------------------------------------------------------- registry


def test_registry_rejects_two_models_with_one_name(registered, checkpoint_dir):
    registered(spec_for("twin", BundledFile("a.safetensors")))
    registry.register(spec_for("twin", BundledFile("a.safetensors")))  # same spec: fine
    with pytest.raises(ValueError, match="twin"):
        registry.register(spec_for("twin", BundledFile("b.safetensors")))


def test_unknown_model_names_the_known_ones(registered, checkpoint_dir):
    registered(spec_for("known-one", BundledFile("a.safetensors")))
    with pytest.raises(KeyError, match="known-one"):
        registry.get_spec("no-such-model")


# ---------------------------------------------------------------- bundled tier


def test_bundled_round_trip(registered, checkpoint_dir):
    net = tiny_net()
    with torch.no_grad():
        net[0].weight.mul_(3.0)  # differ from a fresh build, so loading must matter
    save_file(net.state_dict(), str(checkpoint_dir / "tiny.safetensors"))
    spec = registered(spec_for("tiny", BundledFile("tiny.safetensors")))
    assert loading.availability(spec) == (True, "bundled")
    model = loading.get_model("tiny")
    x = torch.randn(3, 4)
    assert torch.equal(model(x), net(x))
    assert not model.training


def test_missing_bundled_file_is_a_clear_error(registered, checkpoint_dir):
    spec = registered(spec_for("ghost", BundledFile("ghost.safetensors")))
    usable, status = loading.availability(spec)
    assert not usable and "missing" in status
    with pytest.raises(ModelUnavailable, match="'ghost'.*missing"):
        loading.get_model("ghost")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_bundled_file_is_a_clear_error(registered, checkpoint_dir, damage):
    path = checkpoint_dir / "bad.safetensors"
    save_file(tiny_net().state_dict(), str(path))
    data = path.read_bytes()
    path.write_bytes(b"not a checkpoint at all" if damage == "garbage" else data[: len(data) // 2])
    registered(spec_for("bad", BundledFile("bad.safetensors")))
    with pytest.raises(ModelUnavailable, match="'bad'.*damaged"):
        loading.get_model("bad")


def test_checkpoint_for_another_architecture_is_a_clear_error(registered, checkpoint_dir):
    save_file({"weight": torch.zeros(2, 2)}, str(checkpoint_dir / "other.safetensors"))
    registered(spec_for("other", BundledFile("other.safetensors")))
    with pytest.raises(ModelUnavailable, match="does not fit"):
        loading.get_model("other")


def test_pickle_payload_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    torch.save({"weight": Payload()}, path)
    with pytest.raises(ModelUnavailable, match="damaged or not a weights file"):
        loading.read_state_dict(path, "evil")
    assert not marker.exists()


# ---------------------------------------------------------------- pretrained tier


REV = "0123456789abcdef0123456789abcdef01234567"


def test_hub_file_from_a_prepopulated_cache_with_network_off(registered, tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    spec = registered(spec_for("hubby", HubFile("someone/models", "net.pth", REV), tier="pretrained"))
    assert loading.availability(spec) == (False, "needs download (1 MB)")
    with pytest.raises(ModelUnavailable, match="needs a download of 1 MB.*offline"):
        loading.get_model("hubby")

    # The layout huggingface_hub itself writes: snapshots/<commit>/<file>.
    snapshot = tmp_path / "models--someone--models" / "snapshots" / REV
    snapshot.mkdir(parents=True)
    net = tiny_net()
    torch.save(net.state_dict(), snapshot / "net.pth")
    assert loading.availability(spec) == (True, "cached")
    x = torch.randn(2, 4)
    assert torch.equal(loading.get_model("hubby")(x), net(x))


def test_url_file_through_a_patched_transfer(registered, tmp_path, monkeypatch):
    """torchvision-style weights: everything real except the bytes crossing the network."""
    import torchvision

    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setenv("VISIONLAB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    source = torchvision.models.mobilenet_v3_small(weights=None, num_classes=10)
    local = tmp_path / "served.pth"
    torch.save(source.state_dict(), local)
    calls = []

    def transfer(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        shutil.copyfile(local, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", transfer)
    url = "https://download.example.org/models/mobilenet_v3_small-047dcff4.pth"
    spec = registered(spec_for(
        "mnv3", UrlFile(url), tier="pretrained",
        build=lambda: torchvision.models.mobilenet_v3_small(weights=None, num_classes=10),
    ))
    assert loading.availability(spec)[0] is False
    model = loading.get_model("mnv3")
    assert calls == [(url, "047dcff4")]  # the hash prefix is handed to the checker
    assert loading.availability(spec) == (True, "cached")
    x = torch.randn(1, 3, 64, 64)
    source.eval()
    assert torch.allclose(model(x), source(x))


def test_url_file_with_a_pinned_sha256(registered, tmp_path, monkeypatch):
    """A full SHA-256 pin: the right bytes load, other bytes are discarded with a clear error."""
    import hashlib

    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setenv("VISIONLAB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    net = tiny_net()
    good, bad = tmp_path / "good.pth", tmp_path / "bad.pth"
    torch.save(net.state_dict(), good)
    torch.save({k: v + 1 for k, v in net.state_dict().items()}, bad)
    served = {"file": bad}

    def transfer(url, dst, hash_prefix=None, progress=True):
        shutil.copyfile(served["file"], dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", transfer)
    pin = hashlib.sha256(good.read_bytes()).hexdigest()
    spec = registered(spec_for("pinned", UrlFile("https://example.org/plain-name.pth", sha256=pin),
                               tier="pretrained"))
    with pytest.raises(ModelUnavailable, match="'pinned'.*does not match its pinned SHA-256"):
        loading.get_model("pinned")
    assert loading.availability(spec)[0] is False  # the mismatching file was not kept
    served["file"] = good
    x = torch.randn(2, 4)
    assert torch.equal(loading.get_model("pinned")(x), net(x))


def test_failed_download_says_so(registered, tmp_path, monkeypatch):
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setenv("VISIONLAB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")

    def unreachable(*args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", unreachable)
    registered(spec_for("far", UrlFile("https://example.org/far-0123abcd.pth"), tier="pretrained"))
    with pytest.raises(ModelUnavailable, match="download failed.*unreachable"):
        loading.get_model("far")


def test_unreachable_hub_is_reported_without_the_download_retries(registered, tmp_path, monkeypatch):
    # huggingface_hub retries a refused connection for ~25 s; one quick look comes first.
    import huggingface_hub

    monkeypatch.setenv("VISIONLAB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens: connections are refused
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    calls = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: calls.append(a))
    registered(spec_for("hub-far", HubFile("someone/far", "far.pth", "0" * 40), tier="pretrained"))
    with pytest.raises(ModelUnavailable, match="download failed.*(Connect|Proxy)"):
        loading.fetch(registry.get_spec("hub-far"))
    assert calls == []


# ---------------------------------------------------------------- the cache


def test_simultaneous_first_requests_load_once(registered, checkpoint_dir):
    save_file(tiny_net().state_dict(), str(checkpoint_dir / "slow.safetensors"))

    def slow_build():
        time.sleep(0.3)
        return tiny_net()

    registered(spec_for("slow", BundledFile("slow.safetensors"), build=slow_build))
    cache = ModelCache(budget_bytes=10**9)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("slow"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.loads["slow"] == 1
    assert all(r is results[0] for r in results)


def test_cache_evicts_least_recently_used(registered, checkpoint_dir):
    for name in "abc":
        save_file(tiny_net().state_dict(), str(checkpoint_dir / f"{name}.safetensors"))
        registered(spec_for(name, BundledFile(f"{name}.safetensors")))
    one = loading.module_bytes(tiny_net())
    cache = ModelCache(budget_bytes=2 * one)
    cache.get("a")
    cache.get("b")
    cache.get("a")  # now b is the least recently used
    cache.get("c")
    assert cache.loaded() == ["a", "c"]
    assert cache.used_bytes() <= 2 * one


def test_models_table_reports_usability(registered, checkpoint_dir):
    save_file(tiny_net().state_dict(), str(checkpoint_dir / "here.safetensors"))
    registered(spec_for("here", BundledFile("here.safetensors")))
    registered(spec_for("far-away", UrlFile("https://example.org/x-01234567.pth"), tier="pretrained"))
    rows = {r["name"]: r for r in loading.models_table()}
    assert rows["here"]["usable"] and rows["here"]["status"] == "bundled"
    assert not rows["far-away"]["usable"] and rows["far-away"]["status"] == "needs download (1 MB)"


# ---------------------------------------------------------------- image input


def saved(img: Image.Image, tmp_path: Path, name: str, **kw) -> Path:
    path = tmp_path / name
    img.save(path, **kw)
    return path


def test_plain_rgb_passes_through(tmp_path):
    img = Image.new("RGB", (64, 48), (10, 20, 30))
    out = load_image(saved(img, tmp_path, "a.png"))
    assert out.image.mode == "RGB" and out.image.size == (64, 48) and out.notes == []


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16", "1", "I", "F"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    img = Image.new(mode, (40, 30))
    if mode == "I;16":
        img = Image.fromarray(np.arange(1200, dtype=np.uint16).reshape(30, 40) * 50)
    ext = "tiff" if mode in ("CMYK", "I;16", "I", "F") else "png"
    out = load_image(saved(img, tmp_path, f"x.{ext}"))
    assert out.image.mode == "RGB" and out.image.size == (40, 30)
    if mode == "I;16":  # the 16-bit range is stretched, not clipped to white
        values = np.asarray(out.image)[..., 0]
        assert values.min() == 0 and values.max() == 255


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (60, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = load_image(saved(img, tmp_path, "r.jpg", exif=exif))
    assert out.image.size == (20, 60)
    assert any("EXIF" in n for n in out.notes)


def test_large_images_are_downscaled_and_the_scale_recorded(tmp_path):
    out = load_image(saved(Image.new("RGB", (3000, 1500)), tmp_path, "big.png"), max_side=1000)
    assert out.image.size == (1000, 500) and out.original_size == (3000, 1500)
    assert out.scale == pytest.approx(3.0)


def test_a_100_megapixel_jpeg_decodes_at_reduced_scale(tmp_path):
    # A 108-megapixel phone photo, turned upright by EXIF: decoded at 1/8 scale, never whole.
    exif = Image.Exif()
    exif[0x0112] = 6
    path = saved(Image.new("RGB", (12000, 9000), (90, 140, 200)), tmp_path, "phone.jpg", exif=exif)
    out = load_image(path, max_side=1024)
    assert max(out.image.size) <= 1024 and out.image.size[1] > out.image.size[0]  # upright
    assert out.original_size == (9000, 12000)
    assert out.scale == pytest.approx(9000 / out.image.width)
    assert any("reduced scale" in n for n in out.notes)
    # A PNG of the same size cannot be decoded in parts, and is refused in plain words.
    with pytest.raises(BadInput, match="too large"):
        load_image(saved(Image.new("L", (12000, 9000)), tmp_path, "huge.png"))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "No image"),
        (b"", "empty"),
        (b"this is plain text, not a picture", "not an image"),
        ("truncated", "truncated or damaged"),
        ("tiny", "at least 16x16"),
        ("bomb", "too large"),
    ],
)
def test_bad_images_get_plain_messages(tmp_path, payload, message):
    if payload is None:
        source = None
    elif isinstance(payload, bytes):
        source = tmp_path / "f.png"
        source.write_bytes(payload)
    elif payload == "truncated":
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)).save(buf, "PNG")
        source = tmp_path / "t.png"
        source.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    elif payload == "tiny":
        source = saved(Image.new("RGB", (1, 1)), tmp_path, "tiny.png")
    else:  # 20000 x 20000 of one colour compresses to a few hundred KB of PNG
        source = saved(Image.new("L", (20000, 20000)), tmp_path, "bomb.png")
    with pytest.raises(BadInput, match=message):
        load_image(source)


def test_code_version_names_the_checkout_or_nothing(tmp_path):
    import subprocess

    from shared import device

    found = device.code_version()
    if found is not None:  # a git checkout (CI's fresh clone is one): the commit git itself reports
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(device.__file__).parents[1],
                              capture_output=True, text=True).stdout.strip()
        assert found["commit"] == head and isinstance(found["modified"], bool)
    # Outside a checkout (a copy without .git) there is nothing to name.
    assert device.code_version(str(tmp_path)) is None
