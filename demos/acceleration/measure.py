"""One measurement: every chosen technique on one model and input, in one run, against fp32 eager.

Model code only (no Gradio). For each technique: latency (median and 95th percentile of
`repeats` calls after two warm-up calls, all in this run so the ratios compare like with
like), the speed-up over fp32 eager, the peak extra memory while it was converted and
run, the size of the converted model's file, the largest difference of its raw outputs
from fp32 eager's (and whether that is within the technique's stated tolerance), and,
for bundled models, the change of the model's own metric on its fixed subset, with a
paired bootstrap interval for the detectors.

Only one measurement runs at a time in a process (`MEASURING`): two at once would share
the cores and time each other, not the techniques.
"""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from shared import acceleration as serving
from shared import device as devices
from shared import errors
from shared.templates import fill
from shared.validation import MESSAGES as CHOICE
from shared.validation import BadInput

from . import subjects
from .techniques import BASELINE, BY_NAME, NAMES, Prepared, Technique, prepare

Progress = Callable[[float, str], None]
REPEATS_LIMITS = (3, 50)
WARMUP = 2
MEASURING = threading.Lock()
_RUNNING: dict[str, str] = {}  # what the running measurement is, for the message to a second caller
# A measurement's progress, and what a row says when its technique broke: one template each ([name]
# marks a value, see shared.templates), so the tab can say them again in the page's language.
PROGRESS = {
    "preparing": "preparing [name] at [size] px",
    "converting": "converting and warming up: [technique]",
    "timing": "timing: round [round] of [rounds]",
    "checking": "checking outputs and accuracy: [technique]",
    "done": "done",
}
FAILURES = {
    "conversion": "the conversion failed: [error]: [message]",
    "unchecked": "its outputs or metric could not be checked here ([error]: [message])",
}
NOTE_JOIN = "; "  # a row's note and what went wrong checking it


class Busy(BadInput):
    """A measurement is already running: a second would share its cores and spoil both."""


def quiet(fraction: float, message: str) -> None:
    """The default progress callback: report nothing."""


@dataclass
class Row:
    technique: str
    level: str
    status: str  # "measured", "skipped" (cannot run here), "failed" (the conversion broke)
    reason: str = ""
    median_ms: float | None = None
    p95_ms: float | None = None
    speedup: float | None = None
    peak_mb: float | None = None
    file_mb: float | None = None
    convert_s: float | None = None
    max_abs: float | None = None
    max_rel: float | None = None
    tolerance: float | None = None
    faithful: bool | None = None
    metric: str = ""
    value: float | None = None
    change: float | None = None
    change_ci: list[float] | None = None
    note: str = ""


@dataclass
class Measurement:
    model: str
    weights: str  # "bundled", "pretrained" (real weights) or "random" (speed and faithfulness only)
    size: list[int]  # [width, height] of the input image
    device: str
    machine: str
    date: str
    repeats: int
    threads: int
    rows: list[Row] = field(default_factory=list)
    quality_subset: str = ""
    seconds: float = 0.0

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Measurement:
        return cls(**{**data, "rows": [Row(**r) for r in data["rows"]]})


# ---------------------------------------------------------------- what a request may ask for


# The names the settings are refused under, and the request's own errors (shared.errors).
MESSAGES = errors.templates("error.acceleration", {
    "input_size": "The input size",
    "repeats": "The number of timed repeats",
    "whole": "The input size and the number of repeats must be whole numbers.",
    "no_technique": "Choose at least one technique to compare with fp32 eager.",
})


def check_request(model: object, size: object, techniques: object,
                  repeats: object) -> tuple[str, int, list[str], int]:
    """The request's settings, validated, or `BadInput` saying which one is wrong."""
    from shared.validation import finite

    name = subjects.check_name(model)
    low, high = subjects.SIZE_LIMITS
    side = finite(size, MESSAGES["input_size"], low=low, high=high)
    count = finite(repeats, MESSAGES["repeats"], low=REPEATS_LIMITS[0], high=REPEATS_LIMITS[1])
    if not float(side).is_integer() or not float(count).is_integer():
        raise BadInput(MESSAGES["whole"])
    if isinstance(techniques, str):
        techniques = [techniques]
    if not techniques:
        raise BadInput(MESSAGES["no_technique"])
    unknown = [t for t in techniques if t not in BY_NAME]
    if unknown:
        raise BadInput(fill(CHOICE["unknown"], what=CHOICE["what_technique"], name=repr(unknown[0]),
                            known=", ".join(NAMES)))
    # The baseline first, then the table's order.
    chosen = [BASELINE] + [t for t in NAMES if t in techniques and t != BASELINE]
    return name, int(side), chosen, int(count)


