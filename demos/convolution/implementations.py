"""Five ways to compute the same 2-D convolution, each checked against `F.conv2d`.

Model code only (no Gradio). Every function takes an input (N, C_in, H, W) and a
weight (C_out, C_in / groups, kh, kw) and returns (N, C_out, OH, OW), the
cross-correlation that deep-learning frameworks call convolution:

- `direct`: loops over output positions in NumPy, one dot product per patch (small sizes only);
- `im2col`: `F.unfold` copies every patch into a column, then one matrix product;
- `fft`: pointwise products of spectra (`torch.fft`), cheap per output when kernels are large;
- `winograd`: F(2x2, 3x3), 16 multiplications per 2x2 output tile instead of 36 (3x3, stride 1);
- `conv2d`: PyTorch's own (oneDNN on the CPU, cuDNN on a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from shared.templates import fill
from shared.validation import BadInput

from .errors import MESSAGES, NAMES

# Direct loops visit each output position from Python: beyond this many, refuse (seconds).
DIRECT_MAX_POSITIONS = 4096


@dataclass(frozen=True)
class ConvShape:
    """One convolution's hyper-parameters and the sizes they imply."""

    n: int
    c_in: int
    h: int
    w: int
    c_out: int
    k: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1

    @property
    def span(self) -> int:
        """The kernel's extent on the input once dilated."""
        return self.dilation * (self.k - 1) + 1

    @property
    def out_hw(self) -> tuple[int, int]:
        oh = (self.h + 2 * self.padding - self.span) // self.stride + 1
        ow = (self.w + 2 * self.padding - self.span) // self.stride + 1
        return oh, ow

    @property
    def flops(self) -> int:
        """Multiply-adds counted as 2 FLOPs, for the direct definition (what every method computes)."""
        oh, ow = self.out_hw
        return 2 * self.n * self.c_out * oh * ow * (self.c_in // self.groups) * self.k * self.k


def check_shape(s: ConvShape) -> ConvShape:
    """Raise BadInput, in plain words, for a convolution that cannot be computed."""
    for key, value in (("kernel_size", s.k), ("stride", s.stride), ("dilation", s.dilation),
                       ("groups", s.groups), ("in_channels", s.c_in), ("out_channels", s.c_out)):
        if value <= 0:
            raise BadInput(fill(MESSAGES["at_least_one"], name=NAMES[key], value=value))
    if s.padding < 0:
        raise BadInput(fill(MESSAGES["negative_padding"], value=s.padding))
    if s.c_in % s.groups or s.c_out % s.groups:
        raise BadInput(fill(MESSAGES["groups_divide"], groups=s.groups, c_in=s.c_in, c_out=s.c_out))
    if s.span > min(s.h, s.w) + 2 * s.padding:
        raise BadInput(fill(MESSAGES["kernel_too_big"], k=s.k, dilation=s.dilation, span=s.span,
                            h=s.h + 2 * s.padding, w=s.w + 2 * s.padding))
    return s


def shape_of(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int, dilation: int,
             groups: int) -> ConvShape:
    n, c_in, h, w = x.shape
    return check_shape(ConvShape(n, c_in, h, w, weight.shape[0], weight.shape[-1], stride, padding, dilation,
                                 groups))


def conv2d(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0, dilation: int = 1,
           groups: int = 1) -> torch.Tensor:
    """The reference: PyTorch's convolution."""
    return F.conv2d(x, weight, None, stride, padding, dilation, groups)


def direct(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0, dilation: int = 1,
           groups: int = 1) -> torch.Tensor:
    """The definition, one output position at a time: every patch times every kernel."""
    s = shape_of(x, weight, stride, padding, dilation, groups)
    oh, ow = s.out_hw
    if oh * ow * groups > DIRECT_MAX_POSITIONS:
        raise ValueError(f"Direct loops are for small sizes only ({oh}x{ow} outputs x {groups} groups is "
                         f"more than {DIRECT_MAX_POSITIONS}).")
    xp = np.pad(x.detach().cpu().numpy(), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    wn = weight.detach().cpu().numpy()
    cin_g, cout_g = s.c_in // groups, s.c_out // groups
    out = np.zeros((s.n, s.c_out, oh, ow), dtype=xp.dtype)
    for g in range(groups):
        wg = wn[g * cout_g:(g + 1) * cout_g]  # (C_out/g, C_in/g, k, k)
        for i in range(oh):
            for j in range(ow):
                top, left = i * stride, j * stride
                rows, cols = slice(top, top + s.span, dilation), slice(left, left + s.span, dilation)
                patch = xp[:, g * cin_g:(g + 1) * cin_g, rows, cols]  # (N, C_in/g, k, k)
                # (N, C_in/g, k, k) against (C_out/g, C_in/g, k, k) -> (N, C_out/g)
                dots = np.tensordot(patch, wg, axes=([1, 2, 3], [1, 2, 3]))
                out[:, g * cout_g:(g + 1) * cout_g, i, j] = dots
    return torch.from_numpy(out).to(x.device)


def im2col_matrices(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0,
                    dilation: int = 1, groups: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The GEMM's operands: columns (N, G, C_in/G*k*k, L) and kernel rows (G, C_out/G, C_in/G*k*k)."""
    s = shape_of(x, weight, stride, padding, dilation, groups)
    cols = F.unfold(x, s.k, dilation=dilation, padding=padding, stride=stride)  # (N, C_in*k*k, L)
    # unfold orders a column as (channel, ky, kx), the same order as a kernel flattened row-wise.
    cols = cols.view(s.n, groups, (s.c_in // groups) * s.k * s.k, -1)  # (N, G, C_in/G*k*k, L)
    rows = weight.reshape(groups, s.c_out // groups, -1)  # (G, C_out/G, C_in/G*k*k)
    return cols, rows


def im2col(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0, dilation: int = 1,
           groups: int = 1) -> torch.Tensor:
    """Every patch copied into a column, then the whole convolution is one (batched) matrix product."""
    s = shape_of(x, weight, stride, padding, dilation, groups)
    cols, rows = im2col_matrices(x, weight, stride, padding, dilation, groups)
    out = torch.matmul(rows, cols)  # (G, C_out/G, K) @ (N, G, K, L) -> (N, G, C_out/G, L)
    return out.reshape(s.n, s.c_out, *s.out_hw)  # (N, C_out, OH, OW): L runs over OH*OW row-major


def fft(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0, dilation: int = 1,
        groups: int = 1) -> torch.Tensor:
    """Cross-correlation as a product of spectra: x ⋆ w = IFFT(FFT(x) · conj(FFT(w)))."""
    s = shape_of(x, weight, stride, padding, dilation, groups)
    xp = F.pad(x, (padding,) * 4)
    hp, wp = xp.shape[-2:]
    kernel = weight
    if dilation > 1:  # a dilated kernel is the kernel with zeros between its taps
        kernel = weight.new_zeros(*weight.shape[:2], s.span, s.span)
        kernel[..., ::dilation, ::dilation] = weight
    # The input's own size suffices: no wrap-around reaches the positions kept (0 .. hp - span).
    fx = torch.fft.rfft2(xp, s=(hp, wp))  # (N, C_in, hp, wp//2+1) complex
    fw = torch.fft.rfft2(kernel, s=(hp, wp))  # (C_out, C_in/G, hp, wp//2+1)
    cin_g, cout_g = s.c_in // groups, s.c_out // groups
    freqs = fx.shape[-2] * fx.shape[-1]
    # One complex matrix product per frequency and group: (N, C_in/G) @ (C_in/G, C_out/G).
    fx = fx.reshape(s.n, groups, cin_g, freqs).permute(1, 3, 0, 2)  # (G, F, N, C_in/G)
    fw = fw.reshape(groups, cout_g, cin_g, freqs).permute(0, 3, 2, 1)  # (G, F, C_in/G, C_out/G)
    fy = (fx @ fw.conj()).permute(2, 0, 3, 1)  # (N, G, C_out/G, F)
    fy = fy.reshape(s.n, s.c_out, hp, wp // 2 + 1)
    y = torch.fft.irfft2(fy, s=(hp, wp))  # (N, C_out, hp, wp)
    return y[..., : hp - s.span + 1 : stride, : wp - s.span + 1 : stride].contiguous()


# Winograd F(2x2, 3x3) (Lavin & Gray 2016): Y = A^T [(G g G^T) ⊙ (B^T d B)] A per 4x4 input tile.
WINOGRAD_BT = torch.tensor([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=torch.float32)
WINOGRAD_G = torch.tensor([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=torch.float32)
WINOGRAD_AT = torch.tensor([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=torch.float32)


def winograd(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0, dilation: int = 1,
             groups: int = 1) -> torch.Tensor:
    """F(2x2, 3x3): each 2x2 block of outputs from a 4x4 input tile with 16 products, not 36."""
    s = shape_of(x, weight, stride, padding, dilation, groups)
    if (s.k, stride, dilation) != (3, 1, 1):
        raise ValueError("Winograd F(2x2, 3x3) is written for 3x3 kernels with stride 1 and dilation 1.")
    oh, ow = s.out_hw
    th, tw = (oh + 1) // 2, (ow + 1) // 2  # tiles per side; odd sizes get one padded row/column
    xp = F.pad(x, (padding, padding + 2 * tw - ow, padding, padding + 2 * th - oh))
    bt, g, at = (m.to(x.dtype).to(x.device) for m in (WINOGRAD_BT, WINOGRAD_G, WINOGRAD_AT))
    cin_g, cout_g = s.c_in // groups, s.c_out // groups
    # Overlapping 4x4 tiles every 2 px, flattened: (N, C_in, th, tw, 16).
    tiles = xp.unfold(2, 4, 2).unfold(3, 4, 2).reshape(s.n, s.c_in, th, tw, 16)
    # B^T d B for every tile at once: vec(B^T d B) = (B^T ⊗ B^T) vec(d), a 16x16 matrix.
    v = tiles @ torch.kron(bt, bt).T  # (N, C_in, th, tw, 16)
    u = (g @ weight @ g.T).reshape(groups, cout_g, cin_g, 16)  # G g G^T, once per kernel
    v = v.reshape(s.n, groups, cin_g, th * tw, 16).permute(4, 1, 2, 0, 3)  # (16, G, C_in/G, N, tiles)
    v = v.reshape(16, groups, cin_g, s.n * th * tw)
    # The only multiplications that grow with the image: for each of the 16 positions of a
    # tile, one matrix product over input channels (16 per 2x2 outputs instead of 36).
    m = u.permute(3, 0, 1, 2) @ v  # (16, G, C_out/G, I) @ (16, G, I, N*tiles) -> (16, G, C_out/G, N*tiles)
    m = m.reshape(16, s.c_out, s.n, th, tw).permute(2, 1, 3, 4, 0)  # (N, C_out, th, tw, 16)
    y = m @ torch.kron(at, at).T  # A^T M A, flattened: (N, C_out, th, tw, 4) as 2x2 blocks
    y = y.reshape(s.n, s.c_out, th, tw, 2, 2).permute(0, 1, 2, 4, 3, 5)  # (N, C_out, th, 2, tw, 2)
    y = y.reshape(s.n, s.c_out, 2 * th, 2 * tw)  # tiles back side by side
    return y[..., :oh, :ow].contiguous()


METHODS = {"direct (NumPy loops)": direct, "im2col + GEMM": im2col, "FFT": fft,
           "Winograd F(2x2,3x3)": winograd, "conv2d (PyTorch)": conv2d}


# Why a method cannot run a convolution, one template each ([name] marks a value); the tab shows
# them in the page's language through `why_not`'s key.
NOT_APPLICABLE = {"too_many_positions": "more than [n] output positions: too slow from Python",
                  "winograd_3x3": "only 3x3 kernels, stride 1, dilation 1"}


def why_not(method: str, s: ConvShape) -> tuple[str, dict[str, int]] | None:
    """The NOT_APPLICABLE key saying why `method` cannot run this convolution, and its values;
    None if it can."""
    oh, ow = s.out_hw
    if method.startswith("direct") and oh * ow * s.groups > DIRECT_MAX_POSITIONS:
        return "too_many_positions", {"n": DIRECT_MAX_POSITIONS}
    if method.startswith("Winograd") and (s.k, s.stride, s.dilation) != (3, 1, 1):
        return "winograd_3x3", {}
    return None


def applicable(method: str, s: ConvShape) -> str:
    """Why `method` cannot run this convolution, in English ("" if it can)."""
    reason = why_not(method, s)
    return "" if reason is None else fill(NOT_APPLICABLE[reason[0]], **reason[1])


def extra_bytes(method: str, s: ConvShape, itemsize: int = 4) -> int | None:
    """Memory of the intermediate buffers a method allocates beyond input, weight and output
    (None for conv2d: oneDNN and cuDNN choose their own workspace)."""
    oh, ow = s.out_hw
    cin_g = s.c_in // s.groups
    if method.startswith("direct"):
        return s.n * cin_g * s.k * s.k * itemsize  # one patch at a time (plus the padded copy)
    if method.startswith("im2col"):
        return s.n * s.c_in * s.k * s.k * oh * ow * itemsize  # the column buffer
    if method == "FFT":
        hp, wp = s.h + 2 * s.padding, s.w + 2 * s.padding
        spectra = (s.n * s.c_in + s.c_out * cin_g + s.n * s.c_out) * hp * (wp // 2 + 1)
        return spectra * 2 * itemsize + s.n * s.c_out * hp * wp * itemsize  # complex spectra + full output
    if method.startswith("Winograd"):
        tiles = ((oh + 1) // 2) * ((ow + 1) // 2)
        return 16 * (2 * s.n * s.c_in * tiles + s.c_out * cin_g + s.n * s.c_out * tiles) * itemsize
    return None
