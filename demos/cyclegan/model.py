"""CycleGAN networks: the ResNet generator and the 70x70 PatchGAN discriminator.

The generator's module tree mirrors the authors' reference implementation
(pytorch-CycleGAN-and-pix2pix, `networks.ResnetGenerator` with norm=instance,
reflection padding, no dropout) index for index, so their published `.pth` files load
into it with `load_state_dict(strict=True)` after `convert_official`. The same class,
narrower and shallower, is what this project trains for the bundled tier.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from shared.loading import read_metadata

FORMAT = "vision-lab-cyclegan-1"


@dataclass(frozen=True)
class GeneratorConfig:
    ngf: int = 64
    n_blocks: int = 9
    in_ch: int = 3
    out_ch: int = 3


# The paper's generator (9 blocks, for 256 px) and the bundled one. The bundled width
# was chosen by timing 256x256 inference on a 2-core CPU: the full-resolution layers
# (7x7 convolutions, norms) dominate, and 8 channels there keeps a pass near 30 ms,
# while 16 channels costs about 100 ms of CPU time. Residual blocks are cheap
# (32 channels at 1/4 resolution), so the bundled model keeps the paper's 6 for 128 px.
OFFICIAL = GeneratorConfig(ngf=64, n_blocks=9)
BUNDLED = GeneratorConfig(ngf=8, n_blocks=6)


def _norm(channels: int) -> nn.InstanceNorm2d:
    # Instance norm without affine parameters or running statistics, as the authors
    # trained it; this is why the official files hold no norm keys.
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """x + conv-norm-relu-conv-norm, reflection padded; attribute name matches the reference."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        # Indices 1 and 5 hold the weights: `conv_block.1.weight`, `conv_block.5.weight`.
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            _norm(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            _norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d(2ngf), d(4ngf), n_blocks x R(4ngf), u(2ngf), u(ngf), c7s1-out, tanh.

    Input and output are images scaled to [-1, 1], (N, C, H, W). Fully convolutional:
    any H, W divisible by 4 works, so a model trained on small crops runs at 256 px.
    """

    def __init__(self, in_ch: int = 3, out_ch: int = 3, ngf: int = 64, n_blocks: int = 9) -> None:
        super().__init__()
        self.config = GeneratorConfig(ngf=ngf, n_blocks=n_blocks, in_ch=in_ch, out_ch=out_ch)
        # Convolutions carry biases because instance norm has no affine shift (the
        # reference sets use_bias=True for instance norm).
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_ch, ngf, kernel_size=7, padding=0, bias=True),
            _norm(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):  # two stride-2 downsamplings: model.4 and model.7
            c = ngf * 2**i
            layers += [
                nn.Conv2d(c, 2 * c, kernel_size=3, stride=2, padding=1, bias=True),
                _norm(2 * c),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):  # two stride-2 transposed convolutions back to full size
            c = ngf * 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(
                    c, c // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=True
                ),
                _norm(c // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_ch, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: a grid of real/fake scores, each seeing a 70x70 patch when n_layers=3.

    Same layer recipe as the reference `NLayerDiscriminator` (4x4 convs, LeakyReLU 0.2,
    instance norm except on the first layer), with a configurable width `ndf`.
    """

    def __init__(self, in_ch: int = 3, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_ch, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1  # the last hidden layer keeps the resolution
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=True),
                _norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # (N, 1, H', W'): one LSGAN score per patch


# ---------------------------------------------------------------- official files

# Old checkpoints were saved by a PyTorch whose InstanceNorm kept running statistics;
# the reference code deletes these keys before loading, and so do we.
_STRAY_NORM_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def convert_official(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An authors' generator state dict, ready for `ResnetGenerator.load_state_dict(strict=True)`."""
    out = {}
    for key, value in state.items():
        if key.startswith("module."):  # saved from nn.DataParallel
            key = key[len("module.") :]
        if key.rsplit(".", 1)[-1] in _STRAY_NORM_SUFFIXES:
            continue
        out[key] = value.float()
    return out


def official_generator() -> ResnetGenerator:
    """The authors' 9-block, 64-wide generator, without weights."""
    return ResnetGenerator(ngf=OFFICIAL.ngf, n_blocks=OFFICIAL.n_blocks)


# ---------------------------------------------------------------- bundled files

DIRECTIONS = ("AB", "BA")


def save_pair(
    g_ab: ResnetGenerator, g_ba: ResnetGenerator, path: str | Path, metadata: dict[str, str] | None = None
) -> None:
    """Both generators in one fp16 safetensors file, keys `G_AB.*` and `G_BA.*`, config in metadata."""
    tensors = {}
    for direction, net in zip(DIRECTIONS, (g_ab, g_ba), strict=True):
        for key, value in net.state_dict().items():
            tensors[f"G_{direction}.{key}"] = value.detach().to(torch.float16).contiguous().clone()
    meta = {"format": FORMAT, "config": json.dumps(asdict(g_ab.config))}
    meta.update({k: str(v) for k, v in (metadata or {}).items()})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)


def select_direction(state: dict[str, torch.Tensor], direction: str) -> dict[str, torch.Tensor]:
    """One generator's fp32 state dict out of a bundled pair file."""
    prefix = f"G_{direction}."
    return {k[len(prefix) :]: v.float() for k, v in state.items() if k.startswith(prefix)}


def load_pair(path: str | Path) -> tuple[ResnetGenerator, ResnetGenerator, dict[str, str]]:
    """(G_AB, G_BA, metadata) from a bundled file, in eval mode on the CPU."""
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a CycleGAN pair checkpoint")
    config = GeneratorConfig(**json.loads(meta["config"]))
    with safe_open(str(path), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
    nets = []
    for direction in DIRECTIONS:
        net = ResnetGenerator(config.in_ch, config.out_ch, config.ngf, config.n_blocks)
        net.load_state_dict(select_direction(state, direction), strict=True)
        nets.append(net.eval())
    return nets[0], nets[1], meta


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
