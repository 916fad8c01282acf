"""The publish plan, checked in dry-run mode, and its execution against a recording API."""

from __future__ import annotations

from pathlib import Path

import gradio

import publish


def test_suite_space_plan(capsys):
    plans = publish.main(["--space", "someone/vision-lab", "--dry-run"])
    (plan,) = plans
    files = set(plan.files)
    assert {"app.py", "requirements.txt", "README.md", "shared/registry.py", "LICENSE",
            "shared/locales/zh-CN.yaml", "docs/pose_time_vs_people.png"} <= files
    assert any(f.startswith("demos/optimizers/") for f in files)
    assert not any(f.startswith(("tests/", "benchmarks/", ".ci/", "spaces/")) for f in files)
    assert "publish.py" not in files  # the command that uploads is not part of what it uploads
    assert not any("__pycache__" in f or f.endswith(".pyi") for f in files)
    meta = publish.front_matter(plan.files["README.md"].read_text())
    assert "sdk: gradio" in meta and f"sdk_version: {gradio.__version__}" in meta
    assert "app_file: app.py" in meta and plan.variables == {}
    out = capsys.readouterr().out
    assert "space someone/vision-lab" in out and "front matter" in out


def test_single_demo_space_uses_its_card_and_variable():
    (plan,) = publish.main(["--space", "someone/optimizers", "--demo", "optimizers", "--dry-run"])
    assert plan.files["README.md"] == publish.ROOT / "spaces" / "optimizers" / "README.md"
    assert plan.variables == {"DEMO": "optimizers"}


def test_space_cards_hold_no_python():
    # A `spaces` package would shadow Hugging Face's ZeroGPU helper (docs/ARCHITECTURE.md).
    spaces_dir = publish.ROOT / "spaces"
    assert not list(spaces_dir.rglob("*.py"))
    for card in spaces_dir.glob("*/README.md"):
        meta = publish.front_matter(card.read_text())
        assert f"sdk_version: {gradio.__version__}" in meta and "app_file: app.py" in meta


class RecordingApi:
    """Stands in for huggingface_hub.HfApi, whose server does not run here."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, **kw):
        staged = sorted(str(p.relative_to(kw["folder_path"])) for p in Path(kw["folder_path"]).rglob("*")
                        if p.is_file())
        self.calls.append(("upload_folder", kw["repo_id"], staged, kw["allow_patterns"]))

    def add_space_variable(self, repo_id, key, value):
        self.calls.append(("add_space_variable", repo_id, key, value))


def test_execution_uploads_exactly_the_plan():
    plan = publish.space_plan("someone/optimizers", "optimizers")
    api = RecordingApi()
    publish.execute(plan, api)
    create, upload, variable = api.calls
    assert create[0] == "create_repo" and create[2]["repo_type"] == "space"
    assert create[2]["space_sdk"] == "gradio"
    assert upload[2] == sorted(plan.files) == upload[3]
    assert variable == ("add_space_variable", "someone/optimizers", "DEMO", "optimizers")


def test_a_space_made_of_the_planned_files_alone_builds_and_detects(tmp_path):
    """Stage exactly what would be uploaded, then build the suite there and run a model:
    a file the app needs but the plan forgot would break the Space, and this test."""
    import shutil
    import subprocess
    import sys

    (plan,) = publish.main(["--space", "someone/vision-lab", "--dry-run"])
    for dst, src in plan.files.items():
        (tmp_path / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp_path / dst)
    check = (
        "import app, demos.pose.ui as pose, demos.detection.ui as det\n"
        "from shared.registry import specs\n"
        "app.build_app()\n"
        "assert pose.TIME_PLOT.is_file()\n"
        "missing = [s.name for s in specs(tier='bundled') if not s.weights.path.is_file()]\n"
        "assert not missing, missing\n"
        "scene = sorted((det.EXAMPLES / 'detection').glob('scene_*.png'))[0]\n"
        "gallery, found = det.detect_endpoint(str(scene), ['tiny-retinanet-focal'], 0.3)\n"
        "assert found['results'][0]['detections']\n"
        "print('space ok')\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0 and "space ok" in out.stdout, out.stderr[-2000:]
