"""The acceleration techniques, each applied to a copy of an fp32 model by a well-kept library.

Model code only (no Gradio). A technique turns an fp32 model into something to time: a
model (often the same object, converted in place) and a context each call runs inside
(autocast, inference mode, a thread count). Each says where it cannot run, in plain
words, so the others are still measured, and each states a *tolerance*: the largest
difference from fp32 eager, relative to each raw output's largest magnitude, that its
numbers may show and still count as the same model (shared.acceleration.differences).

Who does the work: torch (inference mode, threads, memory format, autocast), torch.compile
with its inductor backend and CUDA graphs, torch.ao.quantization (dynamic int8 for Linear
layers, FX static int8 with the x86 backend, calibrated on the model's own images), and
the convolution tab's Deep Compression (pruning + k-means weight sharing).
"""

from __future__ import annotations

import contextlib
import copy
import io
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from shared import acceleration as serving
from shared import device as devices
from shared.templates import fill

LEVELS = ("baseline", "system", "hardware", "computation")

# Why a technique cannot run here, and what a measured row should be read with: one template each
# ([name] marks a value, see shared.templates). A measurement keeps them in English; the tab says them
# again in the page's language from the same templates.
REASONS = {
    "gpu_threads": "threads matter for CPU inference; this model runs on the GPU",
    "all_cores": "every call already gets all [cores] cores",
    "needs_cuda": "needs a CUDA GPU; this machine has none",
    "cpu_variant": "the CPU variant; this model runs on the GPU (see the CUDA rows)",
    "zerogpu": "torch.compile is not available on ZeroGPU Spaces (the GPU is attached per call)",
    "no_linear": "the model has no Linear layers, the only ones dynamic int8 quantises",
    "int8_cpu": "torch.ao's int8 kernels run on the CPU only",
    "no_x86": "this torch build has no x86 int8 kernels",
    "no_layers": "the model has no convolution or Linear layers to prune and share",
}
NOTES = {
    "threads": "[cores] threads instead of [threads]: the app gives each of its concurrent model calls an "
               "equal share of the cores",
    "autocast": "weights stay fp32; the networks' convolutions and matrix products run in reduced precision, "
                "box decoding and selection in fp32",
    "compiled": "box selection and NMS stay eager; only the fixed-shape parts are compiled",
    "dynamic_int8": "Linear weights in int8, activations quantised per call",
    "static_int8": "int8 [parts]; heads and box selection in fp32; calibrated on [n] of the model's own "
                   "images",
    "compressed": "k=[k] clusters per layer, [pruned] pruned, Huffman-coded file; dense kernels still "
                  "multiply the zeros",
}


@dataclass
class Prepared:
    """A technique applied: the model to call, the context each call runs in, what it cost."""

    model: nn.Module
    context: Callable[[], contextlib.AbstractContextManager]
    seconds: float = 0.0  # converting (compiling, calibrating, clustering) before the first call
    file_bytes: int | None = None  # the converted model written out; None: as fp32
    note: str = ""


@dataclass
class Subject:
    """What a technique needs to know about the model it is applied to."""

    model: nn.Module  # fp32 eager, not shared with anything else (a technique may change it)
    device: torch.device
    call: Callable[[nn.Module, object], object]  # one inference as served
    calibration: list  # inputs of the model's own kind, for int8 calibration
    name: str = ""


@dataclass(frozen=True)
class Technique:
    name: str
    level: str  # one of LEVELS: where the notes' answer files it
    tolerance: float  # relative max output difference from fp32 eager that still counts as the same
    what: str  # one line: what it does and which library does it
    unavailable: Callable[[Subject], str | None]
    apply: Callable[[Subject], Prepared]


