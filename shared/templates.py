"""Texts with values put in at [name].

The browser reads every translated text as an ICU message, where braces are syntax, so a
text computed per request (a measured sentence) marks its values with square brackets:
`fill("AP [ap] with [n] people", ap="0.23", n=6)`. Gradio-free, so model code can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


def fill(template: str, **values: Any) -> str:
    """`template` with each [name] replaced by its value; a [name] with no value stays as it is."""
    return re.sub(r"\[(\w+)\]", lambda m: str(values.get(m.group(1), m.group(0))), template)


def unfill(template: str, text: str) -> dict[str, str] | None:
    """The values `fill(template, ...)` put in to make `text`, or None when `text` is not made from it.

    For texts that reach the page already written in English (a model's progress messages, a kept
    measurement's notes): the values they were made with go into the page language's template."""
    pattern = re.sub(r"\\\[(\w+)\\\]", lambda m: f"(?P<{m.group(1)}>.+?)", re.escape(template))
    found = re.fullmatch(pattern, text, flags=re.DOTALL)
    return None if found is None else found.groupdict()


@dataclass(frozen=True)
class Phrase:
    """A text kept with what it was made from: the English `template`, the `key` its translations are
    found under, and the `values` put in at [name]. `str()` is the English; `said(t)` is the same
    phrase from `t`, the template in another language, with the same values (no guessing back)."""

    key: str
    template: str
    values: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return fill(self.template, **self.values)

    def said(self, template: str) -> str:
        return fill(template, **self.values)
