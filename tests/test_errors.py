"""Errors a visitor causes read in the page's language; API clients keep the English.

The messages of the bad-input matrix itself are checked in Chinese there (test_bad_input_matrix,
`plain_error`); these tests cover the mechanism: the translation of a message made from a
template, `handle_errors` with and without a Chinese request, and that every raise site of the
suite builds its message from a registered template.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import gradio as gr
import pytest
from conftest import MESSAGE_WORDS, QUOTED, ROOT, ChineseRequest, english_words

from shared import errors, i18n, ui
from shared.images import load_image
from shared.loading import ModelUnavailable
from shared.validation import BadInput, finite

CJK = re.compile(r"[\u4e00-\u9fff]")
# Every tab's module imported, so each template is registered before the tests are listed.
from app import DEMOS  # noqa: E402

for _, _module in DEMOS.values():
    importlib.import_module(_module)


def _raise(fn, *args, **kwargs) -> str:
    with pytest.raises((BadInput, ModelUnavailable)) as caught:
        fn(*args, **kwargs)
    return str(caught.value)


def test_a_number_and_its_name_are_both_translated():
    message = _raise(finite, float("nan"), "The keypoint threshold", low=0.0, high=1.0)
    assert message == "The keypoint threshold must be a finite number, not nan."
    assert i18n.error_in(message, "zh-CN") == "关键点阈值必须是有限的数，而不是 nan。"
    ranged = _raise(finite, 2.0, "The learning rate of Adam", low=0.0, low_open=True, high=1.0)
    assert i18n.error_in(ranged, "zh-CN") == "Adam 的学习率必须大于 0 且不超过 1（收到 2）。"


def test_english_stays_as_written_and_unknown_messages_pass_through():
    message = _raise(load_image, None)
    assert i18n.error_in(message, "en") is message
    assert CJK.search(i18n.error_in(message, "zh-CN"))
    assert i18n.error_in("Not one of ours.", "zh-CN") == "Not one of ours."


def test_a_more_specific_template_wins_over_a_general_one():
    # "[name] must be a number, not [value]." would also take this message, with a wrong name.
    message = "The condition number must be a number between 1 and 1000."
    assert i18n.error_in(message, "zh-CN") == i18n.ZH["error.optimizers.condition"]


@pytest.mark.parametrize("key", sorted(errors.TEMPLATES))
def test_every_template_reads_back_from_its_own_message(key):
    """Filled with distinct values, each template's message is translated from that template: its
    Chinese, with the same values (none of which is lost unless the Chinese leaves it out)."""
    english = errors.TEMPLATES[key]
    names = re.findall(r"\[(\w+)\]", english)
    values = {name: f"v{i}{i}" for i, name in enumerate(names)}
    said = i18n.error_in(_fill(english, values), "zh-CN")
    assert said == _fill(i18n.ZH[key], values)


def test_one_english_text_has_one_chinese():
    """A text registered under two keys (a name two tabs use) is found by its words, so its keys
    must agree in Chinese too."""
    chinese: dict[str, set[str]] = {}
    for key, english in errors.TEMPLATES.items():
        chinese.setdefault(english, set()).add(i18n.ZH[key])
    assert {english: said for english, said in chinese.items() if len(said) > 1} == {}


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\[(\w+)\]", lambda m: values.get(m.group(1), m.group(0)), template)


def _handler(exc: Exception):
    @ui.handle_errors
    def handler(value: float = 0.0, request: gr.Request | None = None):
        raise exc
    return handler


def test_handle_errors_writes_a_user_error_in_the_request_language():
    message = _raise(finite, -1.0, "The score threshold", low=0.0, high=1.0)
    with pytest.raises(gr.Error) as chinese:
        _handler(BadInput(message))(1.0, request=ChineseRequest())
    assert chinese.value.message == "置信度阈值必须在 0 到 1 之间（收到 -1）。"
    assert chinese.value.title == "错误"
    with pytest.raises(gr.Error) as english:
        _handler(BadInput(message))(1.0)  # an API client: no request language
    assert english.value.message == message and english.value.title == "Error"


def test_the_generic_message_follows_the_language_too():
    with pytest.raises(gr.Error) as chinese:
        _handler(KeyError("internal detail"))(request=ChineseRequest())
    assert chinese.value.message == i18n.ZH["error.ui.internal"]
    with pytest.raises(gr.Error) as english:
        _handler(KeyError("internal detail"))()
    assert english.value.message == ui.INTERNAL_ERROR


def test_models_that_could_not_run_are_reported_in_the_request_language():
    message = errors.TEMPLATES["error.model.offline"]
    missing = [_fill(message, {"name": "'a-model'", "mb": "46", "source": "torchvision"}),
               _fill(message, {"name": "'b-model'", "mb": "12", "source": "torchvision"})]

    @ui.handle_errors
    def handler(request: gr.Request | None = None):
        ui.report_unavailable(missing, served=0)

    with pytest.raises(gr.Error) as chinese:
        handler(request=ChineseRequest())
    assert chinese.value.message.count("离线") == 2 and "'a-model'" in chinese.value.message
    with pytest.raises(gr.Error) as english:
        handler()
    assert english.value.message == " ".join(missing)


def test_chinese_messages_have_no_english_words():
    """The words a message keeps in English are names, numbers and the values the API takes."""
    for key in errors.TEMPLATES:
        words = english_words([QUOTED.sub("", re.sub(r"\[\w+\]", "", i18n.ZH[key]))], kept=MESSAGE_WORDS)
        assert words == [], f"{key}: {words}"



def _raise_sites() -> list[tuple[str, int, str]]:
    """Every `raise BadInput(...)` / `raise ModelUnavailable(...)` whose message is written in place
    (a string or an f-string) instead of coming from a registered template."""
    found = []
    for path in [*ROOT.glob("demos/**/*.py"), *ROOT.glob("shared/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            called = node.exc.func
            if not (isinstance(called, ast.Name) and called.id in ("BadInput", "ModelUnavailable")):
                continue
            if node.exc.args and isinstance(node.exc.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp)):
                found.append((str(Path(path).relative_to(ROOT)), node.lineno, ast.unparse(node.exc)[:80]))
    return found


def test_every_raise_site_builds_its_message_from_a_template():
    assert _raise_sites() == [], "write these messages as templates of shared.errors"