# ---------------------------------------------------------------- memory


def _resident_bytes() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    import resource

    return pages * resource.getpagesize()


class PeakMemory:
    """Peak extra memory while the block runs: CUDA's allocator counter, or resident memory sampled
    every 5 ms on the CPU (None where /proc is missing)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peak_mb = device, None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            self._start = torch.cuda.memory_allocated()
            return self
        self._start = _resident_bytes()
        self._peak = self._start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            now = _resident_bytes()
            if now is not None and self._peak is not None:
                self._peak = max(self._peak, now)

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            self.peak_mb = (torch.cuda.max_memory_allocated() - self._start) / 2**20
            return
        self._stop.set()
        self._thread.join()
        if self._start is not None:
            self.peak_mb = max(0.0, (self._peak - self._start) / 2**20)


# ---------------------------------------------------------------- the measurement


def _call(prepared: Prepared, call, x, device: torch.device) -> float:
    """One call in the technique's context; its wall time in ms (synchronised on CUDA)."""
    with prepared.context():
        devices.synchronise(device)
        t0 = time.perf_counter()
        call(prepared.model, x)
        devices.synchronise(device)
        return (time.perf_counter() - t0) * 1000


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _prepare(technique: Technique, subject, x) -> tuple[Row, Prepared | None]:
    """The technique applied and warmed up, with its peak memory; or a row that says why not."""
    row = Row(technique.name, technique.level, "measured", tolerance=technique.tolerance)
    reason = technique.unavailable(subject)
    if reason:
        row.status, row.reason = "skipped", reason
        return row, None
    with PeakMemory(subject.device) as memory:
        try:
            prepared = prepare(technique, subject)
            for _ in range(WARMUP):  # first calls pick kernels and reorder weights: not timed
                _call(prepared, subject.call, x, subject.device)
        except Exception as exc:  # a conversion this model does not survive: the row says so
            first = (str(exc).strip().splitlines() or [""])[0][:160]
            row.status = "failed"
            row.reason = fill(FAILURES["conversion"], error=type(exc).__name__, message=first)
            return row, None
    row.peak_mb, row.convert_s, row.note = memory.peak_mb, round(prepared.seconds, 2), prepared.note
    return row, prepared


def _compare(row: Row, prepared: Prepared, subject, x, reference: dict, accuracy: bool = True) -> None:
    """Outputs against fp32 eager's, and the bundled model's own metric, filled into `row`."""
    with prepared.context():
        outputs = subjects.raw_outputs(prepared.model, x)
    if row.technique == BASELINE:  # measured first: what every other row is compared with
        reference["outputs"] = outputs
    if "outputs" in reference:
        diff = serving.differences(reference["outputs"], outputs)
        row.max_abs, row.max_rel = diff["max_abs"], diff["max_rel"]
        row.faithful = bool(row.max_rel <= (row.tolerance or 0.0))
    found = subjects.quality(subject.name, prepared.model, prepared.context) if accuracy else None
    if found is None:
        return
    if row.technique == BASELINE:
        reference["quality"] = found
    base = reference.get("quality")
    row.metric, row.value = found.metric, round(found.value, 4)
    if base is None:
        return
    row.change = round(found.value - base.value, 4)
    if found.samples is not None and base.samples is not None:
        change = found.samples[1:] - base.samples[1:]  # the same scene resamples for both: paired
        row.change_ci = [round(float(v), 4) for v in np.percentile(change, [2.5, 97.5])]


