"""Measure the suite and print a table; also write it to BENCHMARKS.md.

    python -m benchmarks                 # everything
    python -m benchmarks --repeats 10    # fewer repetitions

Figures vary with the machine and its load, so goals are judged on medians measured
in one run, and every table names the machine it was measured on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
from pathlib import Path

import torch

from benchmarks import cyclegan, detection, optimizers
from benchmarks.timing import ROOT, launched_app


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {gpu}, "
            f"torch {torch.__version__}, Python {platform.python_version()}, "
            f"load average {load:.1f} at start")


def table(rows: list[dict]) -> str:
    lines = ["| measurement | median ms | p95 ms | goal | met |", "|---|---:|---:|---|---|"]
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['what']} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | {r['goal']} | {met} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = p.parse_args()

    torch.set_num_threads(os.cpu_count() or 1)
    from gradio_client import Client

    rows = optimizers.compute_rows(args.repeats)
    model_rows, timings = detection.model_rows(args.repeats)
    rows += model_rows
    rows += cyclegan.model_rows(args.repeats)[0]
    with launched_app(script=["-m", "benchmarks.floor"]) as (floor_url, _):
        floor_client = Client(floor_url, verbose=False)
        with launched_app() as (url, startup_s):
            client = Client(url, verbose=False)
            rows += optimizers.redraw_rows(client, args.repeats)
            floor_row, floor = detection.floor_rows(floor_client, args.repeats)
            rows += floor_row
            rows += detection.end_to_end_rows(client, floor, timings, args.repeats)
            rows += cyclegan.end_to_end_rows(client, floor.median_ms, args.repeats)
    rows.append({"what": "app: process start to first answered request", "median_ms": startup_s * 1000,
                 "p95_ms": startup_s * 1000, "goal": "", "met": None})

    text = (f"# Benchmarks\n\nMeasured {dt.date.today()} on: {machine()}.\n"
            f"Command: `python -m benchmarks --repeats {args.repeats}`.\n\n{table(rows)}\n")
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
