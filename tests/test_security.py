"""Security basics: a bounded upload size, no file of the server readable through the
API, no public link unless asked for, and Hub tokens only from the environment."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import raw_call, served
from PIL import Image

import app

ROOT = Path(__file__).resolve().parent.parent
FAKE_TOKEN = "hf_FAKEtokenForTestsOnly0123456789abcdef"


@pytest.fixture(scope="module")
def small_uploads():
    """The suite served with a 1 MB upload limit, as `python app.py --max-file-size 1mb` does."""
    with served(max_file_size="1mb") as url:
        yield url


def _png(path: Path, side: int) -> Path:
    pixels = np.random.default_rng(side).integers(0, 255, (side, side, 3), np.uint8)  # noise: no compression
    Image.fromarray(pixels).save(path)
    return path


def _upload(url: str, path: Path) -> httpx.Response:
    with open(path, "rb") as f:
        return httpx.post(f"{url}gradio_api/upload", files={"files": (path.name, f, "image/png")}, timeout=30)


# ---------------------------------------------------------------- defaults of the command line


def test_share_is_off_and_an_upload_limit_is_set_by_default(monkeypatch):
    monkeypatch.delenv("MAX_FILE_SIZE", raising=False)
    args = app.parse_args([])
    assert args.share is False and args.max_file_size == "20mb"
    launched = {}

    def fake_launch(self, **kwargs):
        launched.update(kwargs)

    monkeypatch.setattr(app.gr.Blocks, "launch", fake_launch)
    monkeypatch.setattr(app, "build_app", lambda names=None: app.gr.Blocks())
    app.main([])
    assert launched["share"] is False and launched["max_file_size"] == "20mb"
    assert launched["server_name"] == "127.0.0.1"  # only this machine, unless told otherwise


# ---------------------------------------------------------------- uploads


def test_upload_above_the_limit_is_refused(small_uploads, tmp_path):
    small = _png(tmp_path / "small.png", 256)  # ~200 KB
    big = _png(tmp_path / "big.png", 1024)  # ~3 MB
    assert small.stat().st_size < 2**20 < big.stat().st_size
    ok = _upload(small_uploads, small)
    assert ok.status_code == 200 and len(ok.json()) == 1
    refused = _upload(small_uploads, big)
    assert refused.status_code == 413, refused.text


# ---------------------------------------------------------------- reading files


def _get_file(url: str, path: str) -> httpx.Response:
    return httpx.get(f"{url}gradio_api/file={path}", timeout=30)


@pytest.mark.parametrize("path", [
    "/etc/passwd",
    str(ROOT / "app.py"),
    str(ROOT / "checkpoints" / "detection_focal.safetensors"),
    "../../../../etc/passwd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
])
def test_server_files_are_not_readable_by_path(small_uploads, path):
    response = _get_file(small_uploads, path)
    assert response.status_code in (403, 404), (path, response.status_code)
    assert "root:" not in response.text and "build_app" not in response.text


def test_an_uploaded_file_is_readable(small_uploads, tmp_path):
    """The refusals above are not a blanket 404: what a visitor uploaded comes back."""
    (served,) = _upload(small_uploads, _png(tmp_path / "mine.png", 64)).json()
    response = _get_file(small_uploads, served)
    assert response.status_code == 200 and response.content[:4] == b"\x89PNG"


def test_a_local_path_as_image_input_is_not_read(small_uploads, tmp_path):
    """A raw API call naming a file on the server, instead of uploading one, is refused."""
    outside = _png(tmp_path / "private.png", 256)  # a real image, never uploaded
    in_repo = ROOT / "examples" / "detection" / "scene_1000011.png"
    for path in (outside, in_repo, Path("/etc/passwd")):
        image = {"path": str(path), "meta": {"_type": "gradio.FileData"}}
        body = json.dumps({"data": [image, ["tiny-retinanet-focal"], 0.3]})
        event, data = raw_call(small_uploads, "detect", body)
        assert event == "error", (path, data[:200])
        assert "detections" not in data and "root:" not in data


# ---------------------------------------------------------------- Hub tokens


def test_publish_takes_the_token_from_the_environment_and_never_prints_it(monkeypatch, capsys, caplog):
    import huggingface_hub

    import publish

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    assert huggingface_hub.get_token() == FAKE_TOKEN  # what HfApi() uses when given no token
    with pytest.raises(SystemExit):  # no --token flag: a token on the command line ends up in shell history
        publish.main(["--space", "someone/vision-lab", "--token", "x", "--dry-run"])

    made = []

    class RecordingApi:
        def __init__(self, *args, **kwargs):
            made.append((args, kwargs))

        def __getattr__(self, name):
            return lambda *a, **kw: None

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    caplog.set_level(logging.DEBUG)
    publish.main(["--space", "someone/vision-lab", "--dry-run"])
    publish.main(["--space", "someone/optimizers", "--demo", "optimizers", "--models-owner", "someone"])
    assert made == [((), {})]  # no token passed in code: huggingface_hub reads HF_TOKEN itself
    out = capsys.readouterr()
    assert FAKE_TOKEN not in out.out + out.err + caplog.text
    assert "someone/optimizers" in out.out
