"""Train a CycleGAN on one generated domain pair, resumably, on the CPU.

    python -m demos.cyclegan.train --pair texture|geometry|position --steps 3000 [--resume]

The recipe is the paper's: LSGAN losses, cycle weight 10, identity weight 0.5 x cycle,
Adam 2e-4 with betas (0.5, 0.999), a 50-image history of fakes for each discriminator,
constant learning rate for the first half and linear decay to zero over the second.
Only the sizes are small: 64 px scenes (128 px for the position pair, whose task is
tied to the canvas), a narrow generator (model.BUNDLED) and a 16-wide 70x70 PatchGAN.
The data of a step is a pure function of the step, and the training state (four
networks, Adam moments, both histories, the training curve as mean losses per
checkpoint interval) is saved every --checkpoint-every steps as safetensors plus a
JSON sidecar, so --resume continues exactly; nothing is pickled. At the end both
generators, their evaluation and a model card go to <out>/cyclegan_<pair>.safetensors
and <out>/cyclegan_<pair>.md, and the run's metrics and curve to <results>/<pair>.json.
`--init-from` starts both generators from a bundled pair file (discriminators fresh),
e.g. to continue the shipped texture pair at a larger size: its own training state is
not kept in the repository.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from shared.device import code_version, machine_description

from .data import PAIRS, TRAIN_SIZE, unpaired_batch
from .model import BUNDLED, PatchDiscriminator, ResnetGenerator, load_pair

RESULTS = Path(__file__).resolve().parent / "results"

NETS = ("G_AB", "G_BA", "D_A", "D_B")


class ImageHistory:
    """The paper's buffer of past fakes: the discriminator sees old and new fakes alike.

    Each incoming image is returned as is while the buffer fills; afterwards, with
    probability 1/2 it is swapped for a random stored one (which it replaces).
    Randomness comes from the step number, so a resumed run draws the same choices.
    """

    def __init__(self, capacity: int = 50) -> None:
        self.capacity = capacity
        self.images: list[torch.Tensor] = []

    def query(self, batch: torch.Tensor, step: int, salt: int) -> torch.Tensor:
        rng = random.Random(step * 2 + salt)
        out = []
        for image in batch.detach():
            if len(self.images) < self.capacity:
                self.images.append(image.clone())
                out.append(image)
            elif rng.random() < 0.5:
                i = rng.randrange(self.capacity)
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)  # (N, 3, H, W)


def learning_rate(step: int, base: float, total: int) -> float:
    """Constant for the first half, then linearly down to zero at `total` (the paper's schedule)."""
    half = total / 2
    return base if step < half else base * max(0.0, (total - step) / max(half, 1))


def build_networks(args: argparse.Namespace) -> dict[str, torch.nn.Module]:
    torch.manual_seed(args.seed)
    gens = {k: ResnetGenerator(ngf=args.ngf, n_blocks=args.blocks) for k in ("G_AB", "G_BA")}
    discs = {k: PatchDiscriminator(ndf=args.ndf, n_layers=args.d_layers) for k in ("D_A", "D_B")}
    nets = gens | discs
    for net in nets.values():  # the reference initialisation: N(0, 0.02) weights, zero biases
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d):
                torch.nn.init.normal_(m.weight, 0.0, 0.02)
                torch.nn.init.zeros_(m.bias)
    return nets


def _state_paths(state_dir: Path, pair: str) -> tuple[Path, Path]:
    return state_dir / f"cyclegan_{pair}_state.safetensors", state_dir / f"cyclegan_{pair}_state.json"


