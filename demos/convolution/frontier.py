"""Measure quality against file size over a grid of k, sparsity and fine-tuning.

    python -m demos.convolution.frontier                 # the grid below, all three models
    python -m demos.convolution.frontier --models tiny-retinanet-focal --quick
    python -m demos.convolution.frontier --models tiny-retinanet-focal --points 4,0.7,200 2,0,200

Each point is one `pipeline.run` (compress, fine-tune, write, reload, measure), so every
number in demos/convolution/frontier.json is a real file's size and a real evaluation.
The tab draws these points and marks the run being shown among them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import torch

from . import pipeline, targets

# (k, sparsity) without fine-tuning, for every model.
GRID = [(k, s) for s in (0.0, 0.3, 0.5, 0.7) for k in (2, 4, 8, 16, 32, 64, 256)]
QUICK_GRID = [(k, s) for s in (0.0, 0.5) for k in (4, 16, 64, 256)]
# The detector's points worth fine-tuning (k, sparsity, steps): near the 1-AP line and near 20x.
STEPS = 200
TUNED = [(16, 0.0, STEPS), (16, 0.3, STEPS), (8, 0.0, STEPS), (4, 0.0, STEPS), (16, 0.5, STEPS),
         (8, 0.5, STEPS), (4, 0.5, STEPS), (16, 0.7, STEPS), (4, 0.7, STEPS), (4, 0.7, 500),
         (4, 0.75, STEPS), (8, 0.8, STEPS), (2, 0.0, STEPS)]


def point(result: pipeline.Result) -> dict:
    name = result.settings["model"]
    q = result.quality
    main = "AP" if targets.TARGETS[name] == "detection" else next(iter(q))
    out = result.settings | {"file_bytes": result.file_bytes, "ratio": round(result.ratio, 3), "metric": main,
                             "before": q[main]["before"], "after": q[main]["after"],
                             "change": q[main]["change"], "seconds": round(result.seconds["total"], 1)}
    if "change_ci" in q[main]:
        agnostic = q["AP class-agnostic"]
        out |= {"change_ci": q[main]["change_ci"], "agnostic_change": agnostic["change"],
                "agnostic_change_ci": agnostic["change_ci"]}
    return out


def _key(p: dict) -> tuple:
    return (p["model"], p["k"], p["sparsity"], p["init"], p["fine_tune_steps"], p["huffman"],
            p.get("retrain_steps", 0))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(targets.TARGETS))
    p.add_argument("--quick", action="store_true", help="a small grid and no fine-tuning")
    p.add_argument("--points", nargs="+", default=None, metavar="K,SPARSITY,STEPS[,RETRAIN]",
                   help="measure only these points and merge them into the existing file; RETRAIN: "
                        "steps retraining the kept weights after pruning, before clustering")
    p.add_argument("--out", default=str(pipeline.FRONTIER))
    args = p.parse_args(argv)
    points, t0 = [], time.perf_counter()
    old = json.loads(Path(args.out).read_text(encoding="utf-8")) if args.points else None
    for name in args.models:
        if args.points:
            runs = [(int(v[0]), float(v[1]), int(v[2]), int(v[3]) if len(v) > 3 else 0)
                    for v in (x.split(",") for x in args.points)]
        else:
            grid = QUICK_GRID if args.quick or targets.TARGETS[name] != "detection" else GRID
            runs = [(k, s, 0, 0) for k, s in grid]
            if targets.TARGETS[name] == "detection" and not args.quick:
                runs += [(*t, 0) for t in TUNED]
        for k, sparsity, steps, retrain in runs:
            result = pipeline.run(name, k, sparsity, "linear", steps, huffman=True, retrain_steps=retrain)
            points.append(point(result))
            print(json.dumps(points[-1]), flush=True)
            # Written after every point: a run of an hour that stops keeps what it measured.
            _write(Path(args.out), points, old, args, round((time.perf_counter() - t0) / 60, 1))


def _write(out: Path, points: list[dict], old: dict | None, args: argparse.Namespace, minutes: float) -> None:
    machine = (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores "
               f"({torch.get_num_threads()} torch threads), torch {torch.__version__}")
    record = {"machine": machine, "date": str(dt.date.today()), "minutes": minutes,
              "command": "python -m demos.convolution.frontier" + (" --quick" if args.quick else ""),
              "points": points}
    if old is not None:  # merged: the new measurements replace any of the same settings
        new = {_key(q) for q in points}
        record = old | {"points": [q for q in old["points"] if _key(q) not in new] + points,
                        "added": old.get("added", []) + [{"date": record["date"], "points": args.points,
                                                          "models": args.models, "minutes": minutes}]}
    out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")

if __name__ == "__main__":
    main()
