"""Test-wide settings: never touch the network, keep torch to the machine's cores."""

import inspect
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# Offline before anything imports huggingface_hub or the loader.
os.environ.setdefault("VISIONLAB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DEVICE", "cpu")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Browser tests drive Debian's Chromium (.ci/run installs it) through Playwright, launched as
# the page benchmark launches it; screenshots go to artifacts/browser/ (kept by CI as artifacts).
from benchmarks.page import chromium, chromium_path  # noqa: E402  (after the path set-up above)

CHROMIUM = chromium_path()
ARTIFACTS = ROOT / "artifacts" / "browser"


# Every text node a visitor can see on the page (a browser-side script for page.evaluate).
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement, text = node.textContent.trim();
    // Not shown: KaTeX's copy of each formula for screen readers; the JSON payloads of the
    // API are code; the footer is Gradio's.
    const skipped = 'footer, .katex-mathml, .json-holder, [data-testid="json"], script, style';
    if (!text || !el || el.closest(skipped)) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    out.push(text);
  }
  return out;
}"""


# Gradio's own status labels it has no Chinese for show as their raw key (e.g. "common.complete",
# for a moment after an event ends); they are the framework's text, not the page's.
GRADIO_KEY = re.compile(r"^[a-z_]+\.[a-z_]+$")

# Words a Chinese page keeps in English: the suite's and the models' names, metric names, units.
KEPT_WORDS = {"Vision", "Lab", "Focal", "Loss", "ROIPool", "ROIAlign", "CycleGAN", "Language", "English",
              "AP", "OKS", "MB", "ms", "JSON"}
# And what an error message keeps: formats, hardware, methods; quoted text is a value the API takes.
MESSAGE_WORDS = {"GPU", "PNG", "JPEG", "WebP", "BMP", "GIF", "TIFF", "FPN", "NMS", "Soft", "SGD", "SHA",
                 "safetensors", "Adadelta", "RMSprop", "fp", "eager", "NaN", "Infinity", "nan", "inf"}
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def english_on(page: Any, kept: set[str] = frozenset(), skip: str = "code") -> list[str]:
    """The English words a page in Chinese shows, with the text each sits in: everything visible
    except names of registered models, `KEPT_WORDS | kept`, and elements matching `skip`."""
    shown = page.evaluate(VISIBLE_TEXT.replace("script, style", f"script, style, {skip}" if skip else
                                               "script, style"))
    return english_words(shown, kept)


def english_words(texts: list[str], kept: set[str] = frozenset(),
                  values: set[str] = frozenset()) -> list[str]:
    """The English words in `texts` meant to be Chinese, with the text each sits in: all but names
    of registered models, `KEPT_WORDS | kept`, and the `values` (strings an API takes) as written."""
    from shared.registry import specs

    names = sorted({s.name for s in specs()} | set(values), key=len, reverse=True)
    found = set()
    for text in texts:
        if GRADIO_KEY.match(text.strip()):
            continue
        bare = text
        for name in names:
            bare = bare.replace(name, "")
        found |= {f"{w} (in {text[:60]!r})" for w in re.findall(r"[A-Za-z]{2,}", bare)
                  if w not in KEPT_WORDS | kept}
    return sorted(found)


def shows(page: Any, selector: str, words: str, timeout: float = 180_000) -> None:
    """Wait until the element at `selector` shows `words`."""
    page.wait_for_function("([sel, words]) => document.querySelector(sel)?.innerText.includes(words)",
                           arg=[selector, words], timeout=timeout)


# Gradio's progress line on an output still being computed ("processing |", "queue: 1/2 |") is its
# own English, shown while an event runs; the page is read once none has run for 1.5 s (an example
# fills several inputs, whose change events can start a moment after the example's own run ends).
QUIET = """async () => {
  const busy = () => [...document.querySelectorAll('.generating, span, div')].some(el =>
    el.matches('.generating') || (el.childElementCount === 0 && el.checkVisibility()
                                  && /^(processing|queue:)/.test(el.textContent.trim())));
  for (let quiet = 0, waited = 0; quiet < 1500; waited += 250) {
    if (waited > 180000) return false;
    await new Promise(done => setTimeout(done, 250));
    quiet = busy() ? 0 : quiet + 250;
  }
  return true;
}"""


def settled(page: Any) -> None:
    """Every event has ended and no other has started for a while."""
    assert page.evaluate(QUIET), "the page was still computing after three minutes"


class ChineseRequest:
    """Stands in for a `gr.Request` from a page set to Simplified Chinese (the language cookie)."""

    cookies = {"visionlab-language": "zh-CN"}
    headers: dict = {}


# URL -> the app `served` launched there, for tests that look up its events.
LAUNCHED: dict[str, Any] = {}


@contextmanager
def served(demos: list[str] | None = None, **launch: Any) -> Iterator[str]:
    """The real suite (or some of its demos) served in this process on a free local port;
    yields its URL. `launch` adds options to `launch()`, e.g. `mcp_server=True`."""
    from app import STYLE, build_app
    from benchmarks.timing import free_port

    demo = build_app(demos)
    _, url, _ = demo.launch(**STYLE, server_name="127.0.0.1", server_port=free_port(),
                            prevent_thread_lock=True, quiet=True, **launch)
    LAUNCHED[url] = demo
    try:
        yield url
    finally:
        demo.close()
        LAUNCHED.pop(url, None)


def public_endpoints(blocks: Any) -> dict[str, Any]:
    """The app's public API, as Gradio lists it: "/detect" -> the handler, in the app's order."""
    handlers = {f"/{fn.api_name}": fn.fn for fn in blocks.fns.values() if fn.api_name}
    return {name: handlers[name] for name in blocks.get_api_info()["named_endpoints"]}


def tab_of(handler: Any) -> str:
    """The tab whose package defines `handler` ("models" for the registry's own endpoint)."""
    from app import DEMOS

    module = inspect.unwrap(handler).__module__
    for name, (_, ui_module) in DEMOS.items():
        if module.startswith(ui_module.rsplit(".", 1)[0] + "."):
            return name
    return "models" if module == "shared.models_tab" else module


@pytest.fixture(scope="session")
def app_url():
    """The real suite, launched once per test session."""
    with served() as url:
        yield url


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def raw_call(url: str, api_name: str, body: str, timeout: float = 60.0) -> tuple[str, str]:
    """Call an endpoint with a hand-written JSON body, as a non-Python client could.

    gradio_client refuses to encode NaN or infinity; a raw HTTP client can send them
    (Python's json module writes and reads `NaN` and `Infinity`). Returns the final
    server-sent event's name ("complete" or "error") and its data.
    """
    import httpx

    base = url.rstrip("/") + f"/gradio_api/call/{api_name}"
    headers = {"Content-Type": "application/json"}
    event_id = httpx.post(base, content=body, headers=headers, timeout=timeout).json()["event_id"]
    event, data = "", ""
    with httpx.stream("GET", f"{base}/{event_id}", timeout=timeout) as response:
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = line.split(":", 1)[1].strip()
                if event in ("complete", "error"):
                    break
    return event, data


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for one test module; each test opens its own context in it. Per module,
    not per session: while Playwright's sync API is open it holds an event loop on this thread,
    and tests that call `asyncio.run` (the MCP client) must not run inside it."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (.ci/run installs it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as launched:
        yield launched


@pytest.fixture(autouse=True)
def _torch_hub_dir_restored():
    """Tests that point torch.hub at a folder of their own (a pre-populated or patched cache) get the
    previous folder back afterwards, so a model they cached there is not "cached" for later tests."""
    import torch.hub

    before = torch.hub.get_dir()
    yield
    torch.hub.set_dir(before)
