"""Where inference runs: CUDA, then Apple's MPS, then the CPU (`DEVICE=` overrides).

On Hugging Face ZeroGPU a GPU is attached only while a function wrapped by
`spaces.GPU` runs; `gpu()` applies that wrapper there and is the identity elsewhere,
so the same handler code serves every machine.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)


def on_zerogpu() -> bool:
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


@functools.cache
def pick_device() -> torch.device:
    """The device models are moved to at load time."""
    wanted = os.environ.get("DEVICE", "").strip().lower()
    if wanted:
        return torch.device(wanted)
    if on_zerogpu() or torch.cuda.is_available():
        # On ZeroGPU, CUDA looks absent outside `spaces.GPU` calls, yet models must be
        # placed on "cuda" at start-up: the `spaces` package defers the real transfer.
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def gpu(fn: F | None = None, *, duration: int = 60) -> F | Callable[[F], F]:
    """Mark a request handler as needing the GPU (ZeroGPU); a no-op elsewhere."""

    def wrap(f: F) -> F:
        if not on_zerogpu():
            return f
        import spaces

        return spaces.GPU(duration=duration)(f)

    return wrap(fn) if fn is not None else wrap


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Half precision on CUDA, where it is fast and safe for inference; fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def synchronise(device: torch.device) -> None:
    """Wait for queued GPU work, so a wall-clock timing covers the computation itself."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def describe() -> str:
    """A one-line name of the machine, printed beside every measured figure."""
    dev = pick_device()
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"{dev.type} ({os.cpu_count()} cores, torch {torch.__version__})"
