"""One typed registry of every model the suite can serve.

Dropdowns, the `/models` endpoint, README tables and tests are all derived from it,
so a model's name is written exactly once: in the `ModelSpec` its demo registers.
Two tiers (docs/ARCHITECTURE.md, "Two tiers of models"): *bundled* checkpoints trained
by this project and shipped in `checkpoints/`, and *pretrained* published checkpoints
fetched on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shared import settings
from shared.templates import Phrase

ROOT = settings.ROOT
# VISIONLAB_CHECKPOINTS points the bundled tier elsewhere, e.g. at freshly trained files.
CHECKPOINTS = settings.CHECKPOINTS

Tier = Literal["bundled", "pretrained"]


@dataclass(frozen=True)
class BundledFile:
    """A `.safetensors` file shipped in `checkpoints/` (path relative to it)."""

    filename: str

    @property
    def path(self) -> Path:
        return CHECKPOINTS / self.filename


@dataclass(frozen=True)
class HubFile:
    """One file of a Hugging Face Hub repository, pinned to a commit."""

    repo_id: str
    filename: str
    revision: str  # a full commit hash, so the bytes can never change under us
    repo_type: str = "model"

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo_id}/blob/{self.revision}/{self.filename}"


@dataclass(frozen=True)
class UrlFile:
    """A file at a fixed URL whose name carries (a prefix of) its SHA-256.

    This is how torchvision publishes its weights (`retinanet_resnet50_fpn_coco-eeacb38b.pth`),
    and `torch.hub` checks the prefix after the transfer. Files whose names carry no hash
    can pin the full digest in `sha256` instead; the loader checks it after the transfer.
    """

    url: str
    sha256: str | None = None

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


WeightsSource = BundledFile | HubFile | UrlFile


@dataclass(frozen=True)
class ModelSpec:
    """Everything the suite knows about one model, before any weight is loaded."""

    name: str  # unique, shown in the UI and accepted by the API
    demo: str  # the tab that serves it, e.g. "detection"
    task: str  # e.g. "object detection"
    tier: Tier
    weights: WeightsSource
    build: Callable[[], Any]  # returns the architecture (an nn.Module) with no weights
    size_mb: float  # size of the weights file to fetch or ship
    licence: str
    paper: str = ""
    reference_metric: str = ""  # a published figure, with its source
    description: str = ""
    # Maps the raw state dict onto `build()`'s key names (official files often differ).
    convert: Callable[[dict], dict] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The texts above that are written from a template of PHRASES, by field name ("reference_metric"):
    # such a field may be left empty and then holds the phrase in English; a page in another language
    # says it again from the template's translation, with the same values (the Models tab).
    phrases: dict[str, Phrase] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, written in self.phrases.items():
            english = str(written)
            if getattr(self, name) not in ("", english):
                raise ValueError(f"{self.name}: {name} {getattr(self, name)!r} is not its phrase {english!r}")
            object.__setattr__(self, name, english)  # frozen: set once, here

    @property
    def source(self) -> str:
        w = self.weights
        # Hub and URL files both carry their address as `url`.
        return f"checkpoints/{w.filename}" if isinstance(w, BundledFile) else w.url


_REGISTRY: dict[str, ModelSpec] = {}
_LOCK = threading.Lock()
# key -> English template ([name] marks a value) of every phrase a demo's registry writes its models'
# texts from, added when the registry is imported, whether or not a model of this machine uses it:
# the Models tab registers each one for translation.
PHRASES: dict[str, str] = {}


def add_phrases(demo: str, templates: dict[str, str]) -> None:
    """Make `templates` (name -> English) known as "<demo>.<name>"."""
    for name, template in templates.items():
        key = f"{demo}.{name}"
        if PHRASES.setdefault(key, template) != template:
            raise ValueError(f"The phrase {key!r} has two different templates.")


def phrase(key: str, **values: Any) -> Phrase:
    """PHRASES[key] with `values` put in (as text), kept as a Phrase."""
    return Phrase(key, PHRASES[key], {name: str(value) for name, value in values.items()})


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model; registering the same spec twice (a module re-import) is harmless."""
    with _LOCK:
        old = _REGISTRY.get(spec.name)
        if old is not None and (old.weights, old.demo) != (spec.weights, spec.demo):
            raise ValueError(f"Two different models are registered as {spec.name!r}.")
        _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    with _LOCK:
        _REGISTRY.pop(name, None)


def get_spec(name: str) -> ModelSpec:
    """The spec for `name`, or a `KeyError` whose message lists the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"Unknown model {name!r}. Known models: {known}.") from None


def specs(demo: str | None = None, tier: Tier | None = None) -> list[ModelSpec]:
    """Registered specs in registration order, optionally filtered."""
    return [
        s
        for s in _REGISTRY.values()
        if (demo is None or s.demo == demo) and (tier is None or s.tier == tier)
    ]


def names(demo: str | None = None, tier: Tier | None = None) -> list[str]:
    return [s.name for s in specs(demo, tier)]
