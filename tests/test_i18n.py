"""The interface in English and Simplified Chinese: both dictionaries complete and safe."""

from __future__ import annotations

import re

import pytest

from shared import i18n

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module", autouse=True)
def built_suite():
    from app import build_app

    build_app()  # building every tab registers every English text with its key


def test_every_key_has_both_languages_and_nothing_is_stale():
    assert len(i18n.EN) > 80
    assert set(i18n.EN) - set(i18n.ZH) == set(), "texts without a Chinese translation"
    assert set(i18n.ZH) - set(i18n.EN) == set(), "translations no code uses any more"


def test_no_key_is_translated_in_two_files():
    import yaml

    seen: dict[str, str] = {}
    for path in i18n.LOCALE_FILES:
        for key in yaml.safe_load(path.read_text(encoding="utf-8")) or {}:
            assert key not in seen, f"{key} is in {seen.get(key)} and {path.name}"
            seen[key] = path.name


@pytest.mark.parametrize("language", ["EN", "ZH"])
def test_texts_are_safe_for_the_browser_message_format(language):
    # The browser formats each text as an ICU message: braces and tags would be parsed.
    for key, text in getattr(i18n, language).items():
        assert text.strip(), key
        if key in i18n.GRADIO_TEXTS:  # Gradio's own messages, whose placeholders it fills
            assert re.findall(r"{\w+}", text) == re.findall(r"{\w+}", i18n.GRADIO_TEXTS[key][0]), key
            continue
        assert not re.search(r"[{}<>]", text.replace("->", "").replace(" > ", "")), key


def test_chinese_texts_are_chinese():
    untranslated = [k for k, text in i18n.ZH.items() if not CJK.search(text)]
    assert untranslated == []


def test_a_key_cannot_mean_two_texts():
    i18n.tr("test.once", "one text")
    with pytest.raises(ValueError, match="two different English texts"):
        i18n.tr("test.once", "another text")
    del i18n.EN["test.once"]
