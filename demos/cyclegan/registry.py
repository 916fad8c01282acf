"""The CycleGAN tab's models: the bundled generators and the authors' published ones.

Each registered model is one generator, i.e. one translation direction, because that
is what a request runs. The bundled pair files hold both directions of an experiment
(`G_AB.*`, `G_BA.*`); a spec's `convert` picks its half, so the loader still loads a
plain state dict strictly into a `ResnetGenerator`.

The official generators are the files the authors publish for their
pytorch-CycleGAN-and-pix2pix code (scripts/download_cyclegan_model.sh fetches them
from the same URL), each a 9-block, 64-wide ResNet generator: 11,378,179 fp32
parameters, about 45.5 MB. Images go in and come out scaled to [-1, 1].
"""

from __future__ import annotations

import json
from functools import partial

from demos.cyclegan.data import DOMAINS
from demos.cyclegan.model import (
    BUNDLED,
    OFFICIAL,
    ResnetGenerator,
    convert_official,
    official_generator,
    read_metadata,
    select_direction,
)
from shared.registry import BundledFile, ModelSpec, UrlFile, add_phrases, phrase, register

DEMO = "cyclegan"
PAPER = (
    "Zhu et al. 2017, Unpaired Image-to-Image Translation using Cycle-Consistent "
    "Adversarial Networks, arXiv:1703.10593"
)
OFFICIAL_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{name}.pth"
OFFICIAL_MB = 45.5  # 11,378,179 fp32 parameters plus the pickle container

# name -> what it translates. The authors publish no checksums and no stable mirror
# (Hugging Face copies are re-trainings or re-uploads by third parties), so the
# files are identified by URL. A verified SHA-256 goes into `OFFICIAL_SHA256`, where
# the loader then checks it after every transfer.
OFFICIAL_MODELS = {
    "horse2zebra": "horse → zebra (ImageNet photos)",
    "zebra2horse": "zebra → horse (ImageNet photos)",
    "summer2winter_yosemite": "Yosemite in summer → in winter (Flickr)",
    "winter2summer_yosemite": "Yosemite in winter → in summer (Flickr)",
    "monet2photo": "Monet painting → photo",
    "style_monet": "photo → Monet painting",
    "style_vangogh": "photo → Van Gogh painting",
    "style_ukiyoe": "photo → Ukiyo-e print",
    "style_cezanne": "photo → Cézanne painting",
    "apple2orange": "apple → orange (ImageNet photos)",
    "orange2apple": "orange → apple (ImageNet photos)",
}
OFFICIAL_SHA256: dict[str, str] = {}  # to be filled from a verified download; none is known yet

# (pair, direction) -> registered name; "plain2striped" reads like the authors' "horse2zebra".
BUNDLED_NAMES = {
    ("texture", "AB"): "cyclegan-plain2striped",
    ("texture", "BA"): "cyclegan-striped2plain",
    ("geometry", "AB"): "cyclegan-disc2square",
    ("geometry", "BA"): "cyclegan-square2disc",
}
# The position pair joins the tab once its checkpoint exists: the training command
# (python -m demos.cyclegan.train --pair position) writes checkpoints/cyclegan_position.safetensors.
if BundledFile("cyclegan_position.safetensors").path.is_file():
    BUNDLED_NAMES |= {("position", "AB"): "cyclegan-left2right", ("position", "BA"): "cyclegan-right2left"}


# The reference metrics' words, values at [name] (shared.registry.phrase: the Models tab says them
# in the page's language).
add_phrases(DEMO, {
    "bundled_metric": "structure kept: edge F [edge]; texture change (Gram) [gram] vs [target] for the true "
                      "target; cycle L1 [cycle] (generated held-out scenes, measured here)",
    "official_metric": "qualitative results in the paper (Figs. 1, 10-16); no single score",
})


def bundled_name(pair: str, direction: str) -> str:
    return BUNDLED_NAMES[(pair, direction)]


def official_name(name: str) -> str:
    return f"cyclegan-{name}"


def _bundled_generator() -> ResnetGenerator:
    return ResnetGenerator(ngf=BUNDLED.ngf, n_blocks=BUNDLED.n_blocks)


def _bundled_metric(filename: str, direction: str) -> dict:
    """{"reference_metric": its phrase}, or {} when the file holds no metrics."""
    try:
        metrics = json.loads(read_metadata(BundledFile(filename).path).get("metrics", "{}"))[direction]
    except Exception:  # a missing or older file is reported by the loader, not here
        return {}
    return {"reference_metric": phrase(
        "cyclegan.bundled_metric", edge=f"{metrics['structure_edge_f']:.2f}",
        gram=f"{metrics['texture_gram']:.3f}", target=f"{metrics['target_texture_gram']:.3f}",
        cycle=f"{metrics['cycle_l1']:.3f}")}


for (_pair, _direction), _name in BUNDLED_NAMES.items():
    _file = f"cyclegan_{_pair}.safetensors"
    _src, _dst = DOMAINS[_pair] if _direction == "AB" else DOMAINS[_pair][::-1]
    register(
        ModelSpec(
            name=_name,
            demo=DEMO,
            task=f"image translation ({_src} → {_dst})",
            tier="bundled",
            weights=BundledFile(_file),
            build=_bundled_generator,
            size_mb=0.5,  # both directions, fp16
            licence="MIT",
            paper=PAPER,
            phrases=_bundled_metric(_file, _direction),
            description=f"Small CycleGAN generator trained here on generated scenes: {_src} → {_dst}.",
            convert=partial(select_direction, direction=_direction),
            extra={
                "pair": _pair,
                "direction": _direction,
                "source": _src,
                "target": _dst,
                "ngf": BUNDLED.ngf,
                "n_blocks": BUNDLED.n_blocks,
            },
        )
    )

for _key, _what in OFFICIAL_MODELS.items():
    register(
        ModelSpec(
            name=official_name(_key),
            demo=DEMO,
            task=f"image translation ({_what})",
            tier="pretrained",
            weights=UrlFile(OFFICIAL_URL.format(name=_key), sha256=OFFICIAL_SHA256.get(_key)),
            build=official_generator,
            size_mb=OFFICIAL_MB,
            licence="BSD (pytorch-CycleGAN-and-pix2pix)",
            paper=PAPER,
            phrases={"reference_metric": phrase("cyclegan.official_metric")},
            description=f"The authors' published generator: {_what}.",
            convert=convert_official,
            extra={"official": _key, "ngf": OFFICIAL.ngf, "n_blocks": OFFICIAL.n_blocks},
        )
    )


def cyclegan_names(tier: str | None = None) -> list[str]:
    from shared.registry import names

    return names(DEMO, tier)  # type: ignore[arg-type]
