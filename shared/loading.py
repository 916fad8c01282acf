"""Turn a registry entry into a ready model: find or fetch its weights, load, cache.

Weights are only ever read with safetensors or `torch.load(weights_only=True)`, so a
hostile or damaged file can fail to load but cannot run code. Every failure reaches
the caller as `ModelUnavailable`, whose message names the model and says what to do.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import torch

from shared import device as devices
from shared import errors, settings
from shared.registry import BundledFile, HubFile, ModelSpec, UrlFile, get_spec, specs
from shared.templates import fill


class ModelUnavailable(RuntimeError):
    """A model cannot be served right now; the message is written for the user."""


# The messages, in English; the page's language gets them from these (shared.errors).
MESSAGES = errors.templates("error.model", {
    "missing": "Model [name]: its checkpoint file [source] is missing from this installation. The other "
               "models still work.",
    "offline": "Model [name] needs a download of [mb] MB from [source], and this server is offline. The "
               "bundled models still work.",
    "failed": "Model [name] needs a download of [mb] MB from [source], and the download failed ([detail]). "
              "The bundled models still work.",
    "mismatch": "Model [name]: the file downloaded from [source] does not match its pinned SHA-256, so it "
                "was discarded. The bundled models still work.",
    "damaged": "Model [name]: the checkpoint file [file] is damaged or not a weights file ([kind]). "
               "Delete it so it can be fetched again; the other models still work.",
    "damaged_file": "The checkpoint file [file] is damaged or not a weights file ([kind]). Delete it so it "
                    "can be fetched again; the other models still work.",
    "not_tensors": "Model [name]: the file [file] does not hold a plain dict of tensors.",
    "not_tensors_file": "The file [file] does not hold a plain dict of tensors.",
    "misfit": "Model [name]: the checkpoint does not fit the architecture ([detail]).",
})


offline = settings.offline  # no download may be attempted (machines without internet)


# ---------------------------------------------------------------- where weights live


def url_cache_path(w: UrlFile) -> Path:
    """Where torch.hub keeps a URL download (the same place torchvision uses)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / w.filename


def cached_path(spec: ModelSpec) -> Path | None:
    """The local weights file if it is already here, without touching the network."""
    w = spec.weights
    if isinstance(w, BundledFile):
        return w.path if w.path.is_file() else None
    if isinstance(w, HubFile):
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(w.repo_id, w.filename, revision=w.revision, repo_type=w.repo_type)
        return Path(hit) if isinstance(hit, str) else None
    path = url_cache_path(w)
    return path if path.is_file() else None