def state_bytes(model: nn.Module) -> int:
    """Bytes of the model's state dict as torch.save writes it (packed int8 weights included)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


# ---------------------------------------------------------------- the dense parts


def dense_parts(model: nn.Module) -> list[tuple[nn.Module | None, str]]:
    """(parent, attribute) of the networks inside `model` (shared.acceleration.dense_parts), or
    [(None, "")]: the model is one network. Box selection, NMS and grouping stay eager."""
    return serving.dense_parts(model) or [(None, "")]


def _replace(model: nn.Module, convert: Callable[[nn.Module, str], nn.Module],
             parts: list[tuple[nn.Module | None, str]] | None = None) -> nn.Module:
    """`model` with each dense part replaced by `convert(part, where)`; the model itself if it is one."""
    for parent, attribute in parts if parts is not None else dense_parts(model):
        if parent is None:
            return convert(model, "model")
        setattr(parent, attribute, convert(getattr(parent, attribute), attribute))
    return model


def _calibrate(subject: Subject, model: nn.Module, context: Callable = contextlib.nullcontext) -> None:
    with torch.inference_mode(), context():
        for item in subject.calibration:
            subject.call(model, item)


# ---------------------------------------------------------------- system level


def _always(subject: Subject) -> str | None:
    return None


def _eager(subject: Subject) -> Prepared:
    return Prepared(subject.model, torch.no_grad)


def _inference_mode(subject: Subject) -> Prepared:
    return Prepared(subject.model, torch.inference_mode)


def _threads_unavailable(subject: Subject) -> str | None:
    cores = devices.usable_cores()
    if subject.device.type != "cpu":
        return REASONS["gpu_threads"]
    if torch.get_num_threads() >= cores:
        return fill(REASONS["all_cores"], cores=cores)
    return None


@contextlib.contextmanager
def _all_cores():
    before = torch.get_num_threads()
    torch.set_num_threads(devices.usable_cores())
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(before)


def _threads(subject: Subject) -> Prepared:
    return Prepared(subject.model, _all_cores,
                    note=fill(NOTES["threads"], cores=devices.usable_cores(),
                              threads=torch.get_num_threads()))


def _channels_last(subject: Subject) -> Prepared:
    subject.model.to(memory_format=torch.channels_last)
    return Prepared(subject.model, torch.inference_mode)


# ---------------------------------------------------------------- hardware level: precision


def _serving_path(name: str) -> serving.ServingPath:
    return next(p for p in serving.PATHS if p.name == name)


def _autocast_unavailable(device_type: str, dtype: torch.dtype) -> Callable[[Subject], str | None]:
    def unavailable(subject: Subject) -> str | None:
        if subject.device.type != device_type:
            return REASONS["needs_cuda"] if device_type == "cuda" else REASONS["cpu_variant"]
        return serving.ServingPath("", device_type, False, dtype).unavailable(subject.device)
    return unavailable


def _autocast(device_type: str, dtype: torch.dtype, channels_last: bool) -> Callable[[Subject], Prepared]:
    path = serving.ServingPath("", device_type, channels_last, dtype)

    def apply(subject: Subject) -> Prepared:
        path.apply(subject.model)

        @contextlib.contextmanager
        def context():
            with torch.inference_mode(), path.context(subject.model):
                yield

        return Prepared(subject.model, context, note=NOTES["autocast"])
    return apply


# ---------------------------------------------------------------- graph compilers


def _compile_unavailable(subject: Subject) -> str | None:
    if devices.on_zerogpu():
        return REASONS["zerogpu"]
    return None


def _compiled(subject: Subject, mode: str | None) -> Prepared:
    t0 = time.perf_counter()
    model = _replace(subject.model, lambda part, where: torch.compile(part, mode=mode, dynamic=False))
    _calibrate(subject, model)  # the first calls compile: their time is the conversion's
    return Prepared(model, torch.inference_mode, seconds=time.perf_counter() - t0,
                    note=NOTES["compiled"])


def _cuda_graphs_unavailable(subject: Subject) -> str | None:
    if subject.device.type != "cuda":
        return REASONS["needs_cuda"]
    return _compile_unavailable(subject)


# ---------------------------------------------------------------- computation level


def _has_linear(subject: Subject) -> str | None:
    if not any(isinstance(m, nn.Linear) for m in subject.model.modules()):
        return REASONS["no_linear"]
    if subject.device.type != "cpu":
        return REASONS["int8_cpu"]
    return None


def _dynamic_int8(subject: Subject) -> Prepared:
    from torch.ao.quantization import quantize_dynamic

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao announces its move to torchao on every call
        model = quantize_dynamic(subject.model, {nn.Linear}, dtype=torch.qint8)
    return Prepared(model, torch.inference_mode, seconds=time.perf_counter() - t0,
                    file_bytes=state_bytes(model),
                    note=NOTES["dynamic_int8"])


def _frozen_bn_to_bn(module: nn.Module) -> None:
    """torchvision's FrozenBatchNorm2d as an eval-mode BatchNorm2d, which FX fuses into its conv."""
    from torchvision.ops.misc import FrozenBatchNorm2d

    for name, child in module.named_children():
        if isinstance(child, FrozenBatchNorm2d):
            bn = nn.BatchNorm2d(child.weight.numel(), eps=child.eps).eval()
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(bn, key).data.copy_(getattr(child, key))
            setattr(module, name, bn)
        else:
            _frozen_bn_to_bn(child)


def _static_unavailable(subject: Subject) -> str | None:
    if subject.device.type != "cpu":
        return REASONS["int8_cpu"]
    if "x86" not in torch.backends.quantized.supported_engines:
        return REASONS["no_x86"]
    return None


