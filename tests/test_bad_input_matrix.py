"""Every endpoint against every kind of bad input in docs/ARCHITECTURE.md ("Bad input"), as one table.

Rows are inputs, columns are endpoints: every public endpoint of the running app, read from
its API schema, so a new tab's endpoints join the table by themselves, and an endpoint that
has no good parameters in PARAMS below fails every row instead of being left out. Each
cell is either a clear message in plain words (no traceback, no exception class, says
what is wrong) or a correct result, and after every row the server must still answer
`/models`. The outcomes are collected into a matrix, printed at the end (`pytest -s`) and
written to artifacts/bad_input_matrix.md; README.md's "Bad input, endpoint by endpoint"
is a copy of it.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from conftest import MESSAGE_WORDS, QUOTED, english_words, raw_call
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from shared.i18n import CHINESE, error_in

ROOT = Path(__file__).resolve().parent.parent
SCENE = ROOT / "examples" / "detection" / "scene_1000011.png"
ARTIFACT = ROOT / "artifacts" / "bad_input_matrix.md"
TIMEOUT = 60.0  # seconds; a call that takes longer counts as a hung worker

_HYPER = [("lr", 0.001), ("steps", 50), ("x0", -1.5), ("y0", 2.0), ("momentum", 0.9), ("beta1", 0.9),
          ("beta2", 0.999), ("rho", 0.9), ("alpha", 0.99), ("eps", None), ("weight_decay", 0.0),
          ("noise", 0.0), ("seed", 0), ("condition", 10.0), ("adadelta_lr", 1.0)]
IMAGE = object()  # stands for the image argument in the tables below

# Every endpoint's parameters in API order, with good values; the rows spoil one at a time.
PARAMS: dict[str, list[tuple[str, Any]]] = {
    "/optimize": [("surface", "Rosenbrock"), ("optimizers", ["SGD", "Adam"]), *_HYPER],
    "/best_learning_rates": [("surface", "Rosenbrock"), ("optimizers", ["SGD", "Adam"]), *_HYPER],
    "/step_view": [("surface", "Rosenbrock"), ("optimizer", "Adam"), ("step", 5), *_HYPER],
    "/batch_modes": [("model", "linear"), ("n_samples", 64), ("batch_size", 8), ("epochs", 3), ("lr", 0.05),
                     ("seed", 0)],
    "/detect": [("image", IMAGE), ("models", ["tiny-retinanet-focal"]), ("score_threshold", 0.3),
                ("show_truth", False)],
    "/loss_anatomy": [("image", IMAGE), ("model", "tiny-retinanet-focal"), ("gamma", 2.0),
                      ("scope", "image")],
    "/translate": [("image", IMAGE), ("model", "cyclegan-plain2striped"), ("direction", "A→B")],
    "/pose": [("image", IMAGE), ("methods", ["tiny-topdown-pose", "tiny-bottomup-pose"]),
              ("keypoint_threshold", 0.2), ("person_threshold", 0.2)],
    # The region fits the smallest test image (128 x 128) with sub-pixel edges.
    "/roi_pool_vs_align": [("image", IMAGE), ("x1", 40.3), ("y1", 36.7), ("x2", 97.9), ("y2", 95.2),
                           ("features", "detector"), ("stride", 16), ("output_size", 7),
                           ("sampling_ratio", 2), ("aligned", True)],
    # Typed boxes on the uploaded picture; they fit the smallest test image (128 x 128).
    "/detector_limits": [("source", "typed boxes (JSON)"), ("crowding", 0.6), ("size", 56), ("aspect", 2.5),
                         ("rotation", 0), ("groups", 8), ("group_size", 3), ("mixed_classes", False),
                         ("seed", 0), ("nms_threshold", 0.5), ("soft_nms_sigma", 0.5), ("image", IMAGE),
                         ("boxes_json", "[[4, 4, 40, 64], [20, 8, 60, 70]]")],
    "/convolution": [("image", IMAGE), ("source", "image (RGB)"), ("input_size", 32), ("kernel_size", 3),
                     ("stride", 1), ("padding", 1), ("dilation", 1), ("groups", 1), ("out_channels", 8)],
    "/compress": [("model", "tiny-retinanet-focal"), ("k", 32), ("sparsity", 0.2), ("init", "linear"),
                  ("fine_tune_steps", 0), ("huffman", True)],
    # One quick technique on the smallest input: every row below is refused before measuring.
    "/accelerate": [("model", "tiny-retinanet-focal"), ("input_size", 64), ("techniques", ["inference_mode"]),
                    ("repeats", 3)],
    "/models": [],
}
IMAGE_ENDPOINTS = [endpoint for endpoint, params in PARAMS.items() if "image" in dict(params)]
NUMBERS = {ep: [name for name, value in params if name not in ("surface", "optimizers", "optimizer", "model",
                                                                 "models", "methods", "direction", "image",
                                                                 "features", "aligned", "source",
                                                                 "boxes_json", "mixed_classes", "init",
                                                                 "huffman", "show_truth", "scope",
                                                                 "techniques")]
           for ep, params in PARAMS.items()}
# What a message about each number must mention (case-insensitive).
LABELS = {"lr": "learning rate", "steps": "steps", "x0": "start x", "y0": "start y", "momentum": "momentum",
          "beta1": "beta1", "beta2": "beta2", "rho": "rho", "alpha": "alpha", "eps": "epsilon",
          "weight_decay": "weight decay", "noise": "noise", "seed": "seed", "condition": "condition",
          "adadelta_lr": "adadelta's learning rate", "step": "step", "n_samples": "samples",
          "batch_size": "mini-batch", "epochs": "epochs", "score_threshold": "score threshold", "gamma": "γ",
          "keypoint_threshold": "keypoint threshold", "person_threshold": "person threshold",
          "x1": "x1", "y1": "y1", "x2": "x2", "y2": "y2", "stride": "stride", "output_size": "output size",
          "sampling_ratio": "sampling ratio", "crowding": "crowding", "size": "object size",
          "aspect": "aspect ratio", "rotation": "rotation", "groups": "groups",
          "group_size": "objects per group", "nms_threshold": "nms threshold", "soft_nms_sigma": "soft-nms σ",
          "input_size": "input size", "kernel_size": "kernel size", "padding": "padding",
          "dilation": "dilation", "out_channels": "output channels", "k": "clusters", "sparsity": "sparsity",
          "fine_tune_steps": "fine-tuning steps", "repeats": "timed repeats"}
# Numbers for which a negative or a huge value is legitimate and must give a result.
NEGATIVE_OK = {"x0", "y0", "rotation"}  # start coordinates; a turn either way
HUGE_OK = {("/optimize", "lr"), ("/optimize", "eps"), ("/optimize", "weight_decay"), ("/optimize", "noise"),
           ("/optimize", "adadelta_lr"), ("/step_view", "step"),  # a later step than the run has: its last
           ("/step_view", "eps"), ("/step_view", "noise"), ("/step_view", "weight_decay"),
           ("/step_view", "adadelta_lr"), ("/best_learning_rates", "lr"), ("/best_learning_rates", "eps"),
           ("/best_learning_rates", "weight_decay"), ("/best_learning_rates", "noise"),
           ("/best_learning_rates", "adadelta_lr")}

# A message is plain when it carries none of these.
NOT_PLAIN = re.compile(r"Traceback|File \"|\b[A-Z]\w*(Error|Exception|Warning)\b|Something went wrong|"
                       r"upstream Gradio app|show_error|<class |object at 0x", re.S)
# Messages that show the server opened the file it was given.
FILE_WAS_READ = re.compile(r"not an image|could not be found|empty|truncated|too large|pixels|root:", re.I)

MATRIX: dict[str, dict[str, str]] = {}
API_VALUES: set[str] = set()  # every choice the API lists for a parameter (names, kept in Chinese)
CJK = re.compile(r"[\u4e00-\u9fff]")
DETAILS: list[str] = []  # every message in full, for artifacts/bad_input_matrix.md


# ---------------------------------------------------------------- input files, built with PIL


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def flat_png(path: Path, width: int, height: int, *, bit_depth: int = 8, colour_type: int = 2,
             channels: int = 3, value: int = 0, rows: int | None = None) -> Path:
    """A PNG of one flat colour: huge in pixels, small on disk, and quick to write.

    One row is compressed once, closed with a full flush so it stands alone, and repeated.
    `rows` < height writes only that many rows: the header declares more than the file holds.
    """
    row = b"\x00" + bytes([value]) * math.ceil(width * channels * bit_depth / 8)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: no header, no checksum
    piece = packer.compress(row) + packer.flush(zlib.Z_FULL_FLUSH)
    count = height if rows is None else rows
    checksum = 1
    for _ in range(count):
        checksum = zlib.adler32(row, checksum)
    body = b"\x78\xda" + piece * count + packer.flush() + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body)
                     + _chunk(b"IEND", b""))
    return path


def _save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def _jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# The EXIF case: stored 128 wide and 192 high, orientation 6 ("rotate 90° clockwise to view").
UPRIGHT = (192, 128)
SMALL = (128, 128)  # the colour-mode cases: small, so the slower endpoints stay quick


def build_files(d: Path) -> dict[str, Path]:
    scene = Image.open(SCENE).convert("RGB")
    small, upright = scene.resize(SMALL), scene.resize(UPRIGHT)
    exif = Image.Exif()
    exif[0x0112] = 6
    sixteen = Image.fromarray(np.asarray(small.convert("L"), dtype=np.uint16) * 250)
    assert sixteen.mode == "I;16"
    return {
        "empty": _write(d / "empty.png", b""),
        "cut_png": _write(d / "cut.png", SCENE.read_bytes()[: SCENE.stat().st_size // 2]),
        "cut_jpeg": _write(d / "cut.jpg", _jpeg_bytes(scene)[:6000]),
        "text": _write(d / "notes.png", b"These are meeting notes, not pixels.\n" * 20),
        "header_bomb": flat_png(d / "header_bomb.png", 100_000, 100_000, rows=4),
        "bit_bomb": flat_png(d / "bit_bomb.png", 20_000, 20_000, bit_depth=1, colour_type=0, channels=1),
        "10k": flat_png(d / "10k.png", 10_000, 10_000, value=180),
        "10k_jpeg": _save(Image.new("L", (10_000, 10_000), 180), d / "10k.jpg", quality=50),
        "6k": flat_png(d / "6k.png", 6000, 4000, value=120),
        "dot": _save(Image.new("RGB", (1, 1), (200, 30, 30)), d / "dot.png"),
        "L": _save(scene.convert("L"), d / "gray.png"),
        "RGBA": _save(small.convert("RGBA"), d / "rgba.png"),
        "P": _save(small.convert("P"), d / "palette.png"),
        "CMYK": _save(small.convert("CMYK"), d / "cmyk.jpg", quality=90),
        "I;16": _save(sixteen, d / "sixteen.png"),
        "exif": _save(upright.transpose(Image.Transpose.ROTATE_90), d / "exif6.jpg", exif=exif, quality=90),
        "outside": _save(scene, d / "outside_upload_folder.png"),
    }


# ---------------------------------------------------------------- calling the app


@dataclass
class Outcome:
    ok: bool
    value: Any  # the result on success, the message on failure

    @property
    def message(self) -> str:
        return "" if self.ok else str(self.value or "")


class Lab:
    """The launched app, the input files, and ways to call an endpoint with one thing spoiled."""

    def __init__(self, client, app_url: str, files: dict[str, Path]):
        self.client, self.url, self.files = client, app_url, files
        # The same app; output files are not downloaded, only the answers are checked.
        self.quick = Client(app_url, verbose=False, download_files=False)
        # The columns: every public endpoint, in the app's order, with its parameters' names.
        api = self.quick.view_api(print_info=False, return_format="dict")["named_endpoints"]
        self.api = {name: [p["parameter_name"] for p in info["parameters"]] for name, info in api.items()}
        API_VALUES.update(_choices(api))
        self.endpoints = list(self.api)
        self.scene = self.upload(SCENE)

    def upload(self, path: Path) -> dict:
        """Upload one file as a browser would; returns the FileData the API expects."""
        with path.open("rb") as fh:
            response = httpx.post(f"{self.url.rstrip('/')}/gradio_api/upload",
                                  files=[("files", (path.name, fh))], timeout=TIMEOUT)
        return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}

    def predict(self, endpoint: str, **changes: Any) -> Outcome:
        """gradio_client with good defaults and `changes`; `image=` takes a path or None."""
        kwargs = {name: value for name, value in PARAMS[endpoint]}
        kwargs.update(changes)
        if kwargs.get("image") is IMAGE:
            kwargs["image"] = str(SCENE)
        if isinstance(kwargs.get("image"), (str, Path)):
            kwargs["image"] = handle_file(str(kwargs["image"]))
        job = self.quick.submit(**kwargs, api_name=endpoint)
        try:
            return Outcome(True, job.result(timeout=TIMEOUT))
        except AppError as exc:
            return Outcome(False, str(exc))

    def raw(self, endpoint: str, **changes: str) -> Outcome:
        """A hand-written JSON body: `changes` are JSON text (NaN, Infinity, any path)."""
        args = [changes.get(name, json.dumps(self.scene if value is IMAGE else value))
                for name, value in PARAMS[endpoint]]
        event, data = raw_call(self.url, endpoint.lstrip("/"), '{"data": [' + ", ".join(args) + "]}",
                               timeout=TIMEOUT)
        payload = json.loads(data) if data else None
        if event == "complete":
            return Outcome(True, payload)
        assert event == "error", f"{endpoint}: no answer ({event!r})"
        return Outcome(False, (payload or {}).get("error") if isinstance(payload, dict) else payload)

    def alive(self) -> None:
        rows = self.client.submit(api_name="/models").result(timeout=TIMEOUT)
        assert isinstance(rows, list) and rows, "the server stopped answering /models"


def _choices(schema: Any) -> set[str]:
    """The strings of every `enum` in the API's description (the choices of pickers)."""
    if isinstance(schema, dict):
        found = {v for v in schema.get("enum", []) if isinstance(v, str)}
        return found.union(*(_choices(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_choices(v) for v in schema))
    return set()


def short(message: str, limit: int = 44) -> str:
    """The first clause of a message, for a table cell."""
    text = re.split(r"[.:;] |\s\(|, (?:got|not) ", message.strip(), maxsplit=1)[0].rstrip(".")
    text = re.sub(r"^(The|This) ", "", text)
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def plain_error(outcome: Outcome, expect: str, what: str) -> str:
    """Assert a clear message that matches `expect`; return its cell text."""
    assert not outcome.ok, f"{what}: expected a message matching {expect!r}, got a result"
    message = outcome.message
    assert message, f"{what}: refused without any message"
    assert not NOT_PLAIN.search(message), f"{what}: message is not plain: {message!r}"
    assert re.search(expect, message, re.I), f"{what}: message {message!r} does not match {expect!r}"
    # The same message on a page in Chinese (what handle_errors shows there): Chinese but for
    # numbers, names and the values the API takes.
    chinese = error_in(message, CHINESE)
    english = english_words([QUOTED.sub("", chinese)], MESSAGE_WORDS, API_VALUES)
    assert CJK.search(chinese) and not english, f"{what}: in Chinese {chinese!r} keeps {english}"
    DETAILS.append(f"{what}: {message}")
    return f"error: {short(message)}"


# ---------------------------------------------------------------- what a good result looks like


def image_size(endpoint: str, result: Any) -> tuple[list[int] | None, list[str]]:
    """(the size the endpoint reports for its input, its notes) from a successful call."""
    if endpoint == "/detect":
        gallery, data = result
        assert len(gallery) == 1 and "detections" in data["results"][0]
        return data["image_size"], data["notes"]
    if endpoint == "/loss_anatomy":
        curve, mass, text, stats = result
        assert stats["binary_terms"] == 5 * (stats["positive_anchors"] + stats["background_anchors"]) > 0
        assert curve.get("plot") and mass.get("plot") and "binary terms" in text
        return None, []
    if endpoint == "/translate":
        *images, summary, data = result
        assert "edge F-score" in summary and 0 <= data["metrics"]["structure_edge_f"] <= 1
        assert len(images) == 4 and all(images)
        return data["size"], data["notes"]
    if endpoint == "/pose":
        overlays, evidence, data = result
        assert len(overlays) == 2 and all(isinstance(r["people"], list) for r in data["results"])
        return data["image_size"], data["notes"]
    if endpoint == "/roi_pool_vs_align":
        drawn, grids, shift, located, summary, data = result
        assert drawn and grids and shift.get("plot") and located.get("plot") and "ROIPool" in summary
        assert len(data["roi_pool"]["pooled"]) == len(data["roi_align"]["pooled"]) == 7
        return data["image_size"], data["notes"]
    if endpoint == "/detector_limits":
        gallery, table, *figures, summary, data = result
        assert len(gallery) == 6 and len(figures) == 5 and all(f.get("plot") for f in figures)
        assert "2 objects" in summary and len(data["rules"]) == 10
        return data["scene"]["image_size"], data["scene"]["notes"]
    if endpoint == "/convolution":
        figure, table, sweep, summary, data = result
        assert figure.get("plot") and sweep.get("plot") and len(table["data"]) == 5 and "MFLOP" in summary
        assert all(m["max_error"] < 1e-4 for m in data["methods"] if m["seconds"] is not None)
        return data["image_size"], data["notes"]
    raise AssertionError(endpoint)


def good_image(endpoint: str, outcome: Outcome, size: tuple[int, int], note: str = "",
               what: str = "") -> str:
    """Assert a normal result for an image of `size` (width, height) after EXIF rotation."""
    assert outcome.ok, f"{what}: expected a result, got {outcome.message!r}"
    reported, notes = image_size(endpoint, outcome.value)
    if reported is not None:
        expected = list(size)
        if endpoint == "/translate":  # translated at up to 512 px, sides cropped to multiples of 4
            scale = min(1.0, 512 / max(size))
            expected = [round(s * scale) // 4 * 4 for s in size]
            assert abs(reported[0] - expected[0]) <= 4 and abs(reported[1] - expected[1]) <= 4, \
                f"{what}: size {reported}, expected about {expected}"
        else:
            assert reported == expected, f"{what}: size {reported}, expected {expected}"
    if note:
        assert any(note in n for n in notes) or reported is None, f"{what}: notes {notes} lack {note!r}"
    return "ok"


# ---------------------------------------------------------------- the rows

Cell = Callable[["Lab", str], str | None]  # None: the endpoint has no such parameter (n/a)


def image_error(key: str | None, expect: str) -> Cell:
    def cell(lab: Lab, endpoint: str) -> str | None:
        if endpoint not in IMAGE_ENDPOINTS:
            return None
        image = None if key is None else lab.files[key]
        return plain_error(lab.predict(endpoint, image=image), expect, f"{endpoint} {key}")
    return cell


def image_ok(key: str, size: tuple[int, int], note: str = "", text: str = "ok") -> Cell:
    def cell(lab: Lab, endpoint: str) -> str | None:
        if endpoint not in IMAGE_ENDPOINTS:
            return None
        good_image(endpoint, lab.predict(endpoint, image=lab.files[key]), size, note, f"{endpoint} {key}")
        return text
    return cell


def grayscale_detects(lab: Lab, endpoint: str) -> str | None:
    """A grayscale scene is served like any other; the detector still finds the objects."""
    if endpoint not in IMAGE_ENDPOINTS:
        return None
    outcome = lab.predict(endpoint, image=lab.files["L"])
    good_image(endpoint, outcome, (256, 256), "converted from L", f"{endpoint} L")
    if endpoint == "/detect":
        assert outcome.value[1]["results"][0]["detections"], "no detections on the grayscale scene"
    return "ok"


def server_paths(lab: Lab, endpoint: str) -> str | None:
    """A path on the server sent where an uploaded file belongs is refused, and never opened."""
    if endpoint not in IMAGE_ENDPOINTS:
        return None
    outside = str(lab.files["outside"])  # a good image: a result here would mean it was read
    meta = {"_type": "gradio.FileData"}
    bodies = [json.dumps("/etc/passwd"), json.dumps({"path": "/etc/passwd", "meta": meta}),
              json.dumps({"path": "/etc/passwd"}), json.dumps({"path": str(ROOT / "app.py")}),
              json.dumps({"path": outside}), json.dumps({"path": outside, "meta": meta}),
              json.dumps({"path": lab.scene["path"] + "/../../../../etc/passwd"})]
    for body in bodies:
        outcome = lab.raw(endpoint, image=body)
        assert not outcome.ok, f"{endpoint}: a server path was served: {body}"
        assert not FILE_WAS_READ.search(outcome.message), f"{endpoint}: {body} was opened: {outcome.message}"
        # Paths without Gradio's file marker reach the handler, which names the problem.
        if "meta" not in body and body.startswith("{"):
            plain_error(outcome, "upload", f"{endpoint} {body}")
    return "refused"


def numbers(kind: str) -> Cell:
    """Spoil each number of the endpoint in turn: NaN and inf raw, negative and huge by the client."""

    def cell(lab: Lab, endpoint: str) -> str | None:
        if not NUMBERS[endpoint]:
            return None
        errors, ok = [], []
        for name in NUMBERS[endpoint]:
            what = f"{endpoint} {name}={kind}"
            if kind in ("NaN", "Infinity"):  # not JSON, so gradio_client cannot send them
                outcomes = [lab.raw(endpoint, **{name: kind})]
            else:
                outcomes = [lab.predict(endpoint, **{name: -1.0 if kind == "negative" else 1e300})]
            expected_ok = (kind == "negative" and name in NEGATIVE_OK) or (kind == "huge"
                                                                           and (endpoint, name) in HUGE_OK)
            for outcome in outcomes:
                if expected_ok:
                    assert outcome.ok, f"{what}: expected a result, got {outcome.message!r}"
                    assert_finite_json(outcome.value, what)
                    ok.append(name)
                else:
                    errors.append(plain_error(outcome, re.escape(LABELS[name]), what))
        # The first number's message, and how many of the endpoint's numbers were refused.
        total = len(NUMBERS[endpoint])
        parts = [errors[0].replace("error:", f"error ({len(errors)}/{total}):", 1)] if errors else []
        if ok:
            parts.append("ok: " + ", ".join(ok))
        return "; ".join(parts)

    return cell


def assert_finite_json(value: Any, what: str) -> None:
    """No NaN or infinity anywhere in the JSON outputs of a successful call."""
    text = json.dumps([v for v in (value if isinstance(value, (list, tuple)) else [value])
                       if isinstance(v, (dict, list))])
    assert not re.search(r"\bNaN\b|Infinity", text), f"{what}: non-finite numbers in the result"


UNKNOWN = {"/optimize": dict(optimizers=["SGD", "Lion"]), "/step_view": dict(optimizer="Lion"),
           "/best_learning_rates": dict(optimizers=["SGD", "Lion"]),
           "/batch_modes": dict(model="quadratic"), "/detect": dict(models=["yolo-v99"]),
           "/loss_anatomy": dict(model="yolo-v99"), "/translate": dict(model="cyclegan-dog2cat"),
           "/pose": dict(methods=["alphapose"]), "/roi_pool_vs_align": dict(features="resnet"),
           "/compress": dict(model="resnet-9000"), "/accelerate": dict(model="resnet-9000")}
UNKNOWN_OPTION = {"/optimize": dict(surface="Everest"), "/step_view": dict(surface="Everest"),
                  "/best_learning_rates": dict(surface="Everest"),
                  "/translate": dict(direction="sideways"), "/detector_limits": dict(source="photo"),
                  "/convolution": dict(source="thermal camera"), "/compress": dict(init="kmeans++")}
EMPTY = {"/optimize": dict(optimizers=[]), "/step_view": dict(optimizer=None),
         "/best_learning_rates": dict(optimizers=[]),
         "/batch_modes": dict(model=None), "/detect": dict(models=[]), "/loss_anatomy": dict(model=None),
         "/translate": dict(model=None), "/pose": dict(methods=[]), "/roi_pool_vs_align": dict(features=None),
         "/compress": dict(model=None), "/accelerate": dict(techniques=[])}
# Endpoints that take a box: corners swapped, and a corner beyond the image (the scene is 256 px wide).
SWAPPED_BOX = {"/roi_pool_vs_align": dict(x1=97.9, x2=40.3),
               "/detector_limits": dict(boxes_json="[[60, 4, 20, 64]]")}
BOX_OUTSIDE = {"/roi_pool_vs_align": dict(x2=500.0), "/detector_limits": dict(boxes_json="[[4, 4, 500, 64]]")}
# Endpoints that take boxes as JSON text.
JSON_EMPTY = {"/detector_limits": dict(boxes_json="")}
JSON_MALFORMED = {"/detector_limits": dict(boxes_json="[[4, 4, 40,")}
JSON_NOT_FINITE = {"/detector_limits": dict(boxes_json="[[4, 4, NaN, 64], [4, 4, Infinity, 64]]")}


def choice(table: dict[str, dict], expect: str) -> Cell:
    def cell(lab: Lab, endpoint: str) -> str | None:
        if endpoint not in table:
            return None
        return plain_error(lab.predict(endpoint, **table[endpoint]), expect, f"{endpoint} {table[endpoint]}")
    return cell


ROWS: dict[str, Cell] = {
    "no image (None)": image_error(None, "no image"),
    "0-byte file": image_error("empty", "empty"),
    "truncated PNG": image_error("cut_png", "truncated"),
    "truncated JPEG": image_error("cut_jpeg", "truncated"),
    "text file named .png": image_error("text", "not an image"),
    "PNG header claiming 100000×100000": image_error("header_bomb", "too large"),
    "20000×20000 1-bit PNG (bomb)": image_error("bit_bomb", "too large"),
    "10000×10000 flat PNG": image_error("10k", "too large"),
    "10000×10000 JPEG": image_ok("10k_jpeg", (10_000, 10_000), "reduced scale",
                                 "ok, decoded at reduced scale"),
    "6000×4000 flat PNG": image_ok("6k", (6000, 4000), "downscaled", "ok, downscaled"),
    "1×1 image": image_error("dot", r"at least 16x16"),
    "grayscale (L)": grayscale_detects,
    "RGBA": image_ok("RGBA", SMALL, "transparent"),
    "palette (P)": image_ok("P", SMALL, "converted from P"),
    "CMYK JPEG": image_ok("CMYK", SMALL, "converted from CMYK"),
    "16-bit (I;16 PNG)": image_ok("I;16", SMALL, "high bit depth"),
    "EXIF orientation 6 JPEG": image_ok("exif", UPRIGHT, "rotated upright", "ok, upright 192×128"),
    "server path as image (raw JSON)": server_paths,
    "NaN (each number)": numbers("NaN"),
    "inf (each number)": numbers("Infinity"),
    "negative, -1 (each number)": numbers("negative"),
    "huge, 1e300 (each number)": numbers("huge"),
    "unknown model name": choice(UNKNOWN, "unknown|needs one of"),
    "unknown option (surface, direction, scene, source, init)": choice(
        UNKNOWN_OPTION, "unknown surface|direction|unknown scene|unknown input source|unknown initiali"),
    "empty selection": choice(EMPTY, "at least one|choose a model|needs one of"),
    "box with x2 < x1": choice(SWAPPED_BOX, "must be greater than"),
    "box outside the image": choice(BOX_OUTSIDE, "outside the image"),
    "empty JSON": choice(JSON_EMPTY, "type the boxes as json"),
    "malformed JSON": choice(JSON_MALFORMED, "not valid json"),
    "NaN / Infinity inside JSON": choice(JSON_NOT_FINITE, "finite number"),
}


# ---------------------------------------------------------------- the test


@pytest.fixture(scope="module")
def lab(client, app_url, tmp_path_factory):
    files = build_files(tmp_path_factory.mktemp("bad_inputs"))
    lab = Lab(client, app_url, files)
    yield lab
    matrix = format_matrix(lab.endpoints)
    print("\n\nBad input, endpoint by endpoint\n\n" + matrix)
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("# Bad input, endpoint by endpoint\n\n" + matrix + "\n## Every message in full\n\n"
                        + "".join(f"- {line}\n" for line in DETAILS), encoding="utf-8")


def test_every_endpoint_has_good_parameters_in_the_table(lab):
    """The rows spoil one parameter of PARAMS at a time, so PARAMS must name every endpoint the
    app serves, with its parameters in the API's order."""
    assert set(lab.endpoints) - set(PARAMS) == set(), "endpoints the matrix does not cover"
    assert set(PARAMS) - set(lab.endpoints) == set(), "PARAMS lists endpoints the app does not serve"
    for endpoint in lab.endpoints:
        assert [name for name, _ in PARAMS[endpoint]] == lab.api[endpoint], endpoint


@pytest.mark.parametrize("row", list(ROWS))
def test_bad_input_row(lab, row):
    cells, failures = {}, []
    for endpoint in lab.endpoints:
        try:
            text = ROWS[row](lab, endpoint)
        except (AssertionError, KeyError) as exc:  # KeyError: an endpoint PARAMS does not know
            failures.append(f"{endpoint}: {exc}".splitlines()[0])
            text = "FAIL"
        cells[endpoint] = "n/a" if text is None else text
    lab.alive()  # still serving after the whole row
    cells["/models"] = "alive"
    MATRIX[row] = cells
    assert not failures, "\n".join(failures)


def test_server_still_answers_at_the_end(lab):
    lab.alive()
    assert lab.predict("/detect").ok


def format_matrix(endpoints: list[str]) -> str:
    lines = ["| input | " + " | ".join(f"`{e}`" for e in endpoints) + " |",
             "|---|" + "---|" * len(endpoints)]
    for row in ROWS:
        cells = MATRIX.get(row)
        if cells is None:
            continue
        lines.append(f"| {row} | " + " | ".join(cells[e].replace("|", "\\|") for e in endpoints) + " |")
    return "\n".join(lines) + "\n\n" + LEGEND


LEGEND = """\
`error:` the start of the plain message shown; `ok`: a normal result (checked: sizes in
input pixels after EXIF rotation, downscaling noted); `n/a`: the endpoint has no such
parameter. Number rows spoil each number parameter in turn: `error (13/15)` means 13 of
the endpoint's 15 numbers are refused (the first one's message shown) and `ok:` lists
those for which the value is legitimate. `/models` takes no input; its column is the
check, after every row, that the server still answers.
"""
