"""Every setting the suite takes from its environment, with its default, in one place.

The sizes of the app's pools and caches are read once, when this module is imported:
they shape the queue and the threads before the first request. Switches that a test
or a Space may flip while a process runs (offline, example caching, the device) are read
on each call. README.md, "Set up", lists the same variables for people.

Nothing here imports torch or Gradio, so any layer may import it.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TRUE = ("1", "true", "yes")


def _text(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _flag(name: str) -> bool:
    return _text(name).lower() in _TRUE


def _whole(name: str, default: int) -> int:
    raw = _text(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}.") from None


# ---------------------------------------------------------------- read once, at import

# Model calls that may run at once: the size of the "model" queue pool (shared.ui), and the
# number the cores are divided by to get torch's threads per call (shared.device). One
# default for both, so the benchmarks measure a call with the threads the app gives it.
MODEL_CONCURRENCY: int = max(1, _whole("VISIONLAB_MODEL_CONCURRENCY", 2))
# Memory the loaded models may hold together before the least recently used is dropped.
MODEL_CACHE_MB: float = float(_text("MODEL_CACHE_MB") or 2048)
# Where the bundled tier's .safetensors files live (e.g. freshly trained ones elsewhere).
CHECKPOINTS: Path = Path(_text("VISIONLAB_CHECKPOINTS") or ROOT / "checkpoints")


# ---------------------------------------------------------------- read on each call


def offline() -> bool:
    """True when no download may be attempted (machines without internet, the tests)."""
    return _flag("VISIONLAB_OFFLINE") or _flag("HF_HUB_OFFLINE")


def device_override() -> str:
    """`DEVICE=cpu|cuda|mps` as asked for ('' when the choice is left to the suite)."""
    return _text("DEVICE").lower()


def torch_threads() -> int | None:
    """`VISIONLAB_TORCH_THREADS`: torch's threads per model call, when set by hand."""
    raw = _text("VISIONLAB_TORCH_THREADS")
    return _whole("VISIONLAB_TORCH_THREADS", 1) if raw else None


def on_zerogpu() -> bool:
    """True on a Hugging Face ZeroGPU Space, where a GPU is attached per request."""
    return _flag("SPACES_ZERO_GPU")


def acceleration_dir() -> Path:
    """`VISIONLAB_ACCELERATION_DIR`: where measured speed-ups and checked serving paths are kept,
    one file per machine (artifacts/acceleration, which git ignores, unless set)."""
    return Path(_text("VISIONLAB_ACCELERATION_DIR") or ROOT / "artifacts" / "acceleration")


def scene_cache() -> tuple[Path, int]:
    """Where the detection experiment caches its generated scenes, and how many per chunk
    (`VISIONLAB_SCENE_CACHE`, `VISIONLAB_SCENE_CHUNK`; tests use a temporary folder and small chunks)."""
    return (Path(_text("VISIONLAB_SCENE_CACHE") or ROOT / "runs" / "detection_cache"),
            max(1, _whole("VISIONLAB_SCENE_CHUNK", 1000)))


def serve_defaults() -> dict[str, str | int]:
    """Defaults of `python app.py`'s options: the tab to serve alone, host, port, upload limit."""
    return {
        "demo": _text("DEMO"),
        "host": _text("GRADIO_SERVER_NAME") or "127.0.0.1",
        "port": _whole("GRADIO_SERVER_PORT", 7860),
        "max_file_size": _text("MAX_FILE_SIZE") or "20mb",
    }
