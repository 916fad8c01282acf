"""The convolution tab end to end: /convolution and /compress through gradio_client against the real app."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from conftest import raw_call
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from demos.convolution import codec

ROOT = Path(__file__).resolve().parent.parent
SCENE = str(ROOT / "examples" / "detection" / "scene_1000011.png")


def test_convolution_five_ways_agree_and_show_their_shapes(client):
    figure, table, sweep, summary, data = client.predict(
        image=handle_file(SCENE), source="image (RGB)", input_size=24, kernel_size=3, stride=1, padding=1,
        dilation=1, groups=1, out_channels=8, api_name="/convolution")
    assert data["input"] == [1, 3, 24, 24] and data["output"] == [1, 8, 24, 24]
    assert data["columns_shape"] == [1, 27, 576] and data["column_buffer_bytes"] == 27 * 576 * 4
    assert data["image_size"] == [256, 256]
    methods = {m["method"]: m for m in data["methods"]}
    assert len(methods) == 5 and all(m["max_error"] < 1e-4 and m["seconds"] > 0 for m in methods.values())
    assert [row[0] for row in table["data"]] == list(methods)
    assert figure.get("plot") and sweep.get("plot") and "roofline" in summary


def test_convolution_on_detector_features_grouped_and_dilated(client):
    data = client.predict(image=handle_file(SCENE), source="detector features (16 channels)", input_size=16,
                          kernel_size=3, stride=2, padding=2, dilation=2, groups=4, out_channels=8,
                          api_name="/convolution")[-1]
    assert data["input"] == [1, 16, 16, 16] and data["weight"] == [8, 4, 3, 3]
    assert data["output"] == [1, 8, 8, 8]
    methods = {m["method"]: m for m in data["methods"]}
    assert "3x3 kernels, stride 1" in methods["Winograd F(2x2,3x3)"]["note"]
    assert methods["FFT"]["max_error"] < 1e-4 and methods["im2col + GEMM"]["max_error"] < 1e-4


@pytest.mark.parametrize(("changes", "message"), [
    (dict(kernel_size=31, padding=0, input_size=16), "larger than the padded input"),
    (dict(groups=2), "must divide both"),
    (dict(stride=0), "stride must be between 1"),
    (dict(dilation=-1), "dilation must be between 1"),
    (dict(kernel_size=2.5), "whole number"),
    (dict(source="thermal camera"), "Unknown input source"),
])
def test_convolution_bad_settings_get_plain_errors(client, changes, message):
    kwargs = dict(image=handle_file(SCENE), source="image (RGB)", input_size=32, kernel_size=3, stride=1,
                  padding=1, dilation=1, groups=1, out_channels=8) | changes
    with pytest.raises(AppError, match=message):
        client.predict(**kwargs, api_name="/convolution")


def test_compress_defaults_then_cached(client, tmp_path):
    summary, gallery, table, frontier, hist, file, data = client.predict(api_name="/compress")
    assert data["settings"]["model"] == "tiny-retinanet-focal" and data["identical_after_reload"]
    assert data["ratio"] > 5 and data["file_bytes"] == Path(file).stat().st_size
    ap = data["quality"]["AP"]
    assert abs(ap["change"]) < 0.03 and ap["change_ci"][0] <= ap["change"] <= ap["change_ci"][1]
    assert "class-agnostic" in summary and "smaller" in summary and len(gallery) == 2
    assert table["data"][-1][0] == "total" and frontier.get("plot") and hist.get("plot")
    # The downloaded file is a complete model: it loads here and computes like the server's.
    model = codec.load(file, torch.device("cpu"))
    assert sum(p.numel() for p in model.parameters()) == 535_969
    start = time.perf_counter()
    again = client.predict(api_name="/compress")[-1]
    assert again["cached"] and again["file_bytes"] == data["file_bytes"]
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize(("changes", "message"), [
    (dict(k=1), "clusters k must be between 2 and 256"),
    (dict(k=300), "clusters k must be between 2 and 256"),
    (dict(sparsity=0.995), "sparsity must be between 0"),
    (dict(model="resnet-9000"), "Unknown model"),
    (dict(model=None), "Choose a model"),
    (dict(init="kmeans++"), "Unknown initialisation"),
    (dict(fine_tune_steps=10_000), "fine-tuning steps must be between 0"),
])
def test_compress_bad_settings_get_plain_errors(client, changes, message):
    with pytest.raises(AppError, match=message):
        client.predict(**changes, api_name="/compress")


def test_compress_nan_is_refused(app_url):
    body = '{"data": ["tiny-retinanet-focal", NaN, 0.2, "linear", 0, true]}'
    event, data = raw_call(app_url, "compress", body)
    assert event == "error" and "finite" in data
