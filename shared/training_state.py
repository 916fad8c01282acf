"""Resumable training state for one model and its optimiser, without pickle.

Weights and optimiser moments go into a `.safetensors` file, everything else (step,
timings, arguments, the optimiser's param groups) into a JSON sidecar; each file is
written to a temporary name and renamed, so a run stopped mid-write loses nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def state_paths(state_dir: Path, stem: str) -> tuple[Path, Path]:
    """(`<stem>_state.safetensors`, `<stem>_state.json`) in `state_dir`."""
    return state_dir / f"{stem}_state.safetensors", state_dir / f"{stem}_state.json"


def save_state(state_dir: Path, stem: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               info: dict) -> None:
    weights_path, json_path = state_paths(state_dir, stem)
    state_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    optim_state = optimizer.state_dict()
    for index, slots in optim_state["state"].items():
        for key, value in slots.items():
            tensors[f"optim.{index}.{key}"] = value.detach().clone().contiguous()
    save_file(tensors, str(weights_path.with_suffix(".tmp")))
    os.replace(weights_path.with_suffix(".tmp"), weights_path)
    json_path.with_suffix(".tmp").write_text(json.dumps(dict(info, param_groups=optim_state["param_groups"])))
    os.replace(json_path.with_suffix(".tmp"), json_path)


def load_state(state_dir: Path, stem: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """Restore what `save_state` wrote into `model` and `optimizer`; return the JSON info."""
    weights_path, json_path = state_paths(state_dir, stem)
    info = json.loads(json_path.read_text())
    tensors = load_file(str(weights_path))
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, slot = key.split(".", 2)
            slots.setdefault(int(index), {})[slot] = value
    optimizer.load_state_dict({"state": slots, "param_groups": info["param_groups"]})
    return info
