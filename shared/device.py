"""Where inference runs: CUDA, then Apple's MPS, then the CPU (`DEVICE=` overrides).

On Hugging Face ZeroGPU a GPU is attached only while a function wrapped by
`spaces.GPU` runs; `gpu()` applies that wrapper there and is the identity elsewhere,
so the same handler code serves every machine.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from collections.abc import Callable
from typing import TypeVar

from shared import settings

# OpenMP threads that wait for work sleep instead of spinning. With spinning (libgomp's
# default) a model's threads burn the cores while they wait for each other, and as soon
# as anything else runs on the machine (a second request, Gradio's own threads, another
# process) a 20 ms model was measured at 1-2 s; sleeping waiters keep it near 50 ms
# (BENCHMARKS.md, "threads"). OpenMP reads this once, when torch loads it, so it is set
# before the import; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

F = TypeVar("F", bound=Callable)


on_zerogpu = settings.on_zerogpu


@functools.cache
def pick_device() -> torch.device:
    """The device models are moved to at load time."""
    wanted = settings.device_override()
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


def usable_cores() -> int:
    """CPU cores this process may run on (a container's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure_threads(concurrency: int | None = None) -> int:
    """Give each concurrently running model an equal share of the cores; returns the count.

    torch defaults to one intra-op thread per core for *each* model call. Two calls at
    once on 2 cores then run 4 busy threads on 2 cores, and OpenMP threads that wait
    for each other while descheduled turn a 20 ms model into hundreds of ms. So the
    threads per call are cores // concurrency, where concurrency is how many model
    calls the app lets run at once (`settings.MODEL_CONCURRENCY`, the same number that
    sizes the app's model pool). VISIONLAB_TORCH_THREADS overrides the result.
    """
    if concurrency is None:
        concurrency = settings.MODEL_CONCURRENCY
    wanted = settings.torch_threads()
    threads = max(1, wanted if wanted is not None else usable_cores() // max(1, concurrency))
    torch.set_num_threads(threads)
    return threads


def machine_description() -> str:
    """The machine a training run or a measurement ran on, for model cards and reports."""
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores "
            f"({torch.get_num_threads()} torch threads), Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def code_version(root: str | None = None) -> dict[str, str | bool] | None:
    """The commit of the checkout this project runs from (or `root`), and whether it had
    uncommitted changes (None outside a git checkout). A trainer takes it as it starts, so a
    results file names the code the run was started with, even if the checkout moves on
    while a long run goes."""
    import subprocess

    root = root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "modified": bool(status.strip())}


def describe() -> str:
    """A one-line name of the machine, printed beside every measured figure."""
    dev = pick_device()
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"{dev.type} ({os.cpu_count()} cores, torch {torch.__version__})"