def _static_int8(subject: Subject) -> Prepared:
    """FX graph-mode post-training quantisation of the dense parts: conv + BN (+ ReLU) fused, per-channel
    int8 weights, activation ranges observed on the model's own images."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    t0 = time.perf_counter()
    torch.backends.quantized.engine = "x86"
    mapping = get_default_qconfig_mapping("x86")
    # The convolution trunks; torchvision's FPN (a dict in, a dict out) does not trace, so its trunk
    # (`backbone.body`) is what is quantised there.
    parts = []
    for parent, attribute in dense_parts(subject.model):
        if attribute == "backbone" and hasattr(getattr(parent, attribute), "body"):
            parts.append((getattr(parent, attribute), "body"))
        elif attribute in ("backbone", "keypoints", "net", ""):
            parts.append((parent, attribute))

    def prepare(part: nn.Module, where: str) -> nn.Module:
        _frozen_bn_to_bn(part)
        return prepare_fx(part.eval(), mapping, example_inputs=(torch.rand(1, 3, 64, 64),))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _replace(subject.model, prepare, parts)
        _calibrate(subject, model)  # observers record activation ranges
        model = _replace(model, lambda part, where: convert_fx(part), parts)
    return Prepared(model, torch.inference_mode, seconds=time.perf_counter() - t0,
                    file_bytes=state_bytes(model),
                    note=fill(NOTES["static_int8"], parts=", ".join(a or "model" for _, a in parts),
                              n=len(subject.calibration)))


def _compress_unavailable(subject: Subject) -> str | None:
    if not any(isinstance(m, (nn.Conv2d, nn.Linear)) for m in subject.model.modules()):
        return REASONS["no_layers"]
    return None


COMPRESSION = {"k": 32, "sparsity": 0.2}  # the convolution tab's defaults


def _compressed(subject: Subject) -> Prepared:
    from demos.convolution import codec
    from demos.convolution.compress import compress

    t0 = time.perf_counter()
    result = compress(subject.model, k=COMPRESSION["k"], sparsity=COMPRESSION["sparsity"])
    tensors, _ = codec.encode(result.layers, result.model.state_dict(), subject.name, huffman=True)
    size = sum(t.numel() * t.element_size() for t in tensors.values())
    model = result.model.to(subject.device)
    return Prepared(model, torch.inference_mode, seconds=time.perf_counter() - t0, file_bytes=size,
                    note=fill(NOTES["compressed"], k=COMPRESSION["k"],
                              pruned=f"{COMPRESSION['sparsity']:.0%}"))


# ---------------------------------------------------------------- the list


TECHNIQUES: list[Technique] = [
    Technique("fp32 eager", "baseline", 0.0, "the model as trained, gradients off (torch.no_grad)",
              _always, _eager),
    Technique("inference_mode", "system", 1e-6, "torch.inference_mode: no autograd bookkeeping at all",
              _always, _inference_mode),
    Technique("all cores", "system", 1e-4, "torch.set_num_threads: one call gets every core",
              _threads_unavailable, _threads),
    Technique("channels-last", "system", 1e-4, "memory format NHWC, which oneDNN and cuDNN convolve "
              "without reordering", _always, _channels_last),
    Technique("bf16 autocast", "hardware", serving.SERVE_TOLERANCE, "torch.autocast on the CPU: bf16 "
              "convolutions and matrix products on AVX512-BF16/AMX units",
              _autocast_unavailable("cpu", torch.bfloat16), _autocast("cpu", torch.bfloat16, False)),
    Technique("bf16 autocast + channels-last", "hardware", serving.SERVE_TOLERANCE, "both of the above: "
              "what the app serves the pretrained tier with on such a CPU",
              _autocast_unavailable("cpu", torch.bfloat16), _autocast("cpu", torch.bfloat16, True)),
    Technique("fp16 autocast + channels-last (CUDA)", "hardware", serving.SERVE_TOLERANCE,
              "torch.autocast on CUDA: fp16 on the tensor cores",
              _autocast_unavailable("cuda", torch.float16),
              _autocast("cuda", torch.float16, True)),
    Technique("bf16 autocast + channels-last (CUDA)", "hardware", serving.SERVE_TOLERANCE,
              "torch.autocast on CUDA: bf16 on the tensor cores",
              _autocast_unavailable("cuda", torch.bfloat16),
              _autocast("cuda", torch.bfloat16, True)),
    Technique("CUDA graphs", "system", 1e-3, "torch.compile(mode='reduce-overhead'): the parts' kernels "
              "replayed as one CUDA graph", _cuda_graphs_unavailable,
              lambda s: _compiled(s, "reduce-overhead")),
    Technique("torch.compile", "system", 1e-3, "torch.compile with inductor: fused kernels for the "
              "fixed-shape parts (slow to compile on a small CPU)", _compile_unavailable,
              lambda s: _compiled(s, None)),
    Technique("int8 dynamic", "computation", 0.1, "torch.ao.quantization.quantize_dynamic: int8 Linear "
              "layers", _has_linear, _dynamic_int8),
    Technique("int8 static (x86)", "computation", 0.25, "torch.ao FX post-training quantisation with the "
              "x86 backend, calibrated on the model's own images", _static_unavailable, _static_int8),
    Technique("pruning + weight sharing", "computation", 0.25, "the convolution tab's Deep Compression: "
              "magnitude pruning and k-means weight sharing", _compress_unavailable, _compressed),
]
BY_NAME = {t.name: t for t in TECHNIQUES}
NAMES = [t.name for t in TECHNIQUES]
BASELINE = "fp32 eager"


def prepare(technique: Technique, subject: Subject) -> Prepared:
    """`technique` applied to a deep copy of the subject's model (the subject itself stays fp32)."""
    own = copy.copy(subject)
    own.model = copy.deepcopy(subject.model)
    return technique.apply(own)
