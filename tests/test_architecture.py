"""The layering rules of docs/ARCHITECTURE.md, checked on the code itself.

- shared/ never imports a demo or the app; model code never loads Gradio or a tab's UI;
- only shared/settings.py reads the environment;
- importing a demo's package registers its models (no registry import to remember);
- every tab serves at least one public endpoint and every endpoint belongs to a tab;
- a request that fails inside the suite is logged and answered in one generic sentence,
  while the project's own errors (BadInput, ModelUnavailable) show their message.
"""

from __future__ import annotations

import ast
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import app
from tests.conftest import public_endpoints, tab_of

ROOT = Path(__file__).resolve().parent.parent
# Modules that are the interface: they may import Gradio. Every tab's ui.py is one; a tab whose
# interface needs a second file lists it here (the optimizer playground's widget layout).
UI_MODULES = {"shared.ui", "shared.components", "shared.i18n", "shared.models_tab", "demos.optimizers.layout"}
# Environment reads outside shared/settings.py that are still to move there, with the reason.
ENVIRONMENT_READS_TO_MOVE = {
}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _sources(*folders: str) -> list[Path]:
    found = (p for folder in folders for p in (ROOT / folder).rglob("*.py"))
    return sorted(p for p in found if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
    return found


def test_shared_never_imports_a_demo_or_the_app():
    offenders = {_module(p): sorted(m for m in _imports(p) if m.split(".")[0] in ("demos", "app", "publish"))
                 for p in _sources("shared")}
    assert {m: i for m, i in offenders.items() if i} == {}


def _reads_environment(path: Path) -> list[int]:
    """Lines where `path` reads a variable from the environment (os.environ.get, os.getenv,
    os.environ[...], `in os.environ`); writing a default with setdefault is not reading a setting."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        text = ast.unparse(node) if isinstance(node, (ast.Call, ast.Subscript, ast.Compare)) else ""
        if isinstance(node, ast.Call) and text.startswith(("os.environ.get(", "os.getenv(", "environ.get(")):
            lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                and text.startswith("os.environ["):
            lines.append(node.lineno)
        elif isinstance(node, ast.Compare) and "os.environ" in text and any(
                isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment():
    paths = [*_sources("shared", "demos"), ROOT / "app.py", ROOT / "publish.py"]
    reads = {str(p.relative_to(ROOT)): _reads_environment(p) for p in paths}
    reads = {f: lines for f, lines in reads.items() if lines and f != "shared/settings.py"}
    assert set(reads) <= set(ENVIRONMENT_READS_TO_MOVE), reads


def _run(code: str, timeout: float = 300) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_model_code_never_loads_gradio_or_a_tab():
    """Each module that is not interface is imported in turn, in one fresh process; after each,
    neither Gradio nor any tab's ui module may have been loaded."""
    modules = [_module(p) for p in _sources("shared", "demos") if p.name != "__init__.py"]
    modules = [m for m in modules if not m.endswith(".ui") and m not in UI_MODULES]
    assert len(modules) > 20 and "shared.loading" in modules and "demos.cyclegan.model" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    loaded = sorted(m for m in sys.modules if m == 'gradio' or m.startswith('gradio.')\n"
        "                    or (m.startswith('demos.') and m.endswith('.ui')))\n"
        "    if loaded:\n"
        "        print('LOADED', name, loaded[:3])\n"
        "        break\n"
        "else:\n"
        "    print('clean')\n"
    )
    assert _run(code).strip() == "clean"


def test_importing_a_demo_package_registers_its_models():
    """The models a tab serves are registered by importing its package alone, before any UI,
    so model code can ask for a model by name (`detect("tiny-retinanet-focal", ...)`) without
    importing a registry first. Building the whole app registers nothing more."""
    packages = [module.rsplit(".", 1)[0] for _, module in app.DEMOS.values()]
    code = (
        "import importlib, sys\n"
        "from shared.registry import names\n"
        f"for package in {packages!r}:\n"
        "    importlib.import_module(package)\n"
        "assert 'gradio' not in sys.modules, 'a demo package loads Gradio'\n"
        "by_packages = sorted(names())\n"
        "import app\n"
        "app.build_app()\n"
        "print(by_packages == sorted(names()), len(by_packages), sorted(set(names()) - set(by_packages)))\n"
    )
    same, count, missing = _run(code).split(" ", 2)
    assert same == "True", f"registered only when the tab is built: {missing}"
    assert int(count) >= 6


@pytest.fixture(scope="module")
def suite():
    return app.build_app()


def test_every_tab_serves_a_public_endpoint_and_every_endpoint_belongs_to_a_tab(suite):
    endpoints = public_endpoints(suite)
    owners = {name: tab_of(fn) for name, fn in endpoints.items()}
    assert set(owners.values()) <= {*app.DEMOS, "models"}, owners
    assert {*app.DEMOS, "models"} <= set(owners.values()), f"tabs without a public endpoint: {owners}"
    handlers = [fn.__name__ for fn in endpoints.values()]
    assert len(set(handlers)) == len(handlers), "two endpoints share a handler name (MCP tool names clash)"


# ---------------------------------------------------------------- errors


def _call(handler):
    import gradio as gr

    from shared import ui

    with pytest.raises(gr.Error) as caught:
        ui.handle_errors(handler)()
    return caught.value.message


def test_the_projects_own_errors_show_their_message():
    from shared.loading import ModelUnavailable
    from shared.validation import BadInput, finite

    def bad():
        finite(float("nan"), "The score threshold", low=0.0, high=1.0)

    def unavailable():
        raise ModelUnavailable("Model 'x' needs a download of 5 MB, and this server is offline.")

    assert _call(bad) == "The score threshold must be a finite number, not nan."
    assert "needs a download" in _call(unavailable)
    assert issubclass(BadInput, ValueError)  # callers that catch ValueError still catch it


@pytest.mark.parametrize("error", [ValueError("tensor of shape [3] cannot be viewed as [2, 2]"),
                                   KeyError("backbone.body.0.weight"), RuntimeError("CUDA error: 700"),
                                   ZeroDivisionError("float division by zero")])
def test_an_internal_failure_is_logged_and_answered_plainly(error, caplog):
    from shared import ui

    def handler():
        raise error

    caplog.set_level(logging.ERROR, logger="visionlab")
    message = _call(handler)
    assert message == ui.INTERNAL_ERROR
    assert str(error.args[0]) not in message and type(error).__name__ not in message
    assert str(error.args[0]) in caplog.text  # the details are kept, for whoever reads the log


@pytest.mark.parametrize(("value", "kwargs", "expected"), [
    (0.5, {"low": 0, "high": 1}, None),
    ("0.5", {}, "must be a number, not '0.5'"),
    (True, {}, "must be a number, not True"),
    (float("inf"), {}, "must be a finite number, not inf"),
    (-1, {"strictly_positive": True}, "must be greater than 0 (got -1)"),
    (1.0, {"low": 0, "high": 1, "high_open": True}, "must be at least 0 and less than 1 (got 1)"),
    (20, {"low": 1, "high": 16}, "must be between 1 and 16 (got 20)"),
    (11, {"high": 10}, "must be at most 10 (got 11)"),
])
def test_one_number_check_for_every_layer(value, kwargs, expected):
    from shared.validation import BadInput, finite

    if expected is None:
        assert finite(value, "The x", **kwargs) == value
    else:
        with pytest.raises(BadInput, match=expected.replace("(", r"\(").replace(")", r"\)")):
            finite(value, "The x", **kwargs)


def test_the_suite_computes_nothing_when_its_page_loads():
    """Every event the page's load starts runs in the browser only (the `?tab=` link); a tab's
    first result waits until the tab is opened (shared.ui.when_opened)."""
    import gradio as gr

    from app import build_app, tab_titles

    suite = build_app()
    on_load = [fn for fn in suite.fns.values() if any(event == "load" for _, event in fn.targets)]
    assert on_load and all(fn.fn is None for fn in on_load), [fn.name for fn in on_load if fn.fn is not None]
    tab_selects = {suite.blocks[b].id: fn for fn in suite.fns.values() for b, event in fn.targets
                   if event == "select" and isinstance(suite.blocks[b], gr.Tab)}
    # Every tab but the Overview computes when opened (and so does a tab inside one, the
    # optimizer tab's batch panel); a select only marks its tab opened, in the browser.
    assert set(tab_titles()) - {"overview"} <= set(tab_selects) and "overview" not in tab_selects
    assert all(fn.fn is None for fn in tab_selects.values())


def test_each_first_result_has_an_opening_trigger_of_its_own():
    """Gradio runs the listeners of one trigger one after another, each waiting for the last to
    finish; a tab's first results each get their own opening flag, so they start together."""
    import gradio as gr

    from app import build_app

    suite = build_app()
    flags = {key for key, b in suite.blocks.items()
             if isinstance(b, gr.Textbox) and "opening-flag" in (b.elem_classes or [])}
    listeners: dict[int, list[str]] = {}
    for fn in suite.fns.values():
        for block, event in fn.targets:
            if block in flags and event == "change" and fn.fn is not None:
                listeners.setdefault(block, []).append(fn.name)
    assert len(listeners) >= 20, "every tab's opening events are found"
    shared = {flag: names for flag, names in listeners.items() if len(names) > 1}
    assert not shared, shared