def measure(model: str, size: int, techniques: list[str], repeats: int = 10,
            progress: Progress = quiet, accuracy: bool = True) -> Measurement:
    """Every technique in `techniques` (fp32 eager first) on `model` at `size` px, in one run;
    `accuracy=False` leaves out the bundled models' metric (the slowest part for small models)."""
    name, size, chosen, repeats = check_request(model, size, techniques, repeats)
    if not MEASURING.acquire(blocking=False):
        running = _RUNNING.get("what", "another measurement")
        raise Busy(f"A measurement is already running on this machine ({running}); two at once would share "
                   "the cores and time each other. Try again when it has finished.")
    try:
        _RUNNING["what"] = f"{name} at {size} px"
        return _measure(name, size, chosen, repeats, progress, accuracy)
    finally:
        _RUNNING.clear()
        MEASURING.release()


def _measure(name: str, size: int, chosen: list[str], repeats: int, progress: Progress,
             accuracy: bool) -> Measurement:
    """Prepare every technique, then time them in turns (so a change in the machine's load hits all
    of them alike), then check each one's outputs and metric."""
    from .techniques import state_bytes

    t0 = time.perf_counter()
    device = devices.pick_device()
    progress(0.0, fill(PROGRESS["preparing"], name=name, size=size))
    subject, x = subjects.subject(name, size, device)
    weights = subjects.weights_kind(name)
    result = Measurement(
        model=name, weights=weights, size=[int(x.shape[-1]), int(x.shape[-2])], device=device.type,
        machine=serving.machine_label(device), date=dt.datetime.now().isoformat(timespec="minutes"),
        repeats=repeats, threads=torch.get_num_threads(),
        quality_subset=subjects.quality_subset(name) if weights == "bundled" and accuracy else "")
    fp32_bytes = state_bytes(subject.model)
    ready: list[tuple[Row, Prepared]] = []
    for i, technique in enumerate(chosen):
        progress(0.4 * i / len(chosen), fill(PROGRESS["converting"], technique=technique))
        row, prepared = _prepare(BY_NAME[technique], subject, x)
        result.rows.append(row)
        if prepared is not None:
            row.file_mb = round((prepared.file_bytes or fp32_bytes) / 1e6, 3)
            ready.append((row, prepared))
    times: dict[str, list[float]] = {row.technique: [] for row, _ in ready}
    for r in range(repeats):
        progress(0.4 + 0.3 * r / repeats, fill(PROGRESS["timing"], round=r + 1, rounds=repeats))
        turn = ready[r % len(ready):] + ready[:r % len(ready)]  # each round starts with another technique
        for row, prepared in turn:
            times[row.technique].append(_call(prepared, subject.call, x, device))
    base_ms = statistics.median(times[BASELINE]) if times.get(BASELINE) else None
    reference: dict = {}
    for i, (row, prepared) in enumerate(ready):
        progress(0.7 + 0.3 * i / len(ready), fill(PROGRESS["checking"], technique=row.technique))
        row.median_ms = round(statistics.median(times[row.technique]), 3)
        row.p95_ms = round(_percentile(times[row.technique], 0.95), 3)
        row.speedup = round(base_ms / row.median_ms, 3) if base_ms else None
        try:
            _compare(row, prepared, subject, x, reference, accuracy)
        except Exception as exc:  # e.g. a metric whose data cannot reach this device: the row says so
            first = (str(exc).strip().splitlines() or [""])[0][:160]
            row.note = (row.note + NOTE_JOIN if row.note else "") + fill(
                FAILURES["unchecked"], error=type(exc).__name__, message=first)
    progress(1.0, PROGRESS["done"])
    result.seconds = round(time.perf_counter() - t0, 1)
    return result


def best(measurement: Measurement, max_ap_loss: float = 0.005) -> Row | None:
    """The fastest faithful row; for bundled models also within `max_ap_loss` of the baseline's metric."""
    rows = [r for r in measurement.rows if r.status == "measured" and r.faithful and r.technique != BASELINE
            and (r.speedup or 0.0) > 1.0 and (r.change is None or r.change >= -max_ap_loss)]
    return max(rows, key=lambda r: r.speedup or 0.0, default=None)
