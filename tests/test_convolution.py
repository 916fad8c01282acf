"""The five convolutions agree with F.conv2d; the shapes, buffers and bad settings are as stated."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from demos.convolution.explain import SOURCES, explain, prepare_input
from demos.convolution.implementations import (
    METHODS,
    ConvShape,
    applicable,
    check_shape,
    extra_bytes,
    fft,
    im2col,
    im2col_matrices,
    winograd,
)
from demos.convolution.sweep import compare, random_operands

TOLERANCE = 1e-4  # float32 sums of a few hundred terms of unit size


def random_shape(seed: int) -> ConvShape:
    """A valid convolution drawn at random, small enough for the direct loops."""
    rng = random.Random(seed)
    groups = rng.choice([1, 1, 2, 3])
    c_in, c_out = groups * rng.randint(1, 4), groups * rng.randint(1, 4)
    k, dilation = rng.choice([1, 2, 3, 5]), rng.choice([1, 1, 2])
    padding, stride = rng.randint(0, 2), rng.choice([1, 1, 2, 3])
    span = dilation * (k - 1) + 1
    h, w = rng.randint(max(span - 2 * padding, 1), 14), rng.randint(max(span - 2 * padding, 1), 14)
    return check_shape(ConvShape(rng.randint(1, 2), c_in, h, w, c_out, k, stride, padding, dilation, groups))


@pytest.mark.parametrize("seed", range(24))
def test_every_method_equals_conv2d_on_random_shapes(seed):
    s = random_shape(seed)
    x, w = random_operands(s, seed)
    args = (s.stride, s.padding, s.dilation, s.groups)
    reference = F.conv2d(x, w, None, *args)
    assert reference.shape[-2:] == s.out_hw
    ran = 0
    for name, fn in METHODS.items():
        if applicable(name, s):
            continue
        out = fn(x, w, *args)
        assert out.shape == reference.shape, name
        assert torch.allclose(out, reference, atol=TOLERANCE, rtol=1e-4), (name, s)
        ran += 1
    assert ran >= 4  # direct, im2col, FFT and conv2d run everywhere; Winograd on 3x3 stride 1


@pytest.mark.parametrize(("n", "c_in", "c_out", "h", "w", "padding", "groups"),
                         [(1, 3, 8, 7, 7, 1, 1), (2, 4, 6, 9, 12, 0, 2), (1, 8, 8, 5, 6, 1, 8),
                          (3, 1, 1, 3, 3, 0, 1), (1, 16, 32, 33, 31, 2, 4)])
def test_winograd_on_random_3x3_inputs_odd_sizes_and_groups(n, c_in, c_out, h, w, padding, groups):
    gen = torch.Generator().manual_seed(h * w)
    x = torch.randn(n, c_in, h, w, generator=gen)
    weight = torch.randn(c_out, c_in // groups, 3, 3, generator=gen)
    reference = F.conv2d(x, weight, None, 1, padding, 1, groups)
    assert torch.allclose(winograd(x, weight, 1, padding, 1, groups), reference, atol=1e-4, rtol=1e-4)


def test_winograd_refuses_what_it_is_not_written_for():
    x, w5 = torch.randn(1, 2, 8, 8), torch.randn(2, 2, 5, 5)
    with pytest.raises(ValueError, match="3x3 kernels"):
        winograd(x, w5)
    with pytest.raises(ValueError, match="stride 1"):
        winograd(x, torch.randn(2, 2, 3, 3), stride=2)


def test_large_kernels_fft_and_im2col_agree_with_conv2d():
    x, w = torch.randn(1, 4, 40, 40), torch.randn(3, 4, 15, 15)
    reference = F.conv2d(x, w, None, 1, 7)
    for fn in (fft, im2col):
        assert torch.allclose(fn(x, w, 1, 7), reference, atol=1e-3, rtol=1e-4)


def test_im2col_operands_and_column_buffer_size():
    s = ConvShape(2, 6, 10, 9, 4, 3, stride=2, padding=1, groups=2)
    x, w = random_operands(s)
    cols, rows = im2col_matrices(x, w, s.stride, s.padding, s.dilation, s.groups)
    oh, ow = s.out_hw
    assert cols.shape == (2, 2, 3 * 9, oh * ow) and rows.shape == (2, 2, 27)
    # Column j of the first image is the patch under output position j, flattened (channel, ky, kx).
    padded = F.pad(x, (1, 1, 1, 1))
    i, j = 2, 3
    patch = padded[0, :3, 2 * i:2 * i + 3, 2 * j:2 * j + 3].reshape(-1)
    assert torch.equal(cols[0, 0, :, i * ow + j], patch)
    assert extra_bytes("im2col + GEMM", s) == 2 * 6 * 9 * oh * ow * 4 == F.unfold(x, 3, padding=1,
                                                                                 stride=2).numel() * 4


@pytest.mark.parametrize(("shape", "message"), [
    (ConvShape(1, 3, 8, 8, 4, 11, padding=1), "larger than the padded input"),
    (ConvShape(1, 3, 8, 8, 4, 3, dilation=5), "larger than the padded input"),
    (ConvShape(1, 3, 8, 8, 4, 3, stride=0), "stride must be at least 1"),
    (ConvShape(1, 3, 8, 8, 4, 3, stride=-2), "stride must be at least 1"),
    (ConvShape(1, 3, 8, 8, 4, 3, dilation=0), "dilation must be at least 1"),
    (ConvShape(1, 6, 8, 8, 4, 3, groups=4), "must divide both"),
    (ConvShape(1, 3, 8, 8, 4, 3, groups=3), "must divide both"),
    (ConvShape(1, 3, 8, 8, 4, 3, padding=-1), "padding cannot be negative"),
])
def test_impossible_convolutions_are_refused_in_plain_words(shape, message):
    with pytest.raises(ValueError, match=message):
        check_shape(shape)


def test_compare_times_checks_and_skips():
    s = ConvShape(1, 4, 12, 12, 4, 5, padding=2)
    rows = {t.method: t for t in compare(*random_operands(s), s, repeats=2)}
    assert set(rows) == set(METHODS)
    assert rows["Winograd F(2x2,3x3)"].seconds is None and "3x3" in rows["Winograd F(2x2,3x3)"].note
    for name in ("direct (NumPy loops)", "im2col + GEMM", "FFT", "conv2d (PyTorch)"):
        assert rows[name].seconds > 0 and rows[name].max_error < TOLERANCE and rows[name].gflops > 0


def test_explain_follows_one_output_through_the_product():
    from PIL import Image

    picture = Image.new("RGB", (64, 40), (10, 200, 30))
    x = prepare_input(picture, SOURCES[0], 20)
    assert x.shape == (1, 3, 12, 20)  # longer side 20, aspect kept
    ex = explain(x, 3, 1, 1, 1, 1, 5)
    i, j = ex.position
    oh, ow = ex.shape.out_hw
    # One output value is one kernel row times one column.
    assert torch.allclose(ex.rows[0] @ ex.cols[:, i * ow + j], ex.out[0, 0, i, j], atol=1e-5)
    data = ex.as_json()
    assert data["output"] == [1, 5, oh, ow] and data["columns_shape"] == [1, 27, oh * ow]
    features = prepare_input(picture, SOURCES[1], 16)
    assert features.shape[:2] == (1, 16) and max(features.shape[-2:]) == 16  # the detector's stem
