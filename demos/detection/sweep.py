"""The focal-loss experiment as a resumable sweep: every finished run is one JSON file.

    python -m demos.detection.sweep --workers 2          # the whole plan, two runs at a time
    python -m demos.detection.sweep --dry-run            # what is done, running and left
    python -m demos.detection.sweep --arms focal,ce --levels 1 --seeds 0 --steps 20 --lr 0.01

The plan, in the order it runs (extreme imbalance levels first, so a stopped sweep has
already answered the main question):
1. learning-rate tuning of ce and focal at every level they are measured at, 2 objects per
   scene first, then 1 and 8 (ohem's comes after their seeds): a log grid of rates
   (extended while the best is at an edge), 1,000 steps, scored by class-agnostic AP on
   the *tune* split (never val).
   One rate per arm for every level would decide the comparison instead of the loss
   (the rate that suits 2 objects is far from the best at 1 or 8);
2. seeds 0-2 of ce and focal at 1 and 8 objects, each with the rate tuned for it at that
   level; then ohem's tuning and seeds there; then 2 and 4 objects (tuned at 4 first);
3. extras at the extremes: SSD-style mining (hnm), the gamma sweep at 1 object (focal's
   rate there), one CE run without the prior initialisation (CE's rate there); 4. seeds
   3-4 at the two extreme levels.

Finished runs are skipped; a run another worker holds (a lock file with a live pid) is
left to it; a results file that cannot be read is reported and run again. Each run's
file holds its config, training curve, metrics and bootstrap replicates, so the report
(`python -m demos.detection.report`) needs nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm

from shared.device import code_version

from .experiment import ARMS, RunConfig

RESULTS = Path(__file__).resolve().parent / "results"
STATE = Path(__file__).resolve().parents[2] / "runs" / "detection_sweep"
LR_GRID = (0.005, 0.01, 0.02, 0.04)
MAIN_ARMS = ("ce", "focal", "ohem")
LEVELS = (1, 8, 2, 4)  # objects per scene, extremes first
TUNE_LEVEL, TUNE_STEPS, TUNE_N = 2, 1000, 200


class SweepError(Exception):
    """A problem with the sweep's arguments or files, in plain words."""


def read_results(folder: Path = RESULTS) -> tuple[dict[str, dict], list[str]]:
    """Every readable run file by run id, and a message for each unreadable one."""
    runs, problems = {}, []
    for path in sorted(folder.glob("*.json")):
        if path.name in ("summary.json", "levels.json"):
            continue
        try:
            record = json.loads(path.read_text())
            runs[record["config"]["run_id"]] = record
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path.name} is not a readable run file ({type(exc).__name__}); it is skipped")
    return runs, problems


def _tune_cfg(arm: str, lr: float, objects: int = TUNE_LEVEL) -> RunConfig:
    return RunConfig(arm, objects, 0, lr, steps=TUNE_STEPS, eval_split="tune", eval_n=TUNE_N)


def tuning_grid(arm: str, runs: dict[str, dict], objects: int = TUNE_LEVEL) -> list[float]:
    """LR_GRID, extended by halving (or doubling) while the best finished rate is at an edge,
    so a rate is never chosen only because the grid stopped there (at most 3 steps out)."""
    grid = list(LR_GRID)
    for _ in range(3):
        ids = {lr: _tune_cfg(arm, lr, objects).run_id for lr in grid}
        done = {lr: runs[i]["metrics"]["agnostic"]["AP"] for lr, i in ids.items() if i in runs}
        if len(done) < len(grid):
            break
        best = max(done, key=done.get)
        if best == grid[0]:
            grid.insert(0, grid[0] / 2)
        elif best == grid[-1]:
            grid.append(grid[-1] * 2)
        else:
            break
    return grid


def tuned_lr(arm: str, runs: dict[str, dict], objects: int = TUNE_LEVEL) -> float | None:
    """The rate with the best class-agnostic AP on the tune split at this level; None until its
    grid is done."""
    scores = {}
    for lr in tuning_grid(arm, runs, objects):
        cfg = _tune_cfg(arm, lr, objects)
        if cfg.run_id not in runs:
            return None
        scores[lr] = runs[cfg.run_id]["metrics"]["agnostic"]["AP"]
    return max(scores, key=scores.get)


HNM_LEVELS = (1, 8)
DERIVED = {"focal-g0.5": "focal", "focal-g1": "focal", "focal-g5": "focal", "ce-noprior": "ce"}


