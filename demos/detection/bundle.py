"""Ship the sweep's models that the detection tab shows: seed 0 of each main arm at the
most and the least imbalanced level, with the metrics their results files hold.

    python -m demos.detection.bundle     # copies them into checkpoints/ with a card each
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from shared.device import machine_description

from .experiment import ARMS, RunConfig, build_for
from .findings import ARM_NAMES
from .model import save_checkpoint
from .registry import SWEEP_SHOWN, sweep_file, sweep_name
from .report import cell_rates, cells
from .sweep import RESULTS, STATE, read_results

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"


def run_for(arm: str, objects: int, runs: dict[str, dict]) -> tuple[RunConfig, int] | None:
    """Seed 0 of the cell the tab shows, and the level its rate was tuned at (report.cell_rates:
    its own level, or 2 objects while that level's tuning is unfinished)."""
    seed0 = [r for r in cells(runs).get((arm, objects), []) if r["config"]["seed"] == 0]
    if not seed0:
        return None
    c = seed0[0]["config"]
    cfg = RunConfig(**{f.name: c[f.name] for f in fields(RunConfig) if f.name in c})
    if cfg.run_id != c["run_id"]:
        raise SystemExit(f"{c['run_id']}: its settings do not rebuild its run id ({cfg.run_id})")
    return cfg, cell_rates(runs)[(arm, objects)][1]


def main() -> int:
    from safetensors.torch import load_file

    runs, _ = read_results(RESULTS)
    shipped = 0
    for arm, objects in SWEEP_SHOWN:
        found = run_for(arm, objects, runs)
        if found is None:
            print(f"{sweep_name(arm, objects)}: its run has not finished; not shipped")
            continue
        cfg, tuned_at = found
        model = build_for(cfg)
        model.load_state_dict(load_file(STATE / f"{cfg.run_id}.safetensors"))
        metrics = runs[cfg.run_id]["metrics"]
        path = CHECKPOINTS / sweep_file(arm, objects)
        save_checkpoint(model, path, {"run": json.dumps(cfg.as_dict() | {"run_id": cfg.run_id}),
                                      "val_ap": metrics["aware"]["AP"], "objects_per_scene": objects,
                                      "agnostic_ap": metrics["agnostic"]["AP"]})
        record = runs[cfg.run_id]
        errors = {k: v for k, v in metrics["errors"].items() if k != "confusion"}
        path.with_suffix(".md").write_text(
            f"# {sweep_name(arm, objects)}\n\n"
            f"The focal-loss sweep's run `{cfg.run_id}`: a half-width RetinaNet trained with "
            f"{ARM_NAMES[arm]} ({ARMS[arm].params}) on generated scenes with {objects} object(s) each, "
            f"SGD momentum 0.9, lr {cfg.lr:g} (tuned on the tune split at {tuned_at} object(s) per scene), "
            f"{cfg.steps} steps × "
            f"{cfg.batch_size}, seed 0.\n\n"
            f"On {metrics['scenes']} val scenes of its level: class-agnostic AP "
            f"{100 * metrics['agnostic']['AP']:.1f}, class-aware AP {100 * metrics['aware']['AP']:.1f} "
            f"(pycocotools). Confident detections (score ≥ 0.3): {json.dumps(errors)}.\n\n"
            f"Trained on {record['machine']} in {record['training']['training_seconds'] / 60:.0f} min; "
            f"exported by `python -m demos.detection.bundle` on {machine_description()}.\n")
        shipped += 1
        print(f"{sweep_name(arm, objects)}: {path.name} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0 if shipped else 1


if __name__ == "__main__":
    raise SystemExit(main())
