"""The training domains of the bundled models, for `shared.domain`'s out-of-domain rule.

One `Domain` per generator: the detection shapes, the pose stick figures, and each side
of each CycleGAN pair. Each draws its reference statistics from its own *training*
scenes (never the validation scenes or the examples, which the tests check against).

    from demos.domains import DETECTION
    verdict = shared.domain.judge(picture, DETECTION)
    if not verdict.in_domain: ...show verdict.sentence...

The reference statistics ship in `domains.json`, written by `python -m demos.domains`
(about a minute on two cores); a test recomputes them and checks the file still matches.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from PIL import Image

from demos.cyclegan import data as cyclegan_data
from demos.cyclegan.registry import BUNDLED_NAMES
from demos.detection import data as detection_data
from demos.pose import data as pose_data
from shared.domain import Domain, Verdict, summarise

SUMMARY_FILE = Path(__file__).with_name("domains.json")

GREY = ("This picture has no colour (a grayscale photo, a scan or a line drawing); {models} only saw "
        "brightly coloured generated scenes, so {consequence}.")


def _detection_scene(i: int) -> Image.Image:
    # The bundled detectors' scenes (1-8 objects) and the experiment's fixed counts, in turn.
    objects = None if i % 9 == 0 else i % 9
    return detection_data.make_scene(detection_data.split_seed("train", i), objects=objects)[0]


def _pose_scene(i: int) -> Image.Image:
    return pose_data.make_scene(pose_data.split_seed("train", i))[0]


def _cyclegan_scene(pair: str, side: str):
    def scene(i: int) -> Image.Image:
        # The stream each side trains on, at the size the tab's examples have.
        s = cyclegan_data.make_scene(pair, f"train_{side}", i, cyclegan_data.HELDOUT_SIZE)
        return Image.fromarray((getattr(s, side) * 255).round().astype(np.uint8))

    return scene


DETECTION = Domain(
    "detection",
    _detection_scene,
    on_photo=("This looks like a photo. The bundled detectors were trained only on generated shapes "
              "(circles, squares, triangles, stars, crosses), so on a photo they label shapes they "
              "imagine; the pretrained COCO models are the ones for photos."),
    on_grey=GREY.format(models="the bundled detectors",
                        consequence="their boxes here are guesses"),
)
POSE = Domain(
    "pose",
    _pose_scene,
    on_photo=("This looks like a photo. The bundled pose models were trained only on generated stick "
              "figures, so on a photo they draw skeletons that are not there; Keypoint R-CNN and "
              "OpenPose are the models for photos."),
    on_grey=GREY.format(models="the bundled pose models",
                        consequence="their skeletons here are guesses"),
)

# (pair, "a" | "b") -> the domain of that side of the pair, for each pair with bundled models.
CYCLEGAN: dict[tuple[str, str], Domain] = {}
for _pair in sorted({pair for pair, _ in BUNDLED_NAMES}, key=cyclegan_data.PAIRS.index):
    for _side, _what in zip("ab", cyclegan_data.DOMAINS[_pair], strict=True):
        CYCLEGAN[(_pair, _side)] = Domain(
            f"cyclegan-{_pair}-{_side}",
            _cyclegan_scene(_pair, _side),
            on_photo=("This looks like a photo. This CycleGAN was trained only on generated scenes of "
                      f"{' and '.join(cyclegan_data.DOMAINS[_pair])}, so on a photo its output means "
                      "little; the official generators in the model list are the ones for photos."),
            on_grey=GREY.format(models="this CycleGAN", consequence="its output here means little"),
        )


def _with_summaries() -> None:
    """Attach the shipped summaries to the domains (a domain missing from the file, or drawn
    from a different number of scenes, computes its own on first use)."""
    global DETECTION, POSE
    shipped = json.loads(SUMMARY_FILE.read_text(encoding="utf-8")) if SUMMARY_FILE.is_file() else {}

    def attach(domain: Domain) -> Domain:
        entry = shipped.get(domain.name)
        if not entry or entry.get("scenes") != domain.reference_scenes:
            return domain
        return dataclasses.replace(domain, summary=entry["statistics"])

    DETECTION, POSE = attach(DETECTION), attach(POSE)
    for key, domain in CYCLEGAN.items():
        CYCLEGAN[key] = attach(domain)


_with_summaries()
ALL: tuple[Domain, ...] = (DETECTION, POSE, *CYCLEGAN.values())


def write_summaries(path: Path = SUMMARY_FILE) -> dict:
    """Recompute every domain's summary from its training scenes and write them to `path`."""
    out = {d.name: {"scenes": d.reference_scenes, "statistics": summarise(d)} for d in ALL}
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return out


def cyclegan_domain_name(pair: str, side: str) -> str:
    """"plain objects", "striped objects", "discs" or "squares"."""
    return cyclegan_data.DOMAINS[pair]["ab".index(side)]


__all__ = ["ALL", "CYCLEGAN", "DETECTION", "POSE", "Verdict", "cyclegan_domain_name", "write_summaries"]

if __name__ == "__main__":
    for name, entry in write_summaries().items():
        print(name, {k: round(v["max"], 4) for k, v in entry["statistics"].items()})
    print(f"wrote {SUMMARY_FILE}")
