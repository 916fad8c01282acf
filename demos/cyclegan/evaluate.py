"""Measure what the bundled CycleGANs keep and change, on fixed held-out generated scenes.

    python -m demos.cyclegan.evaluate [--n 100] [--figure docs/cyclegan_eval.png] [--timing]

For each pair and direction it prints structure kept (edge F-score, gradient SSIM),
texture changed (Gram and histogram distances), geometry (mask IoU with the input and
with the true target, shape change, centroid shift) and the cycle error. Next to each
output metric stands the same metric for the *true* paired target, i.e. what a perfect
translation would score, so "texture changed 0.15" can be read against "0.19 needed".
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from shared.registry import CHECKPOINTS

from .data import DOMAINS, HELDOUT_N, HELDOUT_SIZE, PAIRS, Scene, heldout, to_images, to_tensor
from .metrics import (
    MOVE_CLASSES,
    background_as_rendered,
    centroid_shift,
    cycle_error,
    displacement,
    mask_iou,
    object_fill_ratios,
    object_mask,
    shape_change,
    translation_metrics,
)
from .model import (
    ResnetGenerator,
    count_parameters,
    load_pair,
    official_generator,
    save_pair,
)

# The fixed subset the tests re-measure from the shipped checkpoints.
CI_SUBSET = {"n": 8, "start": 0, "size": HELDOUT_SIZE}
IMAGE_KEYS = ("structure_edge_f", "structure_grad_ssim", "texture_gram", "texture_hist")
GEOMETRY_KEYS = ("mask_iou_input", "mask_iou_target", "shape_change", "centroid_shift_px", "fill_ratio",
                 "input_fill_ratio")


def share_key(kind: str) -> str:
    """"erase-and-paint" -> "share_erase_and_paint": the metric key of a displacement class."""
    return "share_" + kind.replace(" ", "_").replace("-", "_")


# The position pair: what the output did with objects that had to move (metrics.displacement).
POSITION_KEYS = ("displacement_px", "needed_px", "displacement_ratio", "kept", "arrived", "in_transit",
                 "painted") + tuple(share_key(kind) for kind in MOVE_CLASSES)
# What a perfect translation scores where the true target cannot be run through the metric itself.
PERFECT = {"mask_iou_target": 1.0, "shape_change": 1.0, "centroid_shift_px": 0.0, "displacement_ratio": 1.0,
           "kept": 0.0, "arrived": 1.0, "in_transit": 0.0, "share_translate": 1.0}


def table_keys(pair: str) -> tuple[str, ...]:
    """The rows of a pair's table: the position pair reads displacement, the others geometry in place."""
    moved = POSITION_KEYS if pair == "position" else GEOMETRY_KEYS
    return IMAGE_KEYS + moved + ("cycle_l1",)


@torch.inference_mode()
def translate(net: ResnetGenerator, images: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """Run a generator over (N, 3, H, W) images in [-1, 1], a few at a time."""
    return torch.cat([net(images[i : i + batch]) for i in range(0, len(images), batch)])


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(-1, 1) + 1) / 2  # the metrics work in [0, 1]


