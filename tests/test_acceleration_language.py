"""The acceleration tab's computed texts in Chinese: a real measurement's summary, table, plot and
progress, every reason and note a technique can give, and a serving verdict, built from the same
numbers as the English (no browser; the page is tested in tests/test_browser_acceleration.py)."""

from __future__ import annotations

import re

import pytest
from conftest import ChineseRequest

from demos.acceleration import measure, plots, texts
from demos.acceleration import ui as tab
from demos.acceleration.techniques import NOTES, REASONS
from shared import acceleration as serving
from shared.templates import fill

CJK = re.compile(r"[\u4e00-\u9fff]")
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]\d+)?")


def numbers(text: str) -> list[str]:
    return sorted(NUMBER.findall(text))


@pytest.fixture(scope="module")
def zh() -> dict[str, str]:
    return tab._texts(ChineseRequest())


@pytest.fixture(scope="module")
def measured():
    """The smallest measurement the app tests take, without the metric (the slow part); its progress."""
    said: list[str] = []
    m = measure.measure("cyclegan-plain2striped", 128, ["channels-last", "all cores", "CUDA graphs"],
                        repeats=3, progress=lambda f, message: said.append(message), accuracy=False)
    return m, said


def test_a_measurement_in_chinese_keeps_its_numbers(measured, zh):
    m, _ = measured
    english, chinese = texts.summary(m, kept=True), texts.summary(m, kept=True, t=zh)
    assert CJK.search(chinese) and "之前于" in chinese
    assert numbers(chinese) == numbers(english)
    table = texts.table(m, zh)
    assert table["headers"][0] == "方法" and texts.table(m)["headers"] == tab.COLUMNS
    for english_row, row in zip(texts.table(m)["data"], table["data"], strict=True):
        assert numbers(" ".join(map(str, row))) == numbers(" ".join(map(str, english_row)))
        for cell in (row[2], row[-1]):  # the status, and the reason or note
            assert not cell or CJK.search(cell), row
    figure = plots.speedup_figure(m, zh)
    assert CJK.search(figure.layout.xaxis.title.text) and CJK.search(figure.layout.title.text)


def test_every_progress_message_of_a_measurement_is_said_in_chinese(measured, zh):
    _, said = measured
    assert len(said) >= 5
    for message in said:
        chinese = texts.progress(message, zh)
        assert CJK.search(chinese) and numbers(chinese) == numbers(message), (message, chinese)


@pytest.mark.parametrize(("templates", "say"), [(REASONS, texts.reason), (NOTES, texts.note),
                                                 (measure.FAILURES, texts.note)])
def test_every_reason_and_note_is_said_in_chinese(templates, say, zh):
    for english in templates.values():
        made = fill(english, cores=4, threads=1, parts="backbone, head", n=8, k=32, pruned="20%",
                    error="RuntimeError", message="shape mismatch")
        chinese = say(made, zh)
        assert CJK.search(chinese) and numbers(chinese) == numbers(made), (made, chinese)
    assert "整个模型" in texts.note(fill(NOTES["static_int8"], parts="model", n=8), zh)  # a one-network model
    both = fill(NOTES["threads"], cores=2, threads=1) + measure.NOTE_JOIN + fill(
        measure.FAILURES["unchecked"], error="ValueError", message="a; b")
    # The exception's own words stay as they are, its "; " included.
    assert texts.note(both, zh) == ("2 个线程，而不是 1 个：应用给并发的每个模型调用平均分配核心；"
                                    "这里无法检查它的输出或指标（ValueError: a; b）")


def test_a_serving_verdict_is_said_in_chinese(zh):
    tried = [{"name": "bf16 autocast + channels-last", "outcome": fill(serving.SAID["unavailable"],
                                                                     reason=serving.SAID["no_bf16_cpu"])},
             {"name": "channels-last (fp32)", "max_rel": 2e-7, "speedup": 1.02,
              "outcome": fill(serving.SAID["not_faster"], speedup="1.02")}]
    said = {key: zh[f"said_{key}"] for key in serving.SAID if f"said_{key}" in zh} | {
        "refused": zh["refused"], "tried": zh["tried"], "tried_join": zh["join"]}
    refused = serving.Verdict(serving.EAGER, tried=tried, date="2026-12-01")
    assert refused.describe(said) == (
        "fp32 eager（bf16 autocast + channels-last：不可用：这颗 CPU 没有 bf16 指令（AVX512-BF16 或 AMX）；"
        "channels-last (fp32)：没有更快（1.02×））")
    chosen = serving.Verdict("channels-last (fp32)", tried=[tried[1] | {"speedup": 1.5, "outcome": "chosen"}],
                             date="2026-12-01")
    assert numbers(chosen.describe(said)) == numbers(chosen.describe()) and CJK.search(chosen.describe(said))