def plan_rates(runs: dict[str, dict]) -> dict[tuple[str, int], float | None]:
    """The learning rate the sweep trains each (arm, objects per scene) with: the one tuned for
    that arm at that level, None while its tuning is unfinished."""
    rates: dict[tuple[str, int], float | None] = {}
    for level in LEVELS:
        for arm in MAIN_ARMS:
            rates[(arm, level)] = tuned_lr(arm, runs, level)
        for arm, parent in DERIVED.items():  # the paper varies one thing: gamma, or the prior
            rates[(arm, level)] = rates[(parent, level)]
    for level in HNM_LEVELS:
        rates[("hnm", level)] = tuned_lr("hnm", runs, level)
    return rates


def full_plan(runs: dict[str, dict]) -> tuple[list[RunConfig], int]:
    """Runs that can start now, in priority order, and how many more wait for a tuned rate."""
    def tuning(arm: str, level: int) -> list[RunConfig]:
        return [_tune_cfg(arm, lr, level) for lr in tuning_grid(arm, runs, level)]

    rate_of = plan_rates(runs)
    first = ("ce", "focal")  # the comparison the tab leads with; OHEM's tuning mostly collapses
    plan: list[RunConfig | tuple[str, int, int]] = [
        c for level in (TUNE_LEVEL, 1, 8) for arm in first for c in tuning(arm, level)]
    plan += tuning("ohem", TUNE_LEVEL)
    plan += [(arm, level, seed) for seed in (0, 1, 2) for level in (1, 8) for arm in first]
    plan += [c for level in (1, 8) for c in tuning("ohem", level)]
    plan += [("ohem", level, seed) for seed in (0, 1, 2) for level in (1, 8)]
    plan += [(arm, level, 0) for level in (2, 4) for arm in MAIN_ARMS]
    plan += [c for arm in MAIN_ARMS for c in tuning(arm, 4)]
    plan += [(arm, level, seed) for seed in (1, 2) for level in (2, 4) for arm in MAIN_ARMS]
    plan += [c for level in HNM_LEVELS for c in tuning("hnm", level)]
    plan += [("hnm", level, seed) for seed in range(3) for level in HNM_LEVELS]
    plan += [(arm, 1, seed) for seed in range(3) for arm in ("focal-g0.5", "focal-g1", "focal-g5")]
    plan += [("ce-noprior", 1, 0)]
    plan += [(arm, level, seed) for seed in (3, 4) for level in (1, 8) for arm in MAIN_ARMS]
    ready, waiting = [], 0
    for item in plan:
        if isinstance(item, RunConfig):
            ready.append(item)
        elif rate_of[(item[0], item[1])] is None:
            waiting += 1
        else:
            ready.append(RunConfig(item[0], item[1], item[2], rate_of[(item[0], item[1])]))
    return ready, waiting


def custom_plan(args: argparse.Namespace) -> list[RunConfig]:
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise SweepError(f"Unknown arm {unknown[0]!r}; choose from: {', '.join(ARMS)}.")
    if args.lr is None or not args.lr > 0:
        raise SweepError("--arms needs a positive --lr (tuning runs only in the full plan).")
    levels = [int(v) for v in args.levels.split(",")]
    seeds = [int(v) for v in args.seeds.split(",")]
    if any(v < 1 or v > 8 for v in levels):
        raise SweepError("--levels are objects per scene, from 1 to 8.")
    if getattr(args, "tune", False):  # like the tuning runs, so the tuning table compares them
        return [_tune_cfg(a, args.lr, lv) for lv in levels for a in arms]
    warmup = min(200, args.steps // 4)
    return [RunConfig(a, lv, s, args.lr, steps=args.steps, warmup=warmup, eval_n=args.eval_n)
            for s in seeds for lv in levels for a in arms]


def _claim(cfg: RunConfig) -> Path | None:
    """A lock file for this run, or None when a live worker already holds it."""
    STATE.mkdir(parents=True, exist_ok=True)
    lock = STATE / f"{cfg.run_id}.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            pid = int(lock.read_text() or 0)
            os.kill(pid, 0)
            return None  # held by a live process
        except (ValueError, ProcessLookupError, PermissionError, FileNotFoundError):
            lock.unlink(missing_ok=True)  # left by a stopped worker
            return _claim(cfg)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return lock


def run_one(cfg: RunConfig, folder: Path, code: dict | None = None) -> dict:
    """Train, evaluate and write one run's results file (atomically); `code` is the worker's
    `code_version()`, taken when it started."""
    from .experiment import train
    from .model import save_checkpoint
    from .stats import evaluate_run

    model, record = train(cfg)
    metrics = evaluate_run(model, cfg)
    save_checkpoint(model, STATE / f"{cfg.run_id}.safetensors",
                    {"run": json.dumps(cfg.as_dict() | {"run_id": cfg.run_id})})
    result = {"config": cfg.as_dict() | {"run_id": cfg.run_id, "arm_params": ARMS[cfg.arm].params,
                                         "prior": ARMS[cfg.arm].prior},
              "training": record, "metrics": metrics, "machine": machine(),
              "code": code, "finished": time.strftime("%F %T")}
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{cfg.run_id}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(folder / f"{cfg.run_id}.json")
    return result


def machine() -> str:
    import platform

    import torch

    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
            f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}")


