"""Gradio helpers every tab shares: error translation, the intro block, when a tab computes.

With `components`, `i18n` and `models_tab`, the only modules of `shared` that import
Gradio; model code never does.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json
import logging
import os
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import torch
from gradio import processing_utils

from shared import errors, settings
from shared.i18n import CHINESE, error_in, request_language, text_in, tr
from shared.loading import ModelUnavailable, availability
from shared.registry import get_spec
from shared.templates import fill
from shared.validation import MESSAGES as CHOICE
from shared.validation import BadInput, finite

__all__ = ["finite"]  # re-exported: the tabs check their numbers with `ui.finite`

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("visionlab")

# Queue groups, passed to every event listener (see README, "Queue and concurrency").
# Every event that runs a torch model shares one pool of two: measured on 2 cores with
# 16 clients, one at a time lost a third of the throughput (a model request is also
# decoding, drawing and encoding, which overlap well with another's torch work), while
# four at a time gained nothing and doubled the optimizer playground's latency. The
# playground (pure Python) and the registry listing have pools of their own, so they
# stay quick while models run. VISIONLAB_MODEL_CONCURRENCY resizes the model pool for
# other hardware (a GPU with memory to spare, many cores); see shared.settings.
MODEL_CONCURRENCY = settings.MODEL_CONCURRENCY
MODEL_QUEUE: dict[str, Any] = {"concurrency_id": "model", "concurrency_limit": MODEL_CONCURRENCY}
LIGHT_QUEUE: dict[str, Any] = {"concurrency_id": "light", "concurrency_limit": 2}
REGISTRY_QUEUE: dict[str, Any] = {"concurrency_id": "registry", "concurrency_limit": 4}
QUEUE_MAX_SIZE = 64  # requests waiting in all pools together; more are refused at once


def _save_pil_to_cache_atomically(img: Any, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """Gradio's `save_pil_to_cache`, but the file appears whole or not at all.

    Gradio 6.31 rewrites an output image in place at a path named by its content hash,
    so two requests that produce the same picture write the same file, and a download
    of it that starts meanwhile reads a truncated file (the client sees "peer closed
    connection"). Writing to a temporary name and renaming it into place closes that
    race: a reader keeps the complete file it opened.
    """
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    fd, staging = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


processing_utils.save_pil_to_cache = _save_pil_to_cache_atomically

# The project's own errors, whose message is written for the person using the demo. Any
# other exception (a ValueError or KeyError from deep inside torch or our own code
# included) is a fault of the suite: its text is logged, never shown.
USER_ERRORS = (BadInput, ModelUnavailable)
MESSAGES = errors.templates("error.ui", {
    "internal": "Something went wrong while computing this. The server is still running: "
                "try other settings or another input.",
    "out_of_memory": "The GPU ran out of memory for this image; try a smaller image.",
    "title": "Error",  # the toast's title, Gradio's own in English
})
INTERNAL_ERROR = MESSAGES["internal"]
OUT_OF_MEMORY = MESSAGES["out_of_memory"]

# The language of the request a handler is serving (set by `handle_errors`), for the messages
# of helpers that get no request: `report_unavailable`'s warnings.
LANGUAGE: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="en")


def out_of_memory(exc: BaseException) -> bool:
    """True for an accelerator's out-of-memory error (CUDA's has its own type; MPS's does not)."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def free_accelerator_memory() -> None:
    """Hand the failed request's cached blocks back, so the next request starts clean."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()


def _language_of_call(signature: inspect.Signature, args: tuple, kwargs: dict) -> str:
    """The page language of the `request` argument Gradio passes a handler ("en" without one)."""
    try:
        request = signature.bind_partial(*args, **kwargs).arguments.get("request")
    except TypeError:  # called with arguments the handler does not take: it will say so itself
        return "en"
    return request_language(request)


def _error(message: str, language: str) -> gr.Error:
    """The toast for `message`, in `language`; an API client ("en") gets it as it was written."""
    title = {} if language != CHINESE else {"title": text_in("error.ui.title", language)}
    return gr.Error(error_in(message, language), print_exception=False, **title)


def handle_errors(fn: F) -> F:
    """Turn any failure inside a handler into a `gr.Error` with a plain message.

    The project's own errors (`USER_ERRORS`: bad input, a model that needs a download)
    show their message; running out of GPU memory says so and frees the cache, so the
    next request works; anything else is logged with its traceback and answered with one
    generic sentence, so the visitor never sees a stack trace or an internal message and
    the worker keeps serving. Each message is in the language of the handler's `request`
    (the page's, see `shared.i18n.error_in`); without one, as written, in English.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        language = _language_of_call(signature, args, kwargs)
        token = LANGUAGE.set(language)
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except USER_ERRORS as exc:
            raise _error(str(exc), language) from None
        except Exception as exc:
            if out_of_memory(exc):
                log.warning("out of memory in %s: %s", fn.__name__, (str(exc).splitlines() or [""])[0])
                free_accelerator_memory()
                raise _error(OUT_OF_MEMORY, language) from None
            log.exception("unexpected failure in %s", fn.__name__)  # the details, for the log only
            raise _error(INTERNAL_ERROR, language) from None
        finally:
            LANGUAGE.reset(token)

    return wrapper  # type: ignore[return-value]


# The loader's statuses that a picker shows, as translation keys (registered here, once).
STATUS_KEYS = {"needs download": "models.status.needs_download",
               "missing checkpoint file": "models.status.missing_file"}
STATUS_WORDS = {prefix: tr(key, prefix) for prefix, key in STATUS_KEYS.items()}


def status_label(status: str) -> str:
    """A loader status for a picker's label, in the page's language where it is one of ours:
    "needs download (46 MB)" keeps its number and translates its words (Gradio translates a
    key inside a label)."""
    for prefix, words in STATUS_WORDS.items():
        if status.startswith(prefix):
            return words + status[len(prefix):]
    return status


def model_choices(names: list[str]) -> list[tuple[str, str]]:
    """(label, name) pairs for a model picker; the label says when a model is not usable now."""
    out = []
    for name in names:
        usable, status = availability(get_spec(name))
        out.append((name if usable else f"{name} — " + status_label(status), name))
    return out


def chosen_models(chosen: list[str] | str | None, known: list[str], what: str = "model") -> list[str]:
    """The picked names, validated against `known` and de-duplicated in order (`what`: "model" or
    "method", as the messages call a pick)."""
    what = CHOICE[f"what_{what}"]
    if not chosen:
        raise BadInput(fill(CHOICE["choose"], what=what))
    if isinstance(chosen, str):
        chosen = [chosen]
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise BadInput(fill(CHOICE["unknown"], what=what, name=repr(unknown[0]), known=", ".join(known)))
    return list(dict.fromkeys(chosen))


def report_unavailable(missing: list[str], served: int) -> None:
    """After a handler ran each chosen model: the messages of those that could not run.

    None ran (`served == 0`): the request fails with all their messages. Some ran: each
    message becomes a warning beside the results the others produced. Each is put in the
    request's language first (a joined message no longer matches its templates).
    """
    said = [error_in(message, LANGUAGE.get()) for message in missing]
    if not served:
        raise ModelUnavailable(" ".join(said))
    for message in said:
        gr.Warning(message)


def intro(demo: str, question: str, answer_md: str) -> None:
    """The top of every tab: the interview question, a short collapsible answer, and a
    button that copies a link reopening the tab as it is now (Gradio's deep links)."""
    with gr.Row(equal_height=True):
        gr.Markdown(tr(f"{demo}.question", question), elem_classes="tab-question")
        # DeepLinkButton writes its texts into a script as they are: a translation key goes as its
        # string form (the page translates it), the "copied" one escaped for the script's quotes.
        copied = json.dumps(str(tr("intro.link_copied", "Link copied")))[1:-1]
        gr.DeepLinkButton(str(tr("intro.copy_link", "Copy a link to this view")), copied, size="sm", scale=0,
                          min_width=200)
    with gr.Accordion(tr("intro.short_answer", "Short answer"), open=False):
        gr.Markdown(tr(f"{demo}.answer", answer_md))


def open_tab_from_link_js(known: Collection[str]) -> str:
    """A page-load script selecting the tab named by `?tab=<id>` in the page's address, if it is
    one of `known`; otherwise the page stays on its first tab rather than showing an empty one.

    It runs in the browser, so a link costs no request before the tab's own events start.
    """
    ids = json.dumps(sorted(known))
    return (f"() => {{ const tab = new URLSearchParams(window.location.search).get('tab'); "
            f"return {ids}.includes(tab) ? {{__type__: 'update', selected: tab}} "
            f": {{__type__: 'update'}}; }}")


# The flags of the tab being built: in the suite, `opened_by` collects them around each tab and its
# select sets them all; on a single-demo page it is unset and the page's load sets each one.
_OPENING: contextvars.ContextVar[list[gr.Textbox] | None] = contextvars.ContextVar("opening", default=None)


def _opening_flag() -> gr.Textbox:
    """A text box in the page, hidden by the app's style and kept mounted, that says "opened"."""
    return gr.Textbox("", show_label=False, container=False, interactive=False, elem_classes="opening-flag")


@contextlib.contextmanager
def opened_by(tab: gr.Tab) -> Iterator[None]:
    """Within: `when_opened` events fire the first time `tab` is selected (a click, an Overview
    button or a `?tab=` link), not on every page load, so the tab a visitor opens is the only
    one computing.

    Gradio fires `Tab.select` for every selection, programmatic ones included. The select
    writes "opened" into hidden text boxes in the browser (no request), and a box's `change`
    fires only when its value first changes, so the first opening costs one round trip, not
    two, and returning to a tab keeps what is on it and sends nothing.
    """
    flags: list[gr.Textbox] = []
    token = _OPENING.set(flags)
    try:
        yield
    finally:
        _OPENING.reset(token)
    if flags:
        tab.select(None, js=f"() => {json.dumps(['opened'] * len(flags))}", outputs=flags,
                   api_visibility="private", queue=False, show_progress="hidden")


def when_opened(demo: gr.Blocks) -> Callable[..., Any]:
    """The trigger for one of a tab's first results: its first opening in the suite (see
    `opened_by`), or the page's load when the tab is served alone. Call it like `demo.load`, or
    pass it to `gr.on`.

    Each call gets a trigger of its own (a hidden flag's `change`): Gradio 6.31 runs the
    listeners of one trigger one after another, each waiting for the last to finish, so a tab
    whose first results shared one trigger showed the last of them only after all the others
    had been computed. With a trigger each, they start together and the queue's pools decide
    how many run at once."""
    flag = _opening_flag()
    flags = _OPENING.get()
    if flags is None:  # served alone: the page's load sets the flag, in the browser
        demo.load(None, js="() => 'opened'", outputs=flag, api_visibility="private", queue=False,
                  show_progress="hidden")
    else:
        flags.append(flag)
    return flag.change


def example_caching() -> dict[str, Any]:
    """How `gr.Examples` caches: never. A click fills the inputs and the tab's own events
    compute the result in the page's language. A cached example would keep the language,
    captions and sentences of the first visitor who clicked it and show them to everyone
    after; the tabs' results take well under a second, so nothing is worth that."""
    return {"cache_examples": False}
