"""The convolution tab's computed texts in Chinese: built from the same numbers as the English, and
every progress message of a compression run said in Chinese too (no browser; the page is tested in
tests/test_browser_convolution.py)."""

from __future__ import annotations

import re

import pytest
import torch
from conftest import ChineseRequest

from demos.convolution import compress, implementations, plots, texts
from demos.convolution import ui as tab
from demos.convolution.explain import explain
from demos.convolution.implementations import METHODS, ConvShape
from demos.convolution.sweep import SWEEP_CHANNELS, SWEEP_KERNELS, Sweep

CJK = re.compile(r"[\u4e00-\u9fff]")
NUMBER = re.compile(r"[-+]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]\d+)?")


def numbers(text: str) -> list[str]:
    return sorted(NUMBER.findall(text))


@pytest.fixture(scope="module")
def chinese() -> tuple[dict[str, str], dict[str, str]]:
    return tab._sentences_and_figures("zh-CN")


def _sweep() -> Sweep:
    """A sweep with made-up times (the sentence only orders and quotes them): FFT overtakes at k = 9."""
    kernels = {m: [0.001 * (i + 1) for i in range(len(SWEEP_KERNELS))] for m in METHODS}
    kernels["FFT"] = [0.0045] * len(SWEEP_KERNELS)
    channels = {m: [0.002 * (i + 1) for i in range(len(SWEEP_CHANNELS))] for m in METHODS}
    memory = [{m: [1024] * len(sizes) for m in METHODS} for sizes in (SWEEP_KERNELS, SWEEP_CHANNELS)]
    flops = [[10**6] * len(sizes) for sizes in (SWEEP_KERNELS, SWEEP_CHANNELS)]
    return Sweep(66.4, kernels, channels, *flops, *memory, "cpu", 3.2)


def test_the_convolution_sentences_carry_the_english_numbers(chinese):
    words, _ = chinese
    ex = explain(torch.randn(1, 3, 12, 12), 3, 1, 1, 1, 1, 4)
    for make in (lambda t: texts.convolution_summary(ex, t), lambda t: texts.sweep_reading(_sweep(), t)):
        english, zh = make(None), make(words)
        assert CJK.search(zh) and not CJK.search(english)
        assert numbers(zh) == numbers(english)
    assert "**k = 9**" in texts.sweep_reading(_sweep(), words)


def test_the_frontier_sentence_carries_the_english_numbers(chinese):
    words, _ = chinese
    points = [{"change": -0.004, "ratio": 9.3, "k": 16, "sparsity": 0.3, "fine_tune_steps": 200},
              {"change": -0.221, "ratio": 24.6, "k": 4, "sparsity": 0.75, "fine_tune_steps": 200}]
    english, zh = texts.frontier_reading(points, "AP"), texts.frontier_reading(points, "AP", words)
    assert numbers(zh) == numbers(english) and "；" in zh and "22.1 个 AP 点" in zh


def test_the_timing_table_says_why_a_method_did_not_run_in_chinese():
    ex = explain(torch.randn(1, 3, 12, 12), 5, 2, 1, 1, 1, 4)  # 5x5, stride 2: no Winograd
    english, zh = tab._timing_table(ex, "en"), tab._timing_table(ex, "zh-CN")
    assert english["headers"] == tab.TIMING_COLUMNS
    winograd = [row for row in zh["data"] if row[0].startswith("Winograd")][0]
    assert winograd[-1] == "只支持 3x3 卷积核、步长 1、空洞 1"
    assert zh["data"][0][0] == "直接循环（NumPy）" and english["data"][0][0] == "direct (NumPy loops)"
    shape = ConvShape(1, 3, 12, 12, 4, 5, stride=2, padding=1)
    reason = implementations.NOT_APPLICABLE["winograd_3x3"]
    assert implementations.applicable("Winograd F(2x2,3x3)", shape) == reason


def test_every_progress_message_of_a_compression_is_said_in_chinese():
    said = tab._words("progress", texts.PROGRESS, "zh-CN")
    messages: list[str] = []
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 3))
    loss = lambda model, step: model(torch.ones(1, 3, 8, 8)).square().mean()  # noqa: E731
    retrained = compress.prune_and_retrain(net, 0.5, loss, 2, 1e-3, progress=lambda f, m: messages.append(m))
    shared = compress.compress(retrained, 4, 0.5, "linear", progress=lambda f, m: messages.append(m))
    compress.fine_tune(shared, loss, 2, progress=lambda f, m: messages.append(m))
    messages += [texts.PROGRESS["writing"], "loading tiny-retinanet-focal and measuring the original"]
    assert len(messages) >= 7
    for message in messages:
        zh = texts.progress_in(message, said)
        assert CJK.search(zh) and numbers(zh) == numbers(message), (message, zh)


def test_a_request_in_chinese_gets_chinese_example_labels_and_figures():
    conv, squeeze = tab._example_labels(ChineseRequest())
    assert conv["sample_labels"][1] == "9×9 卷积核（FFT 的主场）" and len(squeeze["sample_labels"]) == 4
    assert tab._example_labels(None)[0]["sample_labels"] == tab.CONVOLUTION_EXAMPLES
    _, drawn = tab._sentences_and_figures("zh-CN")
    figure = plots.sweep_figure(_sweep(), drawn)
    assert figure.layout.title.text.startswith("在 cpu 上测得")
    assert {trace.name for trace in figure.data} >= {"直接循环（NumPy）", "矩阵乘法上限（66 GFLOP/s）"}
