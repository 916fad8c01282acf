"""The suite's one error for bad requests, and its one check of a number.

`BadInput` is what every layer raises when a request cannot be served as sent; its
message is written for the person who sent it, and `shared.ui.handle_errors` shows it
as it is. Any other exception is the suite's own fault: it is logged, and the visitor
gets a short generic message instead of its text (docs/ARCHITECTURE.md, "Bad input").

Model code and UI adapters share `finite`, so a number is refused in the same words
whichever layer checks it. Nothing here imports torch or Gradio.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


class BadInput(ValueError):
    """The request cannot be served as sent; the message is written for the user."""


def _bound(value: float) -> str:
    return f"{value:g}"


def _allowed(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """The allowed range in words: "between 0 and 1", "greater than 0", "at most 10"."""
    above = f"{'greater than' if low_open else 'at least'} {_bound(low)}" if low is not None else ""
    below = f"{'less than' if high_open else 'at most'} {_bound(high)}" if high is not None else ""
    if above and below:
        if not (low_open or high_open):
            return f"between {_bound(low)} and {_bound(high)}"
        return f"{above} and {below}"
    return above or below


def finite(value: Any, name: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False, strictly_positive: bool = False) -> float:
    """`value` as a float, or `BadInput` saying plainly what is wrong with it.

    `name` starts the message ("The learning rate must be ..."). Bounds are inclusive
    unless `low_open`/`high_open`; `strictly_positive` is `low=0, low_open=True`.
    Only numbers pass (numpy's included): a string or a bool sent for a number is a
    mistake in the request, and the caller may go on to compute with `value` itself.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BadInput(f"{name} must be a number, not {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise BadInput(f"{name} must be a finite number, not {number}.")
    if strictly_positive and (low is None or low <= 0):
        low, low_open = 0.0, True
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        raise BadInput(f"{name} must be {_allowed(low, high, low_open, high_open)} (got {number:g}).")
    return number
