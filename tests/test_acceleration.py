"""The acceleration techniques, the serving hook and the kept measurements, on real models.

Every technique that can run here is applied to the bundled focal-loss detector and must
stay within its own stated tolerance of fp32 eager (torch.compile is left out: compiling
the detector takes over a minute on two shared cores; `python -m benchmarks` measures it
where it is asked for). The serving hook must refuse a path that is not faithful, or that
fails, and serve fp32 eager instead; kept files must round-trip, and a damaged one must be
ignored with a message.
"""

from __future__ import annotations

import math
import threading

import pytest
import torch

from demos.acceleration import cache, measure, subjects
from demos.acceleration.techniques import NAMES
from shared import acceleration as serving
from shared.device import configure_threads

DETECTOR = "tiny-retinanet-focal"
SLOW = {"torch.compile"}


@pytest.fixture(autouse=True)
def kept_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONLAB_ACCELERATION_DIR", str(tmp_path / "acceleration"))


@pytest.fixture(scope="module", autouse=True)
def app_threads():
    """Each call gets the threads the app gives it: on two busy cores, two threads per call were
    measured seven times slower than one."""
    before = torch.get_num_threads()
    configure_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def detector_measurement() -> measure.Measurement:
    return measure.measure(DETECTOR, 256, [n for n in NAMES if n not in SLOW], repeats=3)


def test_each_technique_that_runs_here_stays_within_its_tolerance(detector_measurement):
    rows = {r.technique: r for r in detector_measurement.rows}
    assert list(rows)[0] == "fp32 eager" and set(rows) == set(NAMES) - SLOW
    measured = [r for r in rows.values() if r.status == "measured"]
    assert {"fp32 eager", "inference_mode", "channels-last", "int8 static (x86)",
            "pruning + weight sharing"} <= {r.technique for r in measured}
    for r in measured:
        assert r.faithful and r.max_rel <= r.tolerance, (r.technique, r.max_rel, r.tolerance)
        assert r.median_ms > 0 and r.p95_ms >= r.median_ms and r.speedup > 0 and r.file_mb > 0
        assert r.metric == "AP" and r.change_ci is not None and r.change_ci[0] <= r.change <= r.change_ci[1]
    # fp32 paths change nothing that AP can see; the compressed file is several times smaller.
    assert rows["inference_mode"].change == 0 and rows["channels-last"].change == 0
    assert rows["pruning + weight sharing"].file_mb < rows["fp32 eager"].file_mb / 4
    assert rows["int8 static (x86)"].file_mb < rows["fp32 eager"].file_mb
    # Where a technique cannot run, the row says why in words, and the others are still measured.
    cuda_only = ("fp16 autocast + channels-last (CUDA)", "CUDA graphs")
    for name in cuda_only if not torch.cuda.is_available() else ():
        assert rows[name].status == "skipped" and "CUDA GPU" in rows[name].reason
    assert rows["int8 dynamic"].status == "skipped" and "no Linear layers" in rows["int8 dynamic"].reason
    bf16 = rows["bf16 autocast + channels-last"]
    assert bf16.status == ("measured" if serving.cpu_has_bf16() else "skipped")


def test_a_pretrained_detector_with_random_weights_is_faithful_under_bf16():
    name = "fasterrcnn_mobilenet_v3_large_320_fpn"  # the smallest two-stage detector: fixed proposals too
    assert subjects.weights_kind(name) == "random"  # nothing is downloaded here
    if not serving.cpu_has_bf16():
        pytest.skip("this CPU has no bf16 units")
    verdict = serving.choose(subjects.fp32_model(name), serving.PATHS[:1], min_speedup=0.0)
    assert verdict.path == serving.PATHS[0].name, verdict.tried
    assert 0 < verdict.tried[0]["max_rel"] <= serving.SERVE_TOLERANCE


def _contiguous(model: torch.nn.Module) -> bool:
    return all(p.is_contiguous() for p in model.parameters())


class ThreeD(serving.ServingPath):
    """A conversion that fails: the 5-D channels-last format asked of 4-D convolution weights."""

    def apply(self, model: torch.nn.Module) -> None:
        model.to(memory_format=torch.channels_last_3d)


