"""Gradio helpers every tab shares: error translation, the intro block, the models tab.

This is the only module of `shared` that imports Gradio; model code never does.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from shared.images import BadInput
from shared.loading import ModelUnavailable, availability, models_table
from shared.registry import get_spec

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("visionlab")

# Errors whose message is already written for the person using the demo.
USER_ERRORS = (BadInput, ModelUnavailable, ValueError, KeyError)


def user_message(exc: BaseException) -> str:
    # KeyError's str() wraps the message in quotes; take the argument itself.
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def handle_errors(fn: F) -> F:
    """Turn any failure inside a handler into a `gr.Error` with a plain message.

    Expected failures (bad input, a model that needs a download) show their own
    message; anything else is logged with its traceback and reported briefly, so the
    visitor never sees a stack trace and the worker keeps serving.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except USER_ERRORS as exc:
            raise gr.Error(user_message(exc), print_exception=False) from None
        except Exception as exc:
            log.exception("unexpected failure in %s", fn.__name__)
            raise gr.Error(
                f"Something went wrong while computing this ({type(exc).__name__}). "
                "The server is still running: try other settings or another input.",
                print_exception=False,
            ) from None

    return wrapper  # type: ignore[return-value]


def finite(value: float, name: str, *, low: float | None = None, high: float | None = None,
           strictly_positive: bool = False) -> float:
    """Check one number from the UI or the API and say plainly what is wrong with it."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}.") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value}.")
    if strictly_positive and value <= 0:
        raise ValueError(f"{name} must be greater than 0 (got {value}).")
    if low is not None and value < low or high is not None and value > high:
        raise ValueError(f"{name} must be between {low} and {high} (got {value}).")
    return value


def model_choices(names: list[str]) -> list[tuple[str, str]]:
    """(label, name) pairs for a model picker; the label says when a model is not usable now."""
    out = []
    for name in names:
        usable, status = availability(get_spec(name))
        out.append((name if usable else f"{name} — {status}", name))
    return out


def chosen_models(chosen: list[str] | str | None, known: list[str], what: str = "model") -> list[str]:
    """The picked names, validated against `known` and de-duplicated in order."""
    if not chosen:
        raise ValueError(f"Choose at least one {what}.")
    if isinstance(chosen, str):
        chosen = [chosen]
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise ValueError(f"Unknown {what} {unknown[0]!r}. Choose from: {', '.join(known)}.")
    return list(dict.fromkeys(chosen))


def intro(question: str, answer_md: str) -> None:
    """The top of every tab: the interview question, then a short collapsible answer."""
    gr.Markdown(f"### {question}")
    with gr.Accordion("Short answer", open=False):
        gr.Markdown(answer_md)


def models_json() -> list[dict[str, Any]]:
    """`/models`: every registered model, its tier and source, and whether it is usable now."""
    return models_table()


MODEL_COLUMNS = ["name", "demo", "tier", "usable", "status", "size_mb", "reference_metric", "licence"]


def models_rows() -> list[list[Any]]:
    return [[row[c] for c in MODEL_COLUMNS] for row in models_table()]


def create_models_demo() -> gr.Blocks:
    """A small tab listing the registry; its refresh button is the `/models` endpoint."""
    with gr.Blocks() as demo:
        gr.Markdown(
            "Every model the suite knows. **Bundled** models were trained by this project "
            "and ship with it; **pretrained** ones are the published checkpoints, fetched on "
            "first use and cached. Reference metrics are the publishers' figures."
        )
        table = gr.Dataframe(headers=MODEL_COLUMNS, interactive=False, wrap=True, elem_id="models-table")
        refresh = gr.Button("Refresh", size="sm")
        data = gr.JSON(visible=False)
        refresh.click(models_json, outputs=data, api_name="models").then(
            models_rows, outputs=table, api_visibility="private"
        )
        demo.load(models_rows, outputs=table, api_visibility="private")
    return demo

