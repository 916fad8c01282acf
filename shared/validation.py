"""The suite's one error for bad requests, and its one check of a number.

`BadInput` is what every layer raises when a request cannot be served as sent; its
message is written for the person who sent it, in English from a template of
`shared.errors`, and `shared.ui.handle_errors` shows it in the page's language. Any
other exception is the suite's own fault: it is logged, and the visitor gets a short
generic message instead of its text (docs/ARCHITECTURE.md, "Bad input").

Model code and UI adapters share `finite`, so a number is refused in the same words
whichever layer checks it. Nothing here imports torch or Gradio.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from shared import errors
from shared.templates import fill


class BadInput(ValueError):
    """The request cannot be served as sent; the message is written for the user."""


# A number's messages, by the bounds that apply: "low"/"high" (inclusive), "above"/"below"
# (exclusive). Whole sentences rather than joined phrases: another language orders them its way.
MESSAGES = errors.templates("error.number", {
    "not_number": "[name] must be a number, not [value].",
    "not_finite": "[name] must be a finite number, not [value].",
    "low_high": "[name] must be between [low] and [high] (got [value]).",
    "above_high": "[name] must be greater than [low] and at most [high] (got [value]).",
    "low_below": "[name] must be at least [low] and less than [high] (got [value]).",
    "above_below": "[name] must be greater than [low] and less than [high] (got [value]).",
    "low": "[name] must be at least [low] (got [value]).",
    "above": "[name] must be greater than [low] (got [value]).",
    "high": "[name] must be at most [high] (got [value]).",
    "below": "[name] must be less than [high] (got [value]).",
    # The tabs' own checks of whole numbers and switches say it in these words.
    "whole": "[name] must be a whole number (got [value]).",
    "whole_not": "[name] must be a whole number, not [value].",
    "whole_range": "[name] must be a whole number from [low] to [high].",
    "whole_range_got": "[name] must be a whole number from [low] to [high] (got [value]).",
    "true_or_false": "[name] must be true or false, not [value].",
    # A pick among named things ([what]: one of the words below).
    "choose": "Choose at least one [what].",
    "unknown": "Unknown [what] [name]. Choose from: [known].",
    "what_model": "model",
    "what_method": "method",
    "what_optimizer": "optimizer",
    "what_technique": "technique",
})


def _range_key(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """Which of MESSAGES says the allowed range: "low_high" for [low, high], "above" for > low..."""
    ends = [("above" if low_open else "low") if low is not None else "",
            ("below" if high_open else "high") if high is not None else ""]
    return "_".join(end for end in ends if end)


def finite(value: Any, name: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False, strictly_positive: bool = False) -> float:
    """`value` as a float, or `BadInput` saying plainly what is wrong with it.

    `name` starts the message ("The learning rate must be ..."); register it with
    `shared.errors` so the message reads in the page's language too. Bounds are inclusive
    unless `low_open`/`high_open`; `strictly_positive` is `low=0, low_open=True`.
    Only numbers pass (numpy's included): a string or a bool sent for a number is a
    mistake in the request, and the caller may go on to compute with `value` itself.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BadInput(fill(MESSAGES["not_number"], name=name, value=repr(value)))
    number = float(value)
    if not math.isfinite(number):
        raise BadInput(fill(MESSAGES["not_finite"], name=name, value=number))
    if strictly_positive and (low is None or low <= 0):
        low, low_open = 0.0, True
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        bounds = {end: f"{v:g}" for end, v in (("low", low), ("high", high)) if v is not None}
        message = MESSAGES[_range_key(low, high, low_open, high_open)]
        raise BadInput(fill(message, name=name, value=f"{number:g}", **bounds))
    return number