def test_an_unfaithful_path_is_refused_and_serving_falls_back_to_eager():
    model = subjects.fp32_model(DETECTOR)
    x = serving.check_image((256, 256))
    with torch.inference_mode():
        expected = model([x])[0]
    # A real path held to a tolerance no reduced precision can meet, and one whose conversion fails.
    broken = ThreeD("channels-last 3-D", "cpu", True, None)
    paths = [broken, serving.PATHS[0] if serving.cpu_has_bf16() else serving.PATHS[1]]
    served = serving.serve(DETECTOR, model, "bundled", paths=paths, tiers=("bundled",), tolerance=1e-9)
    outcomes = [t["outcome"] for t in served.verdict.tried]
    assert served.path == serving.EAGER, outcomes
    assert outcomes[0].startswith("failed") and outcomes[1].startswith("not faithful"), outcomes
    assert _contiguous(model)  # both paths were undone
    with torch.inference_mode(), served.context():
        again = model([x])[0]
    assert all(torch.equal(expected[k], again[k]) for k in expected)  # fp32 eager, bit for bit
    assert "fp32 eager (" in served.describe() and "not faithful" in served.describe()
    # The verdict is kept: a reloaded model is served the same way without a second check.
    fresh = subjects.fp32_model(DETECTOR)
    kept = serving.serve(DETECTOR, fresh, "bundled", paths=paths, tiers=("bundled",), tolerance=1e-9)
    assert kept.path == serving.EAGER and kept.verdict.tried == served.verdict.tried


def test_a_faithful_path_is_kept_and_applied_to_a_reloaded_model():
    if not serving.cpu_has_bf16():
        pytest.skip("this CPU has no bf16 units")
    model = subjects.fp32_model(DETECTOR)
    verdict = serving.choose(model, serving.PATHS[:1], image=serving.check_image((256, 256)), min_speedup=0.0)
    assert verdict.path == serving.PATHS[0].name and not _contiguous(model)  # channels-last, in place
    copy = serving.fp32_copy(model)
    assert _contiguous(copy)  # a copy for measuring is plain fp32 again


def test_bundled_models_are_served_as_trained():
    served = serving.serve(DETECTOR, subjects.fp32_model(DETECTOR), "bundled")
    assert served.path == serving.EAGER and served.verdict is None
    assert "served as trained" in serving.describe(DETECTOR, "bundled")
    assert serving.describe("retinanet_resnet50_fpn", "pretrained") == "checked at first use on this machine"


def test_kept_measurements_round_trip_and_a_damaged_file_is_ignored(detector_measurement, tmp_path):
    path = tmp_path / "kept.json"
    cache.save(detector_measurement, path)
    kept, message = cache.load(path)
    assert message == "" and kept[cache.key(detector_measurement)] == detector_measurement
    latest, _ = cache.latest(DETECTOR, path)
    assert latest.machine == serving.machine_label() and latest.date == detector_measurement.date
    for damage in ('{"format": "vision-lab-acceleration-1", "results": {"x": {"rows": 3}}}', "{not json",
                   '{"format": "something else", "results": {}}'):
        path.write_text(damage)
        kept, message = cache.load(path)
        assert kept == {} and "could not be read" in message and "ignored" in message
    cache.save(detector_measurement, path)  # the next measurement replaces the damaged file
    assert cache.load(path)[1] == ""


def test_a_second_measurement_is_told_one_is_running():
    started, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_progress(fraction: float, message: str) -> None:
        started.set()
        release.wait(timeout=60)  # hold the measurement open while the second request arrives

    def first() -> None:
        try:
            measure.measure(DETECTOR, 128, ["inference_mode"], repeats=3, progress=slow_progress,
                            accuracy=False)
        except BaseException as exc:  # reported below
            errors.append(exc)

    worker = threading.Thread(target=first)
    worker.start()
    try:
        assert started.wait(timeout=60)
        with pytest.raises(measure.Busy, match="already running"):
            measure.measure(DETECTOR, 128, ["inference_mode"], repeats=3, accuracy=False)
    finally:
        release.set()
        worker.join(timeout=120)
    assert not errors
    # Once it has finished, the next one runs.
    assert measure.measure(DETECTOR, 128, ["inference_mode"], repeats=3, accuracy=False).rows[1].status == \
        "measured"


