"""Publish the suite, or one demo, as a Hugging Face Space; bundled checkpoints as model repos.

    python publish.py --space user/vision-lab --dry-run
    python publish.py --space user/focal-loss --demo detection
    python publish.py --models-owner user            # bundled checkpoints only

A Space gets exactly the files the plan lists (copied into a staging folder first, so
`--dry-run` shows precisely what would be uploaded): the app's code, requirements,
bundled checkpoints and examples; never tests, benchmarks or CI files. A single-demo
Space gets that demo's card from `spaces/<demo>/README.md` and the variable DEMO=<demo>.

It sits beside app.py, not in shared/, because it needs the whole suite: it imports
`app` to learn the tabs and every demo's models, and shared/ never imports a tab.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import app
from shared.registry import ROOT, BundledFile, specs

# packages.txt: Debian packages a Space installs (a font with Chinese glyphs, for the Chinese
# texts drawn into pictures).
SPACE_FILES = ["app.py", "requirements.txt", "packages.txt", "LICENSE", "shared/*.py", "shared/*.js",
               "shared/locales/*.yaml", "demos/*.py", "demos/*/*.py",
               # what the tabs read as they run: scripts, measured results, the domain ranges
               "demos/*.json", "demos/*/*.js", "demos/*/*.json", "demos/*/results/*.json",
               "checkpoints/*.safetensors", "checkpoints/*.md", "examples/*", "examples/*/*",
               "docs/*.png", "docs/*.jpg"]  # figures the tabs show (pose cost plot) and the README uses


@dataclass
class Plan:
    repo_id: str
    repo_type: str  # "space" or "model"
    files: dict[str, Path] = field(default_factory=dict)  # path in the repo -> local file
    variables: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        total = sum(p.stat().st_size for p in self.files.values())
        lines = [f"{self.repo_type} {self.repo_id}: {len(self.files)} files, {total / 2**20:.1f} MB"]
        lines += [f"  {dst}  ({src.stat().st_size / 1024:.0f} KB)"
                  for dst, src in sorted(self.files.items())]
        lines += [f"  variable {k}={v}" for k, v in self.variables.items()]
        readme = self.files.get("README.md")
        if readme is not None:
            meta = front_matter(readme.read_text()).splitlines()
            lines += ["  front matter:", *("    " + line for line in meta)]
        return "\n".join(lines)


def front_matter(text: str) -> str:
    """The YAML block between the leading `---` lines of a README ('' if none)."""
    if not text.startswith("---\n"):
        return ""
    return text[4:].split("\n---", 1)[0]


def tracked_files() -> list[str]:
    """Files under version control: what a fresh clone has, nothing generated or local."""
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def space_plan(repo_id: str, demo: str | None = None) -> Plan:
    plan = Plan(repo_id, "space")
    for rel in tracked_files():
        if any(fnmatch.fnmatch(rel, pattern) for pattern in SPACE_FILES):
            plan.files[rel] = ROOT / rel
    if demo is None:
        plan.files["README.md"] = ROOT / "README.md"
    else:
        card = ROOT / "spaces" / demo / "README.md"
        if not card.is_file():
            raise SystemExit(f"No Space card for demo {demo!r} at spaces/{demo}/README.md.")
        plan.files["README.md"] = card
        plan.variables["DEMO"] = demo
    return plan


def model_plans(owner: str) -> list[Plan]:
    """One model repo per bundled checkpoint: the .safetensors file and its card."""
    plans = []
    for spec in specs(tier="bundled"):
        weights = spec.weights
        assert isinstance(weights, BundledFile)
        if not weights.path.is_file():
            continue
        plan = Plan(f"{owner}/vision-lab-{spec.name}", "model")
        plan.files[weights.filename] = weights.path
        card = weights.path.with_suffix(".md")
        if card.is_file():
            plan.files["README.md"] = card
        plans.append(plan)
    return plans


def model_card_text(plan: Plan, spec_name: str) -> str:
    """The card with Hub metadata (licence, library, tags) in front of our own text."""
    from huggingface_hub import ModelCard, ModelCardData

    body = plan.files["README.md"].read_text() if "README.md" in plan.files else f"# {spec_name}\n"
    data = ModelCardData(license="mit", library_name="pytorch", tags=["vision-lab", "safetensors"])
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def execute(plan: Plan, api, private: bool = False) -> None:
    """Create or update the repo and upload exactly the plan's files."""
    api.create_repo(plan.repo_id, repo_type=plan.repo_type, exist_ok=True, private=private,
                    space_sdk="gradio" if plan.repo_type == "space" else None)
    with tempfile.TemporaryDirectory() as staging:
        for dst, src in plan.files.items():
            target = Path(staging) / dst
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
        if plan.repo_type == "model" and "README.md" in plan.files:
            (Path(staging) / "README.md").write_text(model_card_text(plan, plan.repo_id.split("/")[-1]))
        api.upload_folder(repo_id=plan.repo_id, repo_type=plan.repo_type, folder_path=staging,
                          allow_patterns=sorted(plan.files), ignore_patterns=["**/__pycache__/**"],
                          commit_message="Publish from the Vision Lab repository")
    for key, value in plan.variables.items():
        api.add_space_variable(plan.repo_id, key, value)


def main(argv: list[str] | None = None) -> list[Plan]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", help="owner/name of the Space to create or update")
    p.add_argument("--demo", choices=list(app.DEMOS), help="publish one demo (Space variable DEMO)")
    p.add_argument("--models-owner", help="also publish bundled checkpoints as model repos under this owner")
    p.add_argument("--private", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="print the plan; upload nothing")
    args = p.parse_args(argv)
    if not args.space and not args.models_owner:
        p.error("give --space and/or --models-owner")
    for _, module in app.DEMOS.values():  # importing each demo registers its models, so the
        importlib.import_module(module.rsplit(".", 1)[0])  # plan sees every bundled checkpoint
    plans = ([space_plan(args.space, args.demo)] if args.space else [])
    plans += model_plans(args.models_owner) if args.models_owner else []
    for plan in plans:
        print(plan.describe())
    if not args.dry_run:
        from huggingface_hub import HfApi

        api = HfApi()
        for plan in plans:
            execute(plan, api, private=args.private)
            print(f"published {plan.repo_type} {plan.repo_id}")
    return plans


if __name__ == "__main__":
    main()