def _direction_metrics(
    scenes: list[Scene], forward: ResnetGenerator, backward: ResnetGenerator, direction: str
) -> dict[str, float]:
    """Mean metrics of `forward` over the scenes, with the true target's scores as `target_*`."""
    src_key, tgt_key = ("a", "b") if direction == "AB" else ("b", "a")
    src = to_tensor([getattr(s, src_key) for s in scenes])  # (N, 3, H, W) in [-1, 1]
    tgt = to_tensor([getattr(s, tgt_key) for s in scenes])
    out = translate(forward, src)
    rec = translate(backward, out)
    result = {k: float(v.mean()) for k, v in translation_metrics(_unit(src), _unit(out)).items()}
    result |= {f"target_{k}": float(v.mean()) for k, v in translation_metrics(_unit(src), _unit(tgt)).items()}
    result["cycle_l1"] = float(cycle_error(_unit(src), _unit(rec)).mean())

    geometry: dict[str, list[float]] = {k: [] for k in GEOMETRY_KEYS + POSITION_KEYS + ("target_fill_ratio",)}
    for scene, out_image in zip(scenes, to_images(out), strict=True):
        src_image = getattr(scene, src_key)
        # Where the objects are in the source, and the shift that would carry them to the target.
        sign = 1 if direction == "AB" else -1
        dy, dx = sign * scene.offset[0], sign * scene.offset[1]
        boxes_src = scene.boxes + (np.array(scene.offset * 2) if direction == "BA" else 0)  # B's boxes
        boxes_tgt = boxes_src + np.array([dy, dx, dy, dx])
        # Masks of input and output are segmented the same way (against the known
        # background, as the output renders it), so an unchanged image scores IoU 1.
        m_in = object_mask(src_image, scene.background)
        rendered = background_as_rendered(out_image, scene.background, m_in)
        m_out = object_mask(out_image, rendered)
        m_tgt = object_mask(getattr(scene, tgt_key), scene.background)
        gt_src, gt_tgt = (scene.mask_a, scene.mask_b) if direction == "AB" else (scene.mask_b, scene.mask_a)
        geometry["mask_iou_input"].append(mask_iou(m_out, m_in))
        geometry["mask_iou_target"].append(mask_iou(m_out, m_tgt))
        same_shapes = bool((gt_src == gt_tgt).all())  # the texture pair: nothing to move
        geometry["shape_change"].append(float("nan") if same_shapes else shape_change(m_in, m_out, m_tgt))
        geometry["centroid_shift_px"].append(centroid_shift(m_in, m_out, boxes_src))
        geometry["fill_ratio"] += object_fill_ratios(out_image, rendered, boxes_src).tolist()
        geometry["input_fill_ratio"] += object_fill_ratios(src_image, scene.background, boxes_src).tolist()
        geometry["target_fill_ratio"] += object_fill_ratios(getattr(scene, tgt_key), scene.background,
                                                            boxes_tgt).tolist()
        if (dy, dx) != (0, 0):
            moved = displacement(src_image, out_image, scene.background, (dy, dx))
            for key, value in (("displacement_px", moved.shift_px), ("needed_px", moved.needed_px),
                               ("displacement_ratio", moved.ratio), ("kept", moved.kept),
                               ("arrived", moved.arrived), ("in_transit", moved.in_transit),
                               ("painted", moved.painted)):
                geometry[key].append(value)
            for kind in MOVE_CLASSES:
                geometry[share_key(kind)].append(float(moved.kind == kind))
    for key, values in geometry.items():
        finite = [v for v in values if not math.isnan(v)]
        if values:  # the displacement keys exist only for pairs whose objects must move
            result[key] = float(np.mean(finite)) if finite else float("nan")
    return result


def evaluate_pair(
    g_ab: ResnetGenerator,
    g_ba: ResnetGenerator,
    pair: str,
    n: int = HELDOUT_N,
    start: int = 0,
    size: int = HELDOUT_SIZE,
) -> dict[str, dict[str, float]]:
    """{"AB": metrics, "BA": metrics} on held-out scenes start .. start + n - 1 of `pair`."""
    scenes = heldout(pair, n, start, size)
    g_ab, g_ba = g_ab.eval(), g_ba.eval()
    return {
        "AB": _direction_metrics(scenes, g_ab, g_ba, "AB"),
        "BA": _direction_metrics(scenes, g_ba, g_ab, "BA"),
    }