@pytest.mark.parametrize("request_, message", [
    (dict(model="resnet-9000"), "Unknown model"), (dict(model=""), "Choose a model"),
    (dict(techniques=["overclocking"]), "Unknown technique"), (dict(techniques=[]), "at least one technique"),
    (dict(size=float("nan")), "input size"), (dict(size=1e300), "input size"), (dict(size=8), "input size"),
    (dict(repeats=-1), "repeats"), (dict(repeats=3.5), "whole numbers"),
])
def test_bad_requests_are_refused_in_plain_words(request_, message):
    settings = dict(model=DETECTOR, size=256, techniques=["channels-last"], repeats=3) | request_
    with pytest.raises(measure.BadInput, match=message):
        measure.check_request(*(settings[k] for k in ("model", "size", "techniques", "repeats")))


def test_the_benchmark_rows_cover_every_pretrained_detector_and_keypoint_rcnn():
    from benchmarks import acceleration as bench
    from shared.registry import specs

    wanted = {s.name for s in specs("detection", "pretrained")} | {"keypointrcnn_resnet50_fpn"}
    assert set(bench.PRETRAINED) == wanted
    rows = [bench._pretrained_row("fasterrcnn_mobilenet_v3_large_320_fpn", 3)]
    for r in rows:
        assert r["unit"] == "×" and r["met"] in (True, False) and "bf16 autocast + channels-last" in r["what"]
        if "no bf16" in r["what"]:  # a CPU without bf16 units: the row says so, with no number and no pass
            assert math.isnan(r["median_ms"]) and r["met"] is False
        else:
            assert r["median_ms"] > 0


def test_a_pretrained_model_whose_weights_are_cached_is_measured_with_them(tmp_path):
    """SSDlite's file in torch hub's cache (written here: nothing is downloaded) makes it a model with
    real weights: measured from the cached model, and served through a checked path."""
    from shared import loading
    from shared.registry import get_spec

    name = "ssdlite320_mobilenet_v3_large"
    hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        torch.manual_seed(1)
        source = get_spec(name).build().eval()
        path = loading.url_cache_path(get_spec(name).weights)
        path.parent.mkdir(parents=True)
        torch.save(source.state_dict(), path)
        assert subjects.weights_kind(name) == "pretrained"
        m = measure.measure(name, 320, ["channels-last"], repeats=3)
        assert m.weights == "pretrained" and m.rows[1].faithful and m.rows[1].status == "measured"
        assert not m.quality_subset  # no labelled photos here: output differences only
        model = loading.get_model(name)
        served = serving.serve(name, model, "pretrained")
        assert served.verdict is not None and served.path in (serving.EAGER, *serving.PATH_NAMES)
        assert serving.describe(name, "pretrained") == served.describe()
        assert _contiguous(subjects.fp32_model(name))  # the tab's copy is plain fp32 whatever is served
    finally:
        loading.CACHE.clear()
        torch.hub.set_dir(hub)


def test_a_conversion_that_fails_is_a_row_that_says_so():
    from demos.acceleration.techniques import Prepared, Technique

    def three_d(subject) -> Prepared:  # the 5-D channels-last format asked of 4-D weights: it raises
        return Prepared(subject.model.to(memory_format=torch.channels_last_3d), torch.inference_mode)

    broken = Technique("channels-last 3-D", "system", 1e-4, "a conversion this model cannot take",
                       lambda s: None, three_d)
    subject, x = subjects.subject(DETECTOR, 128, torch.device("cpu"))
    row, prepared = measure._prepare(broken, subject, x)
    assert prepared is None and row.status == "failed" and row.reason.startswith("the conversion failed")
    assert _contiguous(subject.model)  # the technique worked on a copy: the subject is untouched
