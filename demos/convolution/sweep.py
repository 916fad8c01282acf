"""Timing the five convolutions side by side, and the roofline they are compared with.

Model code only (no Gradio). GFLOP/s counts the direct definition's FLOPs
(2 · N · C_out · OH · OW · C_in/G · k²) for every method, so a method that does less
arithmetic (FFT, Winograd) shows as *faster than* its arithmetic; the roofline is this
machine's measured fp32 matrix-product rate, the best a GEMM-based convolution can reach.
"""

from __future__ import annotations

import functools
import statistics
import time
from dataclasses import asdict, dataclass

import torch

from shared import device as devices

from .implementations import METHODS, ConvShape, applicable, check_shape, conv2d, extra_bytes

# Inputs of the sweep: one 48x48 feature map, "same" padding.
SWEEP_SIZE = 48
SWEEP_KERNELS = (1, 3, 5, 7, 9, 11, 15)
SWEEP_CHANNELS = (4, 8, 16, 32, 64, 128)
SWEEP_BASE_CHANNELS = 16
MATMUL_SIZE = 1024


@dataclass
class Timing:
    method: str
    seconds: float | None  # median wall time; None when the method does not apply
    gflops: float | None
    max_error: float | None  # largest |difference| from conv2d's output
    extra_bytes: int | None
    note: str = ""

    def as_json(self) -> dict:
        return {k: (round(v, 8) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _median_seconds(fn, repeats: int, device: torch.device, budget_s: float = 1.0) -> float:
    """Median of up to `repeats` timed calls after one warm-up; stops early past `budget_s`."""
    with torch.inference_mode():
        fn()
        devices.synchronise(device)
        times: list[float] = []
        while len(times) < repeats and sum(times) < budget_s:
            t0 = time.perf_counter()
            fn()
            devices.synchronise(device)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


@functools.cache
def matmul_gflops(size: int = MATMUL_SIZE, repeats: int = 5) -> float:
    """This machine's fp32 matrix-product rate (2·n³ FLOPs per product), measured once per process."""
    dev = devices.pick_device()
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=gen).to(dev) for _ in range(2))
    return 2 * size**3 / _median_seconds(lambda: a @ b, repeats, dev) / 1e9


def random_operands(s: ConvShape, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """An input (N, C_in, H, W) and weight (C_out, C_in/G, k, k) of standard normals."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(s.n, s.c_in, s.h, s.w, generator=gen)
    fan_in = s.c_in // s.groups * s.k * s.k
    w = torch.randn(s.c_out, s.c_in // s.groups, s.k, s.k, generator=gen) / fan_in**0.5
    return x, w


def compare(x: torch.Tensor, weight: torch.Tensor, s: ConvShape, repeats: int = 5,
            methods: tuple[str, ...] = tuple(METHODS)) -> list[Timing]:
    """Every method on the same operands: time, GFLOP/s, error against conv2d, extra memory."""
    check_shape(s)
    dev = devices.pick_device()
    x, weight = x.to(dev), weight.to(dev)
    args = (s.stride, s.padding, s.dilation, s.groups)
    with torch.inference_mode():
        reference = conv2d(x, weight, *args)
    rows = []
    for name in methods:
        reason = applicable(name, s)
        if reason:
            rows.append(Timing(name, None, None, None, None, reason))
            continue
        fn = METHODS[name]
        with torch.inference_mode():
            error = float((fn(x, weight, *args) - reference).abs().max())
        times = 1 if name.startswith("direct") else repeats
        seconds = _median_seconds(lambda fn=fn: fn(x, weight, *args), times, dev)
        rows.append(Timing(name, seconds, s.flops / seconds / 1e9, error, extra_bytes(name, s)))
    return rows


@dataclass
class Sweep:
    matmul_gflops: float
    kernels: dict[str, list[float | None]]  # method -> seconds per kernel size in SWEEP_KERNELS
    channels: dict[str, list[float | None]]  # method -> seconds per channel count in SWEEP_CHANNELS
    kernel_flops: list[int]
    channel_flops: list[int]
    kernel_memory: dict[str, list[int | None]]
    channel_memory: dict[str, list[int | None]]
    device: str
    seconds: float  # how long the whole sweep took


def _series(shapes: list[ConvShape], repeats: int) -> tuple[dict, dict, list[int]]:
    times: dict[str, list[float | None]] = {m: [] for m in METHODS}
    memory: dict[str, list[int | None]] = {m: [] for m in METHODS}
    for s in shapes:
        # Direct loops at sweep sizes take ~0.1 s a call: measured, but once.
        for t in compare(*random_operands(s), s, repeats=repeats):
            times[t.method].append(t.seconds)
            memory[t.method].append(t.extra_bytes)
    return times, memory, [s.flops for s in shapes]


def sweep(repeats: int = 3) -> Sweep:
    """Time against kernel size (16 channels in and out) and against channels (3x3), 48x48 input."""
    t0 = time.perf_counter()
    size = SWEEP_SIZE
    by_kernel = [ConvShape(1, SWEEP_BASE_CHANNELS, size, size, SWEEP_BASE_CHANNELS, k, padding=k // 2)
                 for k in SWEEP_KERNELS]
    by_channel = [ConvShape(1, c, size, size, c, 3, padding=1) for c in SWEEP_CHANNELS]
    kernels, kernel_memory, kernel_flops = _series(by_kernel, repeats)
    channels, channel_memory, channel_flops = _series(by_channel, repeats)
    return Sweep(matmul_gflops(), kernels, channels, kernel_flops, channel_flops, kernel_memory,
                 channel_memory, str(devices.pick_device()), time.perf_counter() - t0)


@functools.cache
def cached_sweep() -> Sweep:
    """The sweep, measured on first use and kept for the life of the process."""
    return sweep()
