"""One compression run from start to finish, and the table Deep Compression reports.

Model code only (no Gradio): prune and share (`compress`), optionally fine-tune the
centroids, write the file (`codec`), load it back through the suite's loader, check the
loaded model computes exactly what the in-memory one does, and measure the quality of
both the original and the compressed model (`targets`). Results for the same settings
are kept in memory, so the tab's defaults answer at once after the first time.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from shared.templates import fill
from shared.validation import BadInput

from . import codec, targets
from .compress import (
    Compressed,
    Progress,
    SharedLayer,
    check_settings,
    compress,
    fine_tune,
    prune_and_retrain,
    quiet,
)
from .errors import MESSAGES

OUT_DIR = Path(tempfile.gettempdir()) / "visionlab-compressed"
FRONTIER = Path(__file__).with_name("frontier.json")
DEFAULTS = {"model": targets.DETECTOR, "k": 32, "sparsity": 0.2, "init": "linear", "fine_tune_steps": 0,
            "huffman": True}
MAX_FINE_TUNE_STEPS = 500
FINE_TUNE_LR = 1e-3
RETRAIN_LR = 1e-4  # the kept weights of a trained model: small steps

# Han et al. 2016 (ICLR), "Deep Compression", Table 4: AlexNet after pruning and weight sharing
# (P+Q): weights, % kept, bits per cluster index, bits per relative position index, size vs fp32.
PAPER = "Han, Mao & Dally 2016, Deep Compression (ICLR), Table 4"
PAPER_ALEXNET = [
    ("conv1", "35K", "84%", 8, 4, "32.6%"), ("conv2", "307K", "38%", 8, 4, "14.5%"),
    ("conv3", "885K", "35%", 8, 4, "13.1%"), ("conv4", "663K", "37%", 8, 4, "14.1%"),
    ("conv5", "442K", "37%", 8, 4, "14.0%"), ("fc6", "38M", "9%", 5, 4, "3.0%"),
    ("fc7", "17M", "9%", 5, 4, "3.0%"), ("fc8", "4M", "25%", 5, 4, "7.3%"),
    ("total", "61M", "11% (9×)", 5.4, 4, "3.7% (27×)"),
]
PAPER_HUFFMAN_TOTAL = "35× with Huffman coding (same paper)"
TABLE_COLUMNS = ["layer", "weights", "% kept", "weight bits", "index bits", "bytes", "compress rate"]


@dataclass
class Result:
    settings: dict
    layers: list[SharedLayer]
    sizes: list[dict]  # per layer: bytes of indices, positions and codebook (codec.encode)
    path: Path  # the compressed file
    file_bytes: int
    baseline_bytes: int
    identical: bool  # the loaded model's outputs equal the in-memory compressed model's, bit for bit
    quality: dict
    images: tuple[Image.Image, Image.Image]  # the model's output on the example, before and after
    seconds: dict[str, float]
    losses: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.baseline_bytes / self.file_bytes

    def as_json(self) -> dict:
        return {"settings": self.settings, "file_bytes": self.file_bytes,
                "baseline_bytes": self.baseline_bytes, "ratio": round(self.ratio, 3),
                "identical_after_reload": self.identical, "quality": self.quality,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "table": {"columns": TABLE_COLUMNS, "rows": table(self)},
                "fine_tune_losses": [round(v, 4) for v in self.losses]}


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module, name: str) -> bool:
    """Weights and raw outputs on the example image compared bit for bit."""
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys() or not all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa):
        return False
    image = targets.example_image(name)
    first, second = targets.raw_outputs(name, a, image), targets.raw_outputs(name, b, image)
    return all(torch.equal(x, y) for x, y in zip(first, second, strict=True))


def run(model: str = DEFAULTS["model"], k: int = DEFAULTS["k"], sparsity: float = DEFAULTS["sparsity"],
        init: str = DEFAULTS["init"], fine_tune_steps: int = 0, huffman: bool = True,
        retrain_steps: int = 0, progress: Progress = quiet) -> Result:
    """Compress, fine-tune, save, reload and measure one model. With `retrain_steps` (and a
    sparsity), the kept weights are retrained after pruning and before clustering, as Deep
    Compression does; without, only the shared centroids (and biases) are fine-tuned."""
    name = targets.check_model(model)
    k, sparsity, init = check_settings(k, sparsity, init)
    for steps, what in ((fine_tune_steps, "fine_tuning"), (retrain_steps, "retraining")):
        if not 0 <= steps <= MAX_FINE_TUNE_STEPS:
            raise BadInput(fill(MESSAGES["steps"], what=MESSAGES[what], most=MAX_FINE_TUNE_STEPS,
                                value=steps))
    settings = {"model": name, "k": k, "sparsity": sparsity, "init": init, "fine_tune_steps": fine_tune_steps,
                "huffman": huffman}
    if retrain_steps:  # only when used, so earlier results and cache keys keep their settings
        settings["retrain_steps"] = retrain_steps
    t0 = time.perf_counter()
    progress(0.0, f"loading {name} and measuring the original")
    source = targets.original(name)
    before = targets.evaluate_original(name)
    seconds = {"original": time.perf_counter() - t0}
    start = source  # what is clustered: the original, or its pruned and retrained copy
    if retrain_steps and sparsity > 0:
        t = time.perf_counter()
        start = prune_and_retrain(source, sparsity, targets.training_loss(name), retrain_steps, RETRAIN_LR,
                                   progress=lambda f, m: progress(0.05 + 0.25 * f, m))
        seconds["retrain_pruned"] = time.perf_counter() - t
    t = time.perf_counter()
    c: Compressed = compress(start, k, sparsity, init, progress=lambda f, m: progress(0.3 + 0.05 * f, m))
    seconds["prune_and_share"] = time.perf_counter() - t
    losses = []
    if fine_tune_steps:
        # The biases and norm parameters are stored uncompressed, so training them costs no bytes.
        losses = fine_tune(c, targets.training_loss(name), fine_tune_steps, lr=FINE_TUNE_LR, dense=True,
                           progress=lambda f, m: progress(0.3 + 0.5 * f, m))
        seconds["fine_tune"] = c.seconds["fine_tune"]
    progress(0.8, "writing the compressed file and loading it back")
    t = time.perf_counter()
    tag = (f"k{k}-s{sparsity:g}-{init}-ft{fine_tune_steps}-rt{retrain_steps}-"
           f"{'huffman' if huffman else 'fixed'}")
    path = OUT_DIR / f"{name}-{tag}.safetensors"
    sizes = codec.save(path, c.layers, c.model.state_dict(), name, huffman)
    loaded = codec.load(path, torch.device("cpu"))
    seconds["save_and_load"] = time.perf_counter() - t
    identical = _same_outputs(c.model, loaded, name)
    progress(0.85, "measuring the compressed model")
    t = time.perf_counter()
    after = targets.evaluate(name, loaded)
    quality = targets.quality_change(name, before, after)
    seconds["evaluate"] = time.perf_counter() - t
    image = targets.example_image(name)
    images = (targets.show(name, source, image, "original"),
              targets.show(name, loaded, image, f"compressed ({path.stat().st_size / 1024:.0f} KB)"))
    seconds["total"] = time.perf_counter() - t0
    return Result(settings, c.layers, sizes, path, path.stat().st_size, targets.baseline_bytes(name),
                  identical, quality, images, seconds, losses)


_CACHE: OrderedDict[tuple, Result] = OrderedDict()
_LOCKS: dict[tuple, threading.Lock] = {}
_GUARD = threading.Lock()
CACHE_SIZE = 16


def cached_run(progress: Progress = quiet, **settings) -> tuple[Result, bool]:
    """`run` with its results kept for the same settings; (result, whether it came from the cache)."""
    key = tuple(sorted((DEFAULTS | settings).items()))
    with _GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:  # the same settings asked twice at once are computed once
        with _GUARD:
            if key in _CACHE and _CACHE[key].path.is_file():
                _CACHE.move_to_end(key)
                return _CACHE[key], True
        result = run(**(DEFAULTS | settings), progress=progress)
        with _GUARD:
            _CACHE[key] = result
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    return result, False


# ---------------------------------------------------------------- the table


def _bits(info: dict | None, kept: int, default: float | None) -> float | None:
    if info is None:
        return default
    if info["coding"] == "huffman":
        return info["nbits"] / max(kept, 1)
    return info["bits"] * info["count"] / max(kept, 1)


def table(result: Result) -> list[list]:
    """Per layer and in total, the columns of the paper's Table 4, measured on this file."""
    rows, total = [], {"weights": 0, "kept": 0, "index": 0.0, "position": 0.0, "bytes": 0}
    for layer, size in zip(result.layers, result.sizes, strict=True):
        weight_bits = _bits(size["index_info"], layer.kept, None)
        index_bits = _bits(size["position_info"], layer.kept, 0.0)
        nbytes = size["index_bytes"] + size["position_bytes"] + size["codebook_bytes"]
        rows.append([layer.name.removesuffix(".weight"), layer.numel, f"{layer.kept / layer.numel:.0%}",
                     round(weight_bits, 2), round(index_bits, 2), nbytes,
                     f"{nbytes / (4 * layer.numel):.1%}"])
        total["weights"] += layer.numel
        total["kept"] += layer.kept
        total["index"] += weight_bits * layer.kept
        total["position"] += index_bits * layer.kept
        total["bytes"] += nbytes
    kept = max(total["kept"], 1)
    rate = total["bytes"] / (4 * total["weights"])
    rows.append(["total", total["weights"], f"{total['kept'] / total['weights']:.0%}",
                 round(total["index"] / kept, 2), round(total["position"] / kept, 2), total["bytes"],
                 f"{rate:.1%} ({1 / rate:.0f}×)"])
    return rows


def frontier() -> dict:
    """Measured quality against k, sparsity and fine-tuning (`python -m demos.convolution.frontier`)."""
    if not FRONTIER.is_file():
        return {"points": [], "machine": ""}
    return json.loads(FRONTIER.read_text(encoding="utf-8"))
