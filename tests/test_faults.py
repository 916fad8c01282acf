"""Faults the suite must survive: no network, damaged checkpoints, racing first requests,
no CUDA, and a GPU that runs out of memory.

The app-level checks launch `python app.py` in its own process with the network made
unreachable (every proxy points at a closed local port, and downloads are allowed) and
with its bundled checkpoints in a folder where some files are deleted, truncated,
overwritten with garbage, or replaced by a malicious pickle under a .safetensors name.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from safetensors.torch import save_file

from benchmarks.timing import launched_app
from shared import device, loading
from shared.loading import ModelCache, ModelUnavailable

ROOT = Path(__file__).resolve().parent.parent
SCENE = str(ROOT / "examples" / "detection" / "scene_1000011.png")
TEXTURE = str(ROOT / "examples" / "cyclegan" / "texture_a_90.png")
GEOMETRY = str(ROOT / "examples" / "cyclegan" / "geometry_a_90.png")
PEOPLE = str(ROOT / "examples" / "pose" / "scene_1090007_2people.png")


class Payload:
    """Pickles to a call of os.system: whoever unpickles it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def damaged_checkpoints(folder: Path, marker: Path) -> Path:
    """A copy of checkpoints/ with four files damaged four ways."""
    shutil.copytree(ROOT / "checkpoints", folder)
    (folder / "detection_ce.safetensors").unlink()  # missing
    ohem = folder / "detection_ohem.safetensors"
    ohem.write_bytes(ohem.read_bytes()[: ohem.stat().st_size // 2])  # truncated
    (folder / "cyclegan_geometry.safetensors").write_bytes(b"\x00garbage" * 1000)  # overwritten
    torch.save({"weight": Payload(marker)}, folder / "pose_bottomup.safetensors")  # a pickle, renamed
    return folder


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """The app offline-by-failure and with damaged checkpoints: (client, marker path)."""
    tmp = tmp_path_factory.mktemp("faults")
    marker = tmp / "payload-ran"
    unreachable = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused
    env = {
        "VISIONLAB_CHECKPOINTS": str(damaged_checkpoints(tmp / "checkpoints", marker)),
        "VISIONLAB_OFFLINE": "0", "HF_HUB_OFFLINE": "0",  # downloads allowed, but they cannot arrive
        "HTTP_PROXY": unreachable, "HTTPS_PROXY": unreachable, "http_proxy": unreachable,
        "https_proxy": unreachable, "ALL_PROXY": unreachable, "all_proxy": unreachable,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "TORCH_HOME": str(tmp / "torch"), "HF_HOME": str(tmp / "hf"),  # empty caches
        "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5",
    }
    with launched_app(env=env) as server:
        yield Client(server.url, verbose=False), marker, server


# ---------------------------------------------------------------- 1. the hub is unreachable


def test_models_says_which_are_usable(faulty):
    client, _, _ = faulty
    rows = {r["name"]: r for r in client.predict(api_name="/models")}
    for name in ("tiny-retinanet-focal", "cyclegan-plain2striped", "tiny-topdown-pose"):
        assert rows[name]["usable"] and rows[name]["status"] == "bundled"
    pretrained = [r for r in rows.values() if r["tier"] == "pretrained"]
    assert pretrained and all(not r["usable"] for r in pretrained)
    assert all(r["status"] == f"needs download ({r['size_mb']:.0f} MB)" for r in pretrained)
    missing = "missing checkpoint file checkpoints/detection_ce.safetensors"
    assert rows["tiny-retinanet-ce"]["status"] == missing
    assert rows["tiny-retinanet-ohem"]["status"] == "damaged checkpoint file (truncated)"
    assert rows["cyclegan-disc2square"]["status"] == "damaged checkpoint file (not safetensors)"
    assert rows["tiny-bottomup-pose"]["status"] == "damaged checkpoint file (not safetensors)"
    assert not any(rows[n]["usable"] for n in ("tiny-retinanet-ce", "tiny-retinanet-ohem",
                                               "cyclegan-disc2square", "tiny-bottomup-pose"))


@pytest.mark.parametrize(("api_name", "kwargs"), [
    ("/detect", dict(image=SCENE, models=["ssdlite320_mobilenet_v3_large"], score_threshold=0.3)),
    ("/translate", dict(image=TEXTURE, model="cyclegan-horse2zebra", direction="A→B")),
    ("/pose", dict(image=PEOPLE, methods=["keypointrcnn_resnet50_fpn"], keypoint_threshold=0.2,
                   person_threshold=0.2)),
    ("/pose", dict(image=PEOPLE, methods=["openpose_body_coco"], keypoint_threshold=0.2,
                   person_threshold=0.2)),
])
def test_pretrained_models_say_they_need_a_download(faulty, api_name, kwargs):
    client, _, _ = faulty
    kwargs = {k: handle_file(v) if k == "image" else v for k, v in kwargs.items()}
    needs = r"needs a download of \d+ MB.*download failed.*bundled models still work"
    with pytest.raises(AppError, match=needs):
        client.predict(**kwargs, api_name=api_name)


def test_bundled_models_serve_without_the_network(faulty):
    client, _, _ = faulty
    _, found = client.predict(image=handle_file(SCENE), score_threshold=0.3, api_name="/detect",
                              models=["tiny-retinanet-focal", "retinanet_resnet50_fpn"])
    ok, failed = found["results"]
    assert ok["model"] == "tiny-retinanet-focal" and ok["detections"]
    assert "needs a download of 130 MB" in failed["error"]
    *_, data = client.predict(image=handle_file(TEXTURE), model="cyclegan-plain2striped", direction="A→B",
                              api_name="/translate")
    assert data["metrics"]
    *_, poses = client.predict(image=handle_file(PEOPLE), methods=["tiny-topdown-pose"],
                               keypoint_threshold=0.2, person_threshold=0.2, api_name="/pose")
    assert poses["results"][0]["people"]


# ---------------------------------------------------------------- 2. damaged checkpoints


@pytest.mark.parametrize(("api_name", "kwargs", "message"), [
    ("/detect", dict(image=SCENE, models=["tiny-retinanet-ce"], score_threshold=0.3),
     r"'tiny-retinanet-ce'.*checkpoint file checkpoints/detection_ce.safetensors is missing"),
    ("/detect", dict(image=SCENE, models=["tiny-retinanet-ohem"], score_threshold=0.3),
     r"'tiny-retinanet-ohem'.*detection_ohem.safetensors is damaged"),
    ("/translate", dict(image=GEOMETRY, model="cyclegan-disc2square", direction="A→B"),
     r"'cyclegan-disc2square'.*cyclegan_geometry.safetensors is damaged"),
    ("/pose", dict(image=PEOPLE, methods=["tiny-bottomup-pose"], keypoint_threshold=0.2,
                   person_threshold=0.2),
     r"'tiny-bottomup-pose'.*pose_bottomup.safetensors is damaged"),
])
def test_damaged_checkpoint_is_named_and_the_app_keeps_serving(faulty, api_name, kwargs, message):
    client, marker, server = faulty
    kwargs = {k: handle_file(v) if k == "image" else v for k, v in kwargs.items()}
    with pytest.raises(AppError, match=message):
        client.predict(**kwargs, api_name=api_name)
    assert not marker.exists(), "the pickle's payload ran"
    _, found = client.predict(image=handle_file(SCENE), models=["tiny-retinanet-focal"], score_threshold=0.3,
                              api_name="/detect")
    assert found["results"][0]["detections"]
    assert server.proc.poll() is None


def test_pickle_named_safetensors_is_never_unpickled(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.safetensors"
    torch.save({"weight": Payload(marker)}, path)
    assert loading.safetensors_problem(path) == "damaged checkpoint file (not safetensors)"
    with pytest.raises(ModelUnavailable, match="'evil'.*damaged or not a weights file"):
        loading.read_state_dict(path, "evil")
    renamed = path.rename(tmp_path / "evil.pth")  # and as a .pth: torch.load(weights_only=True) refuses it
    with pytest.raises(ModelUnavailable, match="damaged or not a weights file"):
        loading.read_state_dict(renamed, "evil")
    assert not marker.exists()


def test_intact_and_truncated_safetensors_told_apart(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"a": torch.zeros(100), "b": torch.ones(3, 3)}, str(path), metadata={"note": "x"})
    assert loading.safetensors_problem(path) is None
    path.write_bytes(path.read_bytes()[:-4])
    assert loading.safetensors_problem(path) == "damaged checkpoint file (truncated)"
    path.write_bytes(b"1234")
    assert loading.safetensors_problem(path) == "damaged checkpoint file (too short)"


# ---------------------------------------------------------------- 3. racing first requests


def test_simultaneous_first_requests_load_the_model_once(monkeypatch):
    """Two visitors press Detect at the same instant on a cold server: one load, two answers."""
    from demos.detection.ui import detect_endpoint

    cache = ModelCache(budget_bytes=2**30)
    monkeypatch.setattr(loading, "CACHE", cache)
    barrier = threading.Barrier(2)
    answers, errors = [], []

    def visitor() -> None:
        barrier.wait()
        try:
            answers.append(detect_endpoint(SCENE, ["tiny-retinanet-focal"], 0.3))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=visitor) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(answers) == 2
    assert cache.loads["tiny-retinanet-focal"] == 1
    assert answers[0][1]["results"][0]["detections"] == answers[1][1]["results"][0]["detections"]


# ---------------------------------------------------------------- 4. no CUDA; CUDA out of memory


@pytest.fixture
def fresh_device(monkeypatch):
    device.pick_device.cache_clear()
    monkeypatch.setattr(loading, "CACHE", ModelCache(budget_bytes=2**30))
    yield
    device.pick_device.cache_clear()


def test_without_cuda_everything_runs_on_the_cpu(monkeypatch, fresh_device):
    from demos.cyclegan.ui import translate_endpoint
    from demos.detection.ui import detect_endpoint
    from demos.pose.ui import pose_endpoint

    monkeypatch.delenv("DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert device.pick_device() == torch.device("cpu")
    device.pick_device.cache_clear()
    monkeypatch.setenv("DEVICE", "cpu")
    assert device.pick_device() == torch.device("cpu")

    assert detect_endpoint(SCENE, ["tiny-retinanet-focal"], 0.3)[1]["results"][0]["detections"]
    assert translate_endpoint(TEXTURE, "cyclegan-plain2striped", "A→B")[-1]["metrics"]
    assert pose_endpoint(PEOPLE, ["tiny-topdown-pose", "tiny-bottomup-pose"], 0.2, 0.2)[-1]["results"]
    for name in loading.CACHE.loaded():
        model = loading.CACHE.get(name)
        assert {p.device.type for p in model.parameters()} == {"cpu"}, name


def test_gpu_out_of_memory_is_a_clear_message_and_the_next_request_works(client, monkeypatch):
    """Through the served app: the model call raises CUDA's out-of-memory error once."""
    from demos.detection import inference

    model = loading.get_model("tiny-retinanet-focal")
    real_forward = model.forward
    emptied = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # as on a GPU machine
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))

    def out_of_memory(*args, **kwargs):
        model.forward = real_forward  # one failure, as when one huge image does not fit
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")

    monkeypatch.setattr(model, "forward", out_of_memory)
    assert inference.get_model("tiny-retinanet-focal") is model
    with pytest.raises(AppError, match="GPU ran out of memory for this image; try a smaller image"):
        client.predict(image=handle_file(SCENE), models=["tiny-retinanet-focal"], score_threshold=0.3,
                       api_name="/detect")
    assert emptied == [True]
    monkeypatch.undo()
    _, found = client.predict(image=handle_file(SCENE), models=["tiny-retinanet-focal"], score_threshold=0.3,
                              api_name="/detect")
    assert found["results"][0]["detections"]