def write_levels(folder: Path, levels: list[int]) -> None:
    """Foreground:background ratios of each level (per anchor and per binary term), once."""
    from .experiment import imbalance_of_level

    path = folder / "levels.json"
    try:
        known = {row["objects"]: row for row in json.loads(path.read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        known = {}
    missing = [lv for lv in levels if lv not in known]
    if not missing:
        return
    for level in missing:
        known[level] = imbalance_of_level(level)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([known[k] for k in sorted(known)], indent=1))


def work(args: argparse.Namespace) -> None:
    """One worker: take the next run nobody has, until the plan is done."""
    code = code_version()  # the code this worker loaded, written into each results file
    while True:
        runs, _ = read_results(args.results)
        plan, waiting = (custom_plan(args), 0) if args.arms else full_plan(runs)
        todo = [c for c in plan if c.run_id not in runs]
        if not todo and not waiting:
            return
        for cfg in todo:
            lock = _claim(cfg)
            if lock is None:
                continue
            try:
                if cfg.run_id not in read_results(args.results)[0]:
                    run_one(cfg, args.results, code)
            finally:
                lock.unlink(missing_ok=True)
            break
        else:
            time.sleep(20)  # everything left is held by others or waits for the tuning


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The focal-loss sweep (resumable).")
    p.add_argument("--workers", type=int, default=1, help="runs at a time, one CPU thread each")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--dry-run", action="store_true", help="show the plan and what is done")
    p.add_argument("--arms", default="", help="a custom plan: comma-separated arms (with --lr)")
    p.add_argument("--levels", default="1")
    p.add_argument("--seeds", default="0")
    p.add_argument("--lr", type=float)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--eval-n", type=int, default=500)
    p.add_argument("--tune", action="store_true",
                   help="with --arms: tuning runs at --levels (1,000 steps, tune split), as in its table")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        runs, problems = read_results(args.results)
        for message in problems:
            print(message, file=sys.stderr)
        plan, waiting = (custom_plan(args), 0) if args.arms else full_plan(runs)
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = [c for c in plan if c.run_id in runs]
    if args.dry_run or args.worker:
        if args.worker:
            work(args)
            return 0
        print(f"{len(done)} of {len(plan) + waiting} runs done, {waiting} wait for tuned rates")
        for cfg in plan:
            print(("done  " if cfg.run_id in runs else "to do ") + cfg.run_id)
        return 0
    write_levels(args.results, sorted({c.objects for c in plan} | (set() if args.arms else set(LEVELS))))
    given = argv if argv is not None else sys.argv[1:]
    child = [sys.executable, "-m", "demos.detection.sweep", "--worker", *given]
    procs = [subprocess.Popen(child) for _ in range(max(1, args.workers))]
    with tqdm(total=len(plan) + waiting, initial=len(done), desc="sweep", unit="run") as bar:
        while any(proc.poll() is None for proc in procs):
            time.sleep(15)
            runs, _ = read_results(args.results)
            plan, waiting = (custom_plan(args), 0) if args.arms else full_plan(runs)
            bar.total = len(plan) + waiting
            bar.n = sum(c.run_id in runs for c in plan)
            bar.refresh()
    from .report import print_table

    print_table(args.results)
    return max(proc.returncode for proc in procs)


if __name__ == "__main__":
    raise SystemExit(main())
