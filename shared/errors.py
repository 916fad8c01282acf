"""The messages of the errors a visitor can cause, in English and in the page's language.

Every layer raises `BadInput` or `ModelUnavailable` with an English message, which is what an
API client gets. The message is made with `fill` from a template registered here (key ->
English, values at [name]); `shared.ui.handle_errors` writes it again in the page's language
with `translate`, from the same key's text in that language and the same values. A value that
is itself a registered text (a number's name, "The keypoint threshold"; a sentence of a lower
layer) is translated too, so call sites keep passing plain English strings. A message that no
template made passes through as it is.

Model code registers its templates here without importing Gradio; `shared.i18n` adds each one
to its dictionaries (`on_register`), so a test checks that each has its Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from shared.templates import fill

TEMPLATES: dict[str, str] = {}  # key -> English, in the order registered
_LISTENERS: list[Callable[[str, str], Any]] = []


def template(key: str, english: str) -> str:
    """Register `english` under `key` and return it (for `fill` at the raise site)."""
    known = TEMPLATES.setdefault(key, english)
    if known != english:
        raise ValueError(f"Error template {key!r} is used for two different English texts.")
    for listener in _LISTENERS:
        listener(key, english)
    return english


def templates(prefix: str, english: dict[str, str]) -> dict[str, str]:
    """Register each text of `english` as "<prefix>.<key>"; return `english` as it is."""
    for key, text in english.items():
        template(f"{prefix}.{key}", text)
    return english


def on_register(listener: Callable[[str, str], Any]) -> None:
    """Call `listener(key, english)` for every template, those registered so far and later ones."""
    _LISTENERS.append(listener)
    for key, english in list(TEMPLATES.items()):
        listener(key, english)


def _literal_length(english: str) -> int:
    return len(re.sub(r"\[\w+\]", "", english))


def _values(english: str, message: str) -> dict[str, str] | None:
    """The values `fill(english, ...)` put in to make `message`, or None if it did not make it.
    Like `shared.templates.unfill`, but a value at two places ("[k]x[k]") must be the same at both."""
    seen: set[str] = set()

    def group(found: re.Match) -> str:
        name = found.group(1)
        if name in seen:
            return f"(?P={name})"
        seen.add(name)
        return f"(?P<{name}>.+?)"

    pattern = re.sub(r"\\\[(\w+)\\\]", group, re.escape(english))
    matched = re.fullmatch(pattern, message, flags=re.DOTALL)
    return None if matched is None else matched.groupdict()


def translate(message: str, text_of: Callable[[str], str]) -> str:
    """`message` written again from `text_of(key)` (a template in another language) for the
    template it was made from, each value translated the same way; unchanged if none made it.

    Whole texts are looked up first, then the templates with the most fixed words, so a general
    one ("[name] must be ...") never takes a message a more specific one made."""
    for key, english in TEMPLATES.items():
        if english == message:
            return text_of(key)
    for key, english in sorted(TEMPLATES.items(), key=lambda item: -_literal_length(item[1])):
        if "[" not in english:
            continue
        values = _values(english, message)
        if values is not None:
            return fill(text_of(key), **{name: translate(value, text_of) for name, value in values.items()})
    return message