def save_state(state_dir: Path, pair: str, nets: dict, optims: dict, pools: dict, info: dict) -> None:
    """Weights, Adam moments and the histories as tensors; the rest as JSON; written atomically."""
    tensors_path, json_path = _state_paths(state_dir, pair)
    state_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"{n}.{k}": v.detach().clone() for n, net in nets.items() for k, v in net.state_dict().items()}
    groups = {}
    for name, opt in optims.items():
        state = opt.state_dict()
        groups[name] = state["param_groups"]
        for index, slots in state["state"].items():
            for key, value in slots.items():
                tensors[f"optim_{name}.{index}.{key}"] = value.detach().clone()
    for name, pool in pools.items():
        if pool.images:
            tensors[f"pool_{name}"] = torch.stack(pool.images)  # (K, 3, H, W)
    tmp = tensors_path.with_suffix(".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, tensors_path)
    json_path.with_suffix(".tmp").write_text(json.dumps(dict(info, param_groups=groups), indent=1))
    os.replace(json_path.with_suffix(".tmp"), json_path)


def load_state(state_dir: Path, pair: str, nets: dict, optims: dict, pools: dict) -> dict:
    tensors_path, json_path = _state_paths(state_dir, pair)
    info = json.loads(json_path.read_text())
    tensors = load_file(str(tensors_path))
    for name, net in nets.items():
        prefix = f"{name}."
        net.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
    for name, opt in optims.items():
        slots: dict[int, dict[str, torch.Tensor]] = {}
        prefix = f"optim_{name}."
        for key, value in tensors.items():
            if key.startswith(prefix):
                index, slot = key[len(prefix) :].split(".", 1)
                slots.setdefault(int(index), {})[slot] = value
        opt.load_state_dict({"state": slots, "param_groups": info["param_groups"][name]})
    for name, pool in pools.items():
        pool.images = list(tensors[f"pool_{name}"]) if f"pool_{name}" in tensors else []
    return info


def lsgan(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss against the target 1 (real) or 0 (fake), per patch."""
    return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))


def train_step(
    nets: dict,
    optims: dict,
    pools: dict,
    a: torch.Tensor,
    b: torch.Tensor,
    step: int,
    cycle: float,
    identity: float,
) -> dict[str, float]:
    """One generator update, then one discriminator update; a, b are (N, 3, H, W) in [-1, 1]."""
    g_ab, g_ba, d_a, d_b = (nets[k] for k in NETS)
    for d in (d_a, d_b):  # the generator step must not accumulate discriminator gradients
        d.requires_grad_(False)
    fake_b, fake_a = g_ab(a), g_ba(b)
    rec_a, rec_b = g_ba(fake_b), g_ab(fake_a)
    adv = lsgan(d_b(fake_b), True) + lsgan(d_a(fake_a), True)
    cyc = F.l1_loss(rec_a, a) + F.l1_loss(rec_b, b)
    # Identity: a generator fed an image already in its output domain should leave it
    # alone. This is what keeps colours, and what pushes towards minimal changes.
    idt = F.l1_loss(g_ab(b), b) + F.l1_loss(g_ba(a), a)
    loss_g = adv + cycle * cyc + cycle * identity * idt
    optims["G"].zero_grad(set_to_none=True)
    loss_g.backward()
    optims["G"].step()

    for d in (d_a, d_b):
        d.requires_grad_(True)
    old_b = pools["B"].query(fake_b, step, 0)
    old_a = pools["A"].query(fake_a, step, 1)
    loss_d = 0.5 * (lsgan(d_b(b), True) + lsgan(d_b(old_b), False)) + 0.5 * (
        lsgan(d_a(a), True) + lsgan(d_a(old_a), False)
    )
    optims["D"].zero_grad(set_to_none=True)
    loss_d.backward()
    optims["D"].step()
    return {"adv": adv.item(), "cyc": cyc.item(), "idt": idt.item(), "D": loss_d.item()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train a CycleGAN on a generated domain pair")
    p.add_argument("--pair", choices=PAIRS, required=True)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--size", type=int, default=0,
                   help="training scene size in px, a multiple of 4 (0: the pair's own, data.TRAIN_SIZE)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--cycle", type=float, default=10.0, help="cycle-consistency weight (lambda)")
    p.add_argument("--identity", type=float, default=0.5, help="identity weight, as a fraction of --cycle")
    p.add_argument("--pool", type=int, default=50, help="history of fakes per discriminator")
    p.add_argument("--ngf", type=int, default=BUNDLED.ngf)
    p.add_argument("--blocks", type=int, default=BUNDLED.n_blocks)
    p.add_argument("--ndf", type=int, default=16)
    p.add_argument("--d-layers", type=int, default=3, help="3 gives the 70x70 PatchGAN")
    p.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("checkpoints"))
    p.add_argument("--state-dir", type=Path, default=Path("runs/cyclegan"))
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init-from", type=Path, default=None,
                   help="a bundled pair file to start both generators from (ignored when resuming)")
    p.add_argument("--results", type=Path, default=RESULTS,
                   help="folder for <pair>.json, written when a run with --eval-n > 0 completes")
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--stop-at", type=int, default=0, help="pause after this step; continue with --resume")
    p.add_argument(
        "--export-now",
        action="store_true",
        help="with --resume: write the checkpoint and card from the saved state without training",
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--eval-n", type=int, default=100, help="held-out scenes for the card (0: skip)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    code = code_version()  # the code this run starts with, written into its results file
    args = parse_args(argv)
    args.size = args.size or TRAIN_SIZE[args.pair]
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    nets = build_networks(args)
    if args.init_from is not None:  # weights only; a saved state, when resuming, overrides them
        g_ab, g_ba, _ = load_pair(args.init_from)
        if g_ab.config.ngf != args.ngf or g_ab.config.n_blocks != args.blocks:
            raise SystemExit(f"{args.init_from} holds ngf={g_ab.config.ngf}, {g_ab.config.n_blocks} blocks; "
                             f"pass --ngf {g_ab.config.ngf} --blocks {g_ab.config.n_blocks}")
        nets["G_AB"].load_state_dict(g_ab.state_dict())
        nets["G_BA"].load_state_dict(g_ba.state_dict())
    optims = {
        "G": torch.optim.Adam(
            itertools.chain(nets["G_AB"].parameters(), nets["G_BA"].parameters()),
            lr=args.lr,
            betas=(0.5, 0.999),
        ),
        "D": torch.optim.Adam(
            itertools.chain(nets["D_A"].parameters(), nets["D_B"].parameters()),
            lr=args.lr,
            betas=(0.5, 0.999),
        ),
    }
    pools = {"A": ImageHistory(args.pool), "B": ImageHistory(args.pool)}
    start, elapsed, history = 0, 0.0, []
    if args.resume and _state_paths(args.state_dir, args.pair)[1].exists():
        info = load_state(args.state_dir, args.pair, nets, optims, pools)
        start, elapsed = info["step"], info["elapsed_seconds"]
        history = info.get("history", [])
        print(f"resumed {args.pair} at step {start}")

    stop = min(args.stop_at, args.steps) if args.stop_at > 0 else args.steps
    if args.export_now:
        stop = start  # cut short: export what the saved state holds; the card says how far it got
    for net in nets.values():
        net.train()
    t0 = time.time()
    bar = tqdm(
        range(start, stop), initial=start, total=args.steps, desc=f"cyclegan {args.pair}", mininterval=10
    )
    window: dict[str, list[float]] = {}  # losses since the last checkpoint: one point of the curve
    for step in bar:
        for opt in optims.values():
            for group in opt.param_groups:
                group["lr"] = learning_rate(step, args.lr, args.steps)
        a, b = unpaired_batch(args.pair, step, args.batch_size, args.size, args.data_seed)
        losses = train_step(nets, optims, pools, a, b, step, args.cycle, args.identity)
        bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
        for key, value in losses.items():
            window.setdefault(key, []).append(value)
        done = step + 1
        if done % args.checkpoint_every == 0 or done == stop:
            seconds = elapsed + time.time() - t0
            history.append({"step": done, "seconds": round(seconds, 1),
                            "lr": learning_rate(step, args.lr, args.steps)}
                           | {k: round(sum(v) / len(v), 4) for k, v in window.items()})
            window = {}
            info = {
                "step": done,
                "elapsed_seconds": seconds,
                "history": history,
                "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            }
            save_state(args.state_dir, args.pair, nets, optims, pools, info)
    training_seconds = elapsed + time.time() - t0
    if stop < args.steps and not args.export_now:
        print(f"paused {args.pair} at step {stop} of {args.steps}; continue with --resume")
        return {"pair": args.pair, "step": stop}

    from .evaluate import export  # evaluation pulls in metrics and plotting only when needed

    hyper = {
        k: getattr(args, k)
        for k in (
            "batch_size",
            "size",
            "lr",
            "cycle",
            "identity",
            "pool",
            "ngf",
            "blocks",
            "ndf",
            "d_layers",
            "seed",
            "data_seed",
        )
    }
    training = hyper | {
        "pair": args.pair,
        "steps": stop,
        "planned_steps": args.steps,
        "training_seconds": round(training_seconds, 1),
        "machine": machine_description(), "code": code,
    }
    if args.init_from is not None:
        training["init_from"] = str(args.init_from)
    meta = export(nets["G_AB"], nets["G_BA"], args.pair, training, args.out, args.eval_n)
    if args.eval_n > 0:  # a finished run with its evaluation: the results file the README cites
        write_results(args.results / f"{args.pair}.json", meta, history, args.out)
    return meta


def write_results(path: Path, meta: dict, history: list[dict], out: Path) -> None:
    """One finished run: its training record, held-out metrics and training curve, written atomically."""
    record = {
        "status": "trained",
        "pair": meta["pair"],
        "checkpoint": str(out / f"cyclegan_{meta['pair']}.safetensors"),
        "training": meta["training"],
        "eval_n": meta["eval_n"],
        "metrics": meta["metrics"],
        "timing": meta.get("timing"),
        "curve": history,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, allow_nan=True) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
