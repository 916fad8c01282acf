"""Measurements kept per machine, so the tab opens with the last one taken here.

Model code only (no Gradio). One JSON file per machine (`shared.acceleration.machine_key`)
in `settings.acceleration_dir()` (artifacts/acceleration, ignored by git): a timing holds
only for the machine it was taken on, and each entry carries that machine's description
and the date. Writes go to a temporary file renamed into place, so a reader never sees half
a file; a file that cannot be read (damaged, or from an incompatible version) is ignored
with a message, and the next measurement replaces it.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from shared import acceleration as serving
from shared import settings
from shared.templates import fill

from .measure import Measurement

FORMAT = "vision-lab-acceleration-1"
# What `load` says about a file it had to ignore ([name] marks a value, see shared.templates).
UNREADABLE = ("The kept measurements in [file] could not be read ([reason]), so they were ignored; the next "
              "measurement replaces the file.")
_LOCK = threading.Lock()


def cache_file() -> Path:
    return settings.acceleration_dir() / f"measurements-{serving.machine_key()}.json"


def key(measurement: Measurement) -> str:
    return f"{measurement.model}|{measurement.size[0]}x{measurement.size[1]}"


def load(path: Path | None = None) -> tuple[dict[str, Measurement], str]:
    """(the kept measurements by model and size, a message: "" unless the file had to be ignored)."""
    path = path or cache_file()
    if not path.is_file():
        return {}, ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        return {k: Measurement.from_json(v) for k, v in data["results"].items()}, ""
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {str(exc)[:80]}"
        return {}, fill(UNREADABLE, file=path.name, reason=reason)


def save(measurement: Measurement, path: Path | None = None) -> Path:
    """Keep `measurement` (replacing an earlier one of the same model and size)."""
    path = path or cache_file()
    with _LOCK:
        kept, _ = load(path)
        kept[key(measurement)] = measurement
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        staging.write_text(json.dumps({"format": FORMAT, "machine": serving.machine_label(),
                                       "results": {k: m.as_json() for k, m in kept.items()}}, indent=1),
                           encoding="utf-8")
        os.replace(staging, path)
    return path


def latest(model: str | None = None, path: Path | None = None) -> tuple[Measurement | None, str]:
    """The most recent kept measurement (of `model`, if given), and load's message."""
    kept, message = load(path)
    found = [m for m in kept.values() if model is None or m.model == model]
    return max(found, key=lambda m: m.date, default=None), message
