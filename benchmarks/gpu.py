"""CUDA rows: each bundled network in fp32 and under the app's half-precision autocast.

Only on a machine with CUDA; elsewhere `rows()` returns nothing and the table says so.
GPU work is queued asynchronously, so every timed call ends with
`shared.device.synchronise`: without it the clock would stop when the kernels were
launched, not when they finished. The app itself runs inference under
`shared.device.autocast` (fp16 on CUDA); the bf16 rows show the alternative where the
GPU supports it. The networks are timed alone (no image decoding or drawing), on the
same inputs as the CPU rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from benchmarks.timing import ROOT, measure, row
from shared import device as devices
from shared.loading import load_model
from shared.registry import get_spec, specs


def available() -> bool:
    return torch.cuda.is_available()


def _inputs(demo: str, dev: torch.device) -> Callable[[torch.nn.Module], object]:
    """A call of one bundled network of `demo` on the input its CPU rows use."""
    if demo == "detection":
        from demos.detection.data import to_tensor
        from shared.images import load_image

        x = to_tensor(load_image(ROOT / "examples" / "detection" / "scene_1000011.png").image).to(dev)
        return lambda model: model([x])
    if demo == "cyclegan":
        x = torch.rand(1, 3, 256, 256, device=dev) * 2 - 1
        return lambda model: model(x)
    if demo == "pose":
        from demos.pose.data import to_tensor
        from demos.pose.inference import run
        from shared.images import load_image

        scene = next((ROOT / "examples" / "pose").glob("scene_*_4people.png"))
        x = to_tensor(load_image(scene).image).to(dev)
        return lambda model: run(model, x)
    raise KeyError(demo)


def _precisions() -> list[tuple[str, torch.dtype | None]]:
    out: list[tuple[str, torch.dtype | None]] = [("fp32", None), ("fp16 autocast (the app's)", torch.float16)]
    if torch.cuda.is_bf16_supported():
        out.append(("bf16 autocast", torch.bfloat16))
    return out


def rows(repeats: int) -> list[dict]:
    if not available():
        return []
    dev = torch.device("cuda")
    label = f"cuda ({torch.cuda.get_device_name(dev)})"
    out = []
    for spec in specs():
        if spec.tier != "bundled" or spec.demo not in ("detection", "cyclegan", "pose"):
            continue
        model = load_model(get_spec(spec.name), dev)
        call = _inputs(spec.demo, dev)
        for name, dtype in _precisions():
            def timed(model=model, call=call, dtype=dtype) -> None:
                amp = torch.autocast("cuda", dtype=dtype) if dtype is not None else contextlib.nullcontext()
                with torch.inference_mode(), amp:
                    call(model)
                devices.synchronise(dev)  # the kernels finished, not merely launched

            t = measure(timed, repeats=repeats, warmup=3)  # warm-up also lets cuDNN pick its kernels
            out.append(row(f"gpu: {spec.name}, model only, {name}", t, device=label))
        del model
        torch.cuda.empty_cache()
    return out