@torch.inference_mode()
def timing(net: torch.nn.Module, size: int = 256, repeats: int = 7) -> dict[str, float]:
    """Per-image cost of a (1, 3, size, size) forward pass, two ways.

    `wall_ms` uses all of this machine's cores, as a visitor's request would run, and
    depends on whatever else the machine is doing (hence `load_average`).
    `cpu_ms_1_thread` is the process CPU time of the pass on one thread, which other
    load on the machine affects much less. Medians of `repeats` after one warm-up.
    """
    threads = torch.get_num_threads()
    x = torch.rand(1, 3, size, size) * 2 - 1
    net = net.eval()
    result = {}
    try:
        for key, n_threads, clock in (
            ("wall_ms", os.cpu_count() or 1, time.perf_counter),
            ("cpu_ms_1_thread", 1, time.process_time),
        ):
            torch.set_num_threads(n_threads)
            net(x)  # warm-up: allocation and kernel selection
            samples = []
            for _ in range(repeats):
                t0 = clock()
                net(x)
                samples.append((clock() - t0) * 1000)
            result[key] = round(sorted(samples)[len(samples) // 2], 1)
    finally:
        torch.set_num_threads(threads)
    result["threads"] = os.cpu_count() or 1
    result["load_average"] = round(os.getloadavg()[0], 1)
    return result


def format_table(pair: str, metrics: dict[str, dict[str, float]]) -> str:
    """A Markdown table: one row per metric, output and true-target columns per direction."""
    a, b = DOMAINS[pair]
    lines = [
        f"| {pair} pair | {a} → {b} | (true target) | {b} → {a} | (true target) |",
        "|---|---|---|---|---|",
    ]
    for key in table_keys(pair):
        cells = []
        for direction in ("AB", "BA"):
            m = metrics[direction]
            ref = m.get(f"target_{key}")
            if ref is None:  # geometry of the target against itself is trivial; show it anyway
                ref = m["needed_px"] if key == "displacement_px" else PERFECT.get(key)
            value = m.get(key, float("nan"))  # older checkpoints' metadata lacks the newer rows
            cells += [f"{value:.3f}", "" if ref is None or key == "cycle_l1" else f"{ref:.3f}"]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_card(path: Path, meta: dict) -> None:
    t, a, b = meta["training"], *DOMAINS[meta["pair"]]
    expectation = {
        "texture": "Only texture separates the domains, so CycleGAN should translate well: outlines "
        "kept (high structure), texture statistics moved towards the target.",
        "geometry": "The domains differ in shape only (discs vs squares at the same places): a change "
        "of local shape within each object's footprint. The paper reports that translations needing "
        "geometric change degenerate into minimal changes of the input.",
        "position": "The domains differ in position only (the same plain objects in the left half in A, "
        "in the right half in B): a true translation moves every object half the canvas across, "
        "further than the generator's convolutions reach.",
    }[meta["pair"]]
    path.write_text(f"""# cyclegan_{meta["pair"]}: {a} ↔ {b}

Two ResNet generators (A→B `G_AB`, B→A `G_BA`) trained together as a CycleGAN on generated,
unpaired scenes ({a} vs {b}). {expectation}

- Architecture: the CycleGAN ResNet generator (c7s1-{t["ngf"]}, two stride-2 downs, {t["blocks"]}
  residual blocks, two ups, c7s1-3, tanh, instance norm, reflection padding), {meta["parameters"]:,}
  parameters each; stored in fp16 ({meta["file_mb"]:.2f} MB for both). Discriminators: 70x70 PatchGAN
  ({t["d_layers"]} layers, width {t["ndf"]}), not shipped.
- Losses: LSGAN, cycle weight {t["cycle"]}, identity weight {t["identity"]} x cycle. Adam lr {t["lr"]},
  betas (0.5, 0.999); constant for the first half, linear decay to 0 over the second half;
  history of {t["pool"]} fakes per discriminator.
- Training: {t["steps"]} steps (of {t["planned_steps"]} planned) x batch {t["batch_size"]}
  at {t["size"]}x{t["size"]} px;
  init seed {t["seed"]}, data seed {t["data_seed"]} (streams train_a / train_b, never paired).
- Training time: {t["training_seconds"] / 60:.1f} min on {t["machine"]}.
- Inference per 256x256 image (median of 7, same machine): {meta["timing"]["wall_ms"]:.1f} ms wall
  with {meta["timing"]["threads"]} threads (load average {meta["timing"]["load_average"]} at the time:
  other jobs were running), {meta["timing"]["cpu_ms_1_thread"]:.1f} ms of CPU time on one thread.

## Held-out metrics

{meta["eval_n"]} generated scenes at {HELDOUT_SIZE} px (held-out indices 0..{meta["eval_n"] - 1}).

{format_table(meta["pair"], meta["metrics"])}

Structure: edges at sigma 2 px (F-score, 2 px tolerance) and SSIM of gradient magnitudes; 1 = unchanged.
Texture: filter-bank Gram distance and colour-histogram distance; 0 = unchanged. Masks are segmented
against each scene's known background; shape_change is (IoU(out, target) - IoU(input, target)) /
(1 - IoU(input, target)): 0 = shape kept, 1 = shape translated. fill_ratio is each output object's
mask area over its bounding box, the object cut at half its own contrast (disc pi/4 ~ 0.785,
square 1.0; input_fill_ratio: the same for the input). Displacement (position pair): the
output's object centroid shift along the needed direction against the needed shift; kept / arrived
are the shares of the source / target footprints that are object in the output; share_* are the
shares of scenes classified as translate, smear, leave in place, erase-and-paint or erase
(definitions in demos/cyclegan/metrics.py, `Displacement`).
Cycle: mean |x - G_BA(G_AB(x))| in [0, 1] units.

CI subset (held-out scenes {CI_SUBSET["start"]}..{CI_SUBSET["start"] + CI_SUBSET["n"] - 1}) is stored in the
checkpoint metadata (`ci_metrics`) and re-measured by tests/test_cyclegan.py.
""")


def export(
    g_ab: ResnetGenerator,
    g_ba: ResnetGenerator,
    pair: str,
    training: dict,
    out: Path,
    eval_n: int = HELDOUT_N,
) -> dict:
    """Evaluate, then write <out>/cyclegan_<pair>.safetensors (+ .md card when eval_n > 0)."""
    g_ab, g_ba = g_ab.eval(), g_ba.eval()
    with torch.no_grad():  # measure the weights as shipped: rounded to fp16 and back
        for tensor in [*g_ab.parameters(), *g_ba.parameters()]:
            tensor.copy_(tensor.half().float())
    meta: dict = {"pair": pair, "training": training, "eval_n": eval_n, "parameters": count_parameters(g_ab)}
    meta["ci_metrics"] = evaluate_pair(
        g_ab, g_ba, pair, CI_SUBSET["n"], CI_SUBSET["start"], CI_SUBSET["size"]
    )
    if eval_n > 0:
        meta["metrics"] = evaluate_pair(g_ab, g_ba, pair, eval_n)
        meta["timing"] = timing(g_ab)
    weights = out / f"cyclegan_{pair}.safetensors"
    save_pair(
        g_ab,
        g_ba,
        weights,
        {
            "pair": pair,
            "domains": json.dumps(DOMAINS[pair]),
            "ci_subset": json.dumps(CI_SUBSET),
            "ci_metrics": json.dumps(meta["ci_metrics"]),
            "metrics": json.dumps(meta.get("metrics", {})),
            "training": json.dumps(training),
        },
    )
    meta["file_mb"] = weights.stat().st_size / 1e6
    if eval_n > 0:
        write_card(out / f"cyclegan_{pair}.md", meta)
        print(format_table(pair, meta["metrics"]))
    print(f"wrote {weights} ({meta['file_mb']:.2f} MB)")
    return meta


def figure(
    models: dict[str, tuple[ResnetGenerator, ResnetGenerator]], path: Path, n: int = 3, start: int = 0
) -> None:
    """For each pair, n held-out scenes: A, G_AB(A), G_BA(G_AB(A)), true B | B, G_BA(B), cycle, true A."""
    tile, pad, header = HELDOUT_SIZE, 4, 18
    # ASCII arrows: Pillow's built-in font has no glyph for "→".
    labels = ["input A", "A->B", "A->B->A", "true B", "input B", "B->A", "B->A->B", "true A"]
    rows = []
    for pair, (g_ab, g_ba) in models.items():
        scenes = heldout(pair, n, start)
        a, b = to_tensor([s.a for s in scenes]), to_tensor([s.b for s in scenes])
        ab = translate(g_ab, a)
        ba = translate(g_ba, b)
        columns = [a, ab, translate(g_ba, ab), b, b, ba, translate(g_ab, ba), a]
        images = [to_images(c) for c in columns]  # each (n, H, W, 3)
        rows.append((pair, [[images[c][r] for c in range(8)] for r in range(n)]))
    width = 8 * (tile + pad) + pad
    height = sum(header + len(r) * (tile + pad) for _, r in rows) + header
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=13)
    for c, label in enumerate(labels):
        draw.text((pad + c * (tile + pad) + 4, 2), label, fill="black", font=font)
    y = header
    for pair, grid in rows:
        title = f"{pair} pair: {DOMAINS[pair][0]} (A) / {DOMAINS[pair][1]} (B)"
        draw.text((pad, y + 2), title, fill="black", font=font)
        y += header
        for row in grid:
            for c, image in enumerate(row):
                canvas.paste(
                    Image.fromarray((image * 255).round().astype(np.uint8)), (pad + c * (tile + pad), y)
                )
            y += tile + pad
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Metrics of the bundled CycleGANs on held-out scenes")
    parser.add_argument("--n", type=int, default=HELDOUT_N, help="held-out scenes per pair")
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINTS)
    parser.add_argument("--figure", type=Path, default=Path("docs/cyclegan_eval.png"))
    parser.add_argument(
        "--timing", action="store_true", help="also time the bundled and the official generator"
    )
    args = parser.parse_args(argv)
    results, models = {}, {}
    for pair in PAIRS:
        path = args.checkpoints / f"cyclegan_{pair}.safetensors"
        if not path.is_file():
            print(f"{path} is missing; train it with: python -m demos.cyclegan.train --pair {pair}")
            continue
        g_ab, g_ba, _ = load_pair(path)
        models[pair] = (g_ab, g_ba)
        results[pair] = evaluate_pair(g_ab, g_ba, pair, args.n)
        print(f"\n{format_table(pair, results[pair])}")
    if args.timing:
        timings = {f"bundled {pair} G_AB": timing(m[0]) for pair, m in models.items()}
        timings["official 9-block (random weights)"] = timing(official_generator(), repeats=3)
        print("\nper 256x256 image:")
        for name, t in timings.items():
            print(
                f"  {name}: {t['wall_ms']:.1f} ms wall ({t['threads']} threads, load {t['load_average']}), "
                f"{t['cpu_ms_1_thread']:.1f} ms CPU on one thread"
            )
        results["timing"] = timings
    if models and args.figure:
        figure(models, args.figure)
        print(f"wrote {args.figure}")
    return results


if __name__ == "__main__":
    main()