def safetensors_problem(path: Path) -> str | None:
    """What is wrong with a `.safetensors` file's layout, read from its header alone
    (None if nothing): garbage, a pickle under the wrong name, or a truncated copy."""
    stat = path.stat()
    return _safetensors_problem(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _safetensors_problem(path: str, size: int, mtime_ns: int) -> str | None:
    import json

    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return "damaged checkpoint file (too short)"
        n = int.from_bytes(head, "little")
        if n > min(size - 8, 100 * 2**20):
            return "damaged checkpoint file (not safetensors)"
        try:
            header = json.loads(f.read(n))
            ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return "damaged checkpoint file (not safetensors)"
    if 8 + n + max(ends, default=0) != size:
        return "damaged checkpoint file (truncated)"
    return None


def availability(spec: ModelSpec) -> tuple[bool, str]:
    """(usable now, a short status) for the `/models` endpoint and the dropdowns."""
    path = cached_path(spec)
    if path is not None:
        if spec.tier == "bundled" and path.suffix == ".safetensors":
            problem = safetensors_problem(path)
            if problem:
                return False, problem
        return True, "bundled" if spec.tier == "bundled" else "cached"
    if spec.tier == "bundled":
        return False, f"missing checkpoint file {spec.source}"
    return False, f"needs download ({spec.size_mb:.0f} MB)"


def fetch(spec: ModelSpec) -> Path:
    """The weights file, downloading it first if allowed and needed."""
    path = cached_path(spec)
    if path is not None:
        return path
    w = spec.weights
    if isinstance(w, BundledFile):
        raise ModelUnavailable(fill(MESSAGES["missing"], name=repr(spec.name), source=spec.source))
    needs = {"name": repr(spec.name), "mb": f"{spec.size_mb:.0f}", "source": spec.source}
    if offline():
        raise ModelUnavailable(fill(MESSAGES["offline"], **needs))
    try:
        if isinstance(w, HubFile):
            from huggingface_hub import hf_hub_download, hf_hub_url

            # huggingface_hub retries a refused connection five times (about 25 s); one quick
            # look first lets an unreachable Hub say so at once.
            _check_reachable(hf_hub_url(w.repo_id, w.filename, revision=w.revision, repo_type=w.repo_type))
            return Path(
                hf_hub_download(w.repo_id, w.filename, revision=w.revision, repo_type=w.repo_type)
            )
        dst = url_cache_path(w)
        dst.parent.mkdir(parents=True, exist_ok=True)
        # torchvision names files `<name>-<first hex digits of sha256>.pth`;
        # torch.hub verifies that prefix after the transfer.
        digest = re.search(r"-([a-f0-9]{6,})\.", w.filename)
        torch.hub.download_url_to_file(w.url, str(dst), digest.group(1) if digest else None, progress=False)
    except Exception as exc:  # network errors come in many types; all mean "not now"
        detail = f"{type(exc).__name__}: {exc}"
        raise ModelUnavailable(fill(MESSAGES["failed"], detail=detail, **needs)) from exc
    if w.sha256 and _sha256(dst) != w.sha256.lower():
        dst.unlink(missing_ok=True)  # never leave unverified bytes where the cache would find them
        raise ModelUnavailable(fill(MESSAGES["mismatch"], name=repr(spec.name), source=spec.source))
    return dst


def _check_reachable(url: str, timeout: float = 5.0) -> None:
    """Raise the transport error if `url`'s server cannot be reached (any HTTP answer will do)."""
    import httpx

    httpx.head(url, timeout=timeout, follow_redirects=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- reading weights


def read_state_dict(path: Path, name: str = "") -> dict[str, torch.Tensor]:
    """Tensors from a `.safetensors` or `.pth` file; never unpickles arbitrary objects."""
    named = "" if name else "_file"  # the messages that name the model, or only the file
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelUnavailable(fill(MESSAGES["damaged" + named], name=repr(name), file=path.name,
                                    kind=type(exc).__name__)) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelUnavailable(fill(MESSAGES["not_tensors" + named], name=repr(name), file=path.name))
    return state


def load_model(spec: ModelSpec, device: torch.device | None = None) -> torch.nn.Module:
    """Build the architecture, fill it with the spec's weights, move it, set eval mode."""
    state = read_state_dict(fetch(spec), spec.name)
    if spec.convert is not None:
        state = spec.convert(state)
    model = spec.build()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelUnavailable(fill(MESSAGES["misfit"], name=repr(spec.name),
                                    detail=str(exc).splitlines()[0])) from exc
    return model.to(device or devices.pick_device()).eval()


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a `.safetensors` file, read from its header only."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def module_bytes(model: Any) -> int:
    """Memory held by a model's parameters and buffers (what the cache budgets)."""
    if not isinstance(model, torch.nn.Module):
        return 0
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


# ---------------------------------------------------------------- the cache


class ModelCache:
    """Loaded models kept in memory, least recently used evicted past a byte budget.

    Thread-safe, and a model is loaded once even when several requests ask for it at
    the same moment: each name has its own lock, held while that model loads.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.loads: Counter[str] = Counter()  # how many times each model was loaded
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._name_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, name: str, device: torch.device | None = None) -> Any:
        with self._lock:
            if name in self._models:
                self._models.move_to_end(name)
                return self._models[name]
            name_lock = self._name_locks.setdefault(name, threading.Lock())
        with name_lock:
            with self._lock:  # another thread may have loaded it while we waited
                if name in self._models:
                    self._models.move_to_end(name)
                    return self._models[name]
            model = load_model(get_spec(name), device)
            self.loads[name] += 1
            with self._lock:
                self._models[name] = model
                self._evict(keep=name)
            return model

    def _evict(self, keep: str) -> None:
        while self.used_bytes() > self.budget_bytes and len(self._models) > 1:
            oldest = next(n for n in self._models if n != keep)
            del self._models[oldest]

    def used_bytes(self) -> int:
        return sum(module_bytes(m) for m in self._models.values())

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


CACHE = ModelCache(int(settings.MODEL_CACHE_MB * 2**20))


def get_model(name: str) -> Any:
    """The shared, cached, ready-to-run model registered as `name`."""
    return CACHE.get(name)


def models_table() -> list[dict[str, Any]]:
    """The registry as JSON-friendly rows, with whether each model is usable now."""
    rows = []
    loaded = set(CACHE.loaded())
    for s in specs():
        usable, status = availability(s)
        rows.append(
            {
                "name": s.name,
                "demo": s.demo,
                "task": s.task,
                "tier": s.tier,
                "source": s.source,
                "size_mb": round(s.size_mb, 1),
                "licence": s.licence,
                "reference_metric": s.reference_metric,
                "paper": s.paper,
                "usable": usable,
                "status": status,
                "loaded": s.name in loaded,
            }
        )
    return rows
