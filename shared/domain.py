"""Is a picture like the scenes a bundled model was trained on?

The bundled models learnt from generated scenes only, and say nothing useful about a
photo: the detector labels shapes it imagines, the pose models draw skeletons that are
not there. This module tells such inputs apart from a generator's own scenes with a few
image statistics, cheap enough to run on every request (about 15 ms for a 128 px scene and
110 ms for a photo, measured on this 2-core machine while it was busy with other work).

What every generator in this project draws (detection shapes, pose stick figures, the
CycleGAN pairs): a background that blends two colours along one smooth scalar field
(a gradient, bicubic blotches, one or two sinusoidal gratings), flat-coloured shapes,
outlines and limbs drawn over it, and, for detection and pose, white Gaussian noise of
one standard deviation for the whole picture. Three consequences, one statistic each:

- `uneven`: the finest-scale activity (Haar HH coefficients) is the same everywhere.
  Noise of one sigma covers the whole scene, flat shapes add nothing, edges are too
  thin to move a block's median, and even a grating is the same in every block. In a
  photo it varies from place to place: texture sits on the objects (fur, wood, fabric)
  and not on the sky or the blurred background, and a camera's noise grows with
  brightness. Measured as the share of 16x16 blocks whose median activity is more
  than twice the picture's typical block.
- `busy`: every pixel of a generated scene is, within the noise, equal to a neighbour,
  on a line between two opposite neighbours (a smooth background or an anti-aliased
  edge), or a mix of them. Dense texture in a photo breaks all of these at once; the
  generators only do so at corners and dots. Measured as the share of pixels that fit
  none.
- `chroma`: backgrounds and shapes take random RGB colours, so a training scene is
  never grey; a grayscale photo, a scan or a line drawing has no colour at all.

A picture is out of the domain when a statistic leaves the range it takes on the
domain's own training scenes (computed on first use from ~200 scenes, then cached)
by a margin. The same statistics, plus three for the CycleGAN pairs (`stripes`, the
spectral energy at the stripes' 8 px period; `axis`, the share of edge energy at
horizontal and vertical orientations, which squares have and discs do not; `across`,
where the edges sit from left to right), say which of two domains a picture is closer
to (`closer`): the statistic that best separates their training scenes decides.

Limits, measured here: the rule reads a scene as the generator writes it (PNG, its own
size). Re-saved as JPEG (quality 90) about half of 40 pose or detection scenes read as
photos, because JPEG removes the noise unevenly, exactly as a camera pipeline does; 2x
bicubic enlargement flags a fifth to a third (its ringing). A photo shrunk to a 128 px thumbnail
can pass (3 of 11 did).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

# px; larger pictures are measured at this size. A photo stays a photo (all eleven tried here
# are flagged from 256 px up); measured on this loaded 2-core machine, a photo costs about
# 50 ms at 256 px, 110 ms at 384 px and 140 ms at 512 px.
WORKING_SIDE = 384
BLOCK = 8  # Haar coefficients per block side: 16x16 pixels
UNEVEN_RATIO = 2.0  # a block is uneven when its median activity is over twice the typical block's
ACTIVITY_FLOOR = 1.0  # grey levels; noise-free scenes still have 8-bit rounding
GREY_FLOOR = 6.0  # grey levels; differences below this are never evidence of texture
CHI2_3_999 = 16.27  # 99.9 % quantile of chi-squared with 3 degrees of freedom (one per channel)
STRIPE_PERIOD = 8.0  # px; the CycleGAN texture pair's stripes (demos.cyclegan.data.STRIPE_PERIOD)

# How far past the training scenes' range a statistic must be before it counts, and the
# least it must then be: a domain whose scenes never have an uneven block still needs a
# few uneven blocks (not one) to call a picture a photo.
MARGIN = {"uneven": 1.5, "busy": 2.0, "chroma": 0.4}
FLOOR = {"uneven": 0.05, "busy": 0.004}

STATISTICS = ("uneven", "busy", "chroma", "noise", "stripes", "axis", "across")


def _rgb(image: Image.Image) -> np.ndarray:
    """(H, W, 3) float64 in 0..255, at most WORKING_SIDE on the longer side, even sides."""
    img = image.convert("RGB")
    if max(img.size) > WORKING_SIDE:
        img = img.copy()
        img.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)  # area average: no new detail
    x = np.asarray(img, dtype=np.float64)
    return x[: x.shape[0] // 2 * 2, : x.shape[1] // 2 * 2]


def _haar_hh(x: np.ndarray) -> np.ndarray:
    """The diagonal detail of a one-level Haar transform: (H, W, C) -> (H/2, W/2, C).

    It responds to neither flat areas nor straight ramps, so on a generated scene it is
    the added noise alone, except along edges."""
    return 0.5 * (x[0::2, 0::2] - x[1::2, 0::2] - x[0::2, 1::2] + x[1::2, 1::2])


def _noise_sigma(hh: np.ndarray) -> float:
    """Donoho's estimate of white noise: median |HH| / 0.6745 (edges are too few to move it)."""
    return float(np.median(np.abs(hh)) / 0.6745)


def _uneven(hh: np.ndarray) -> float:
    activity = np.abs(hh).max(axis=2)  # (H/2, W/2): the strongest channel
    h, w = activity.shape[0] // BLOCK * BLOCK, activity.shape[1] // BLOCK * BLOCK
    if h == 0 or w == 0:
        return 0.0
    blocks = activity[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK)  # (by, 8, bx, 8)
    medians = np.median(blocks.transpose(0, 2, 1, 3).reshape(-1, BLOCK * BLOCK), axis=1)  # (by * bx,)
    typical = max(float(np.median(medians)), ACTIVITY_FLOOR)
    return float((medians > UNEVEN_RATIO * typical).mean())


def _busy(x: np.ndarray, sigma: float) -> float:
    x = x.astype(np.float32)
    h, w = x.shape[:2]
    pad = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")

    def shifted(dy: int, dx: int) -> np.ndarray:
        return pad[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    # 99.9 % of what noise alone gives: the difference of two noisy pixels has variance
    # 2 sigma^2 per channel, a pixel against the mean of two others 1.5 sigma^2.
    same = 2.0 * sigma**2 * CHI2_3_999 + GREY_FLOOR**2
    between = 1.5 * sigma**2 * CHI2_3_999 + GREY_FLOOR**2
    explained = np.zeros((h, w), bool)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        to_a = x - shifted(dy, dx)  # (H, W, 3): from the neighbour on one side ...
        to_b = x - shifted(-dy, -dx)  # ... and on the other
        na, nb = (to_a * to_a).sum(axis=2), (to_b * to_b).sum(axis=2)
        explained |= np.minimum(na, nb) <= same
        # The nearest point of the segment a..b: a smooth background (its midpoint) or a
        # pixel that mixes the colours on either side of an anti-aliased edge.
        ab = to_a - to_b  # b - a
        nab = np.maximum((ab * ab).sum(axis=2), 1e-6)
        along = (to_a * ab).sum(axis=2)
        t = np.clip(along / nab, 0.0, 1.0)
        explained |= na - 2 * t * along + t * t * nab <= between
    return float(1.0 - explained.mean())


def _chroma(x: np.ndarray) -> float:
    """90th percentile of each pixel's distance from the grey axis, after 2x2 averaging (noise / 2)."""
    half = 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])  # (H/2, W/2, 3)
    grey = half.mean(axis=2, keepdims=True)
    return float(np.percentile(np.linalg.norm(half - grey, axis=2), 90))


def _stripes(x: np.ndarray) -> float:
    """Share of the luma's non-smooth spectral energy at the stripes' period (any orientation)."""
    luma = x.mean(axis=2)
    power = np.abs(np.fft.rfft2(luma - luma.mean())) ** 2  # (H, W/2 + 1)
    fy = np.fft.fftfreq(luma.shape[0])[:, None]
    fx = np.fft.rfftfreq(luma.shape[1])[None, :]
    radius = np.hypot(fy, fx)  # cycles per pixel
    ring = (radius > 0.8 / STRIPE_PERIOD) & (radius < 1.25 / STRIPE_PERIOD)
    return float(power[ring].sum() / max(float(power[radius > 0.02].sum()), 1e-9))


def _edges(x: np.ndarray) -> tuple[float, float]:
    """(axis, across) of the strong edges (at least 20 grey levels per pixel):

    axis: the share of their energy oriented within 15 degrees of horizontal or vertical
    (squares' sides are, discs' are not); across: where their energy sits from the left
    (0) to the right (1) edge of the picture (0.5: evenly spread)."""
    gx = np.zeros_like(x)
    gy = np.zeros_like(x)
    gx[:, 1:-1] = (x[:, 2:] - x[:, :-2]) / 2
    gy[1:-1] = (x[2:] - x[:-2]) / 2
    jxx, jyy, jxy = (gx * gx).sum(axis=2), (gy * gy).sum(axis=2), (gx * gy).sum(axis=2)  # (H, W) each
    strength = jxx + jyy
    twice_angle = np.arctan2(2 * jxy, jxx - jyy)  # the colour gradient's orientation, doubled
    weight = strength * (strength > 400.0)
    total = max(float(weight.sum()), 1e-9)
    aligned = np.abs(np.sin(twice_angle)) < np.sin(np.radians(30))
    columns = (np.arange(x.shape[1]) + 0.5) / x.shape[1]  # (W,) in 0..1
    return float((weight * aligned).sum() / total), float((weight.sum(axis=0) * columns).sum() / total)


def measure(image: Image.Image) -> dict[str, float]:
    """Every statistic of `image` (see the module's docstring), as plain floats."""
    x = _rgb(image)
    hh = _haar_hh(x)
    sigma = _noise_sigma(hh)
    axis, across = _edges(x)
    return {
        "uneven": _uneven(hh),
        "busy": _busy(x, sigma),
        "chroma": _chroma(x),
        "noise": sigma,
        "stripes": _stripes(x),
        "axis": axis,
        "across": across,
    }


@dataclass(frozen=True)
class Domain:
    """The scenes a bundled model was trained on, and how to say that a picture is not one.

    `scene(i)` draws training scene `i`. The sentences are shown beside a result:
    `on_photo` when a picture looks like a photo, `on_grey` when it has no colour.
    `summary`, when given, is `summarise(domain)` computed earlier (a file shipped with
    the code, checked by a test), so that no request waits for 200 scenes to be drawn.
    """

    name: str
    scene: Callable[[int], Image.Image]
    on_photo: str
    on_grey: str
    reference_scenes: int = 200
    summary: dict[str, dict[str, float]] | None = field(default=None, compare=False, repr=False)


SUMMARY_KEYS = ("min", "p01", "median", "p99", "max", "std")


def summarise(domain: Domain) -> dict[str, dict[str, float]]:
    """Each statistic over the domain's first `reference_scenes` training scenes: its range,
    1st, 50th and 99th percentiles and standard deviation."""
    rows = [measure(domain.scene(i)) for i in range(domain.reference_scenes)]
    out = {}
    for name in STATISTICS:
        v = np.array([r[name] for r in rows])
        out[name] = {"min": float(v.min()), "p01": float(np.percentile(v, 1)),
                     "median": float(np.median(v)), "p99": float(np.percentile(v, 99)),
                     "max": float(v.max()), "std": float(v.std())}
    return out


@dataclass(frozen=True)
class Reference:
    """A domain's `summarise` result, and the limits it sets."""

    summary: dict[str, dict[str, float]]

    def limits(self) -> dict[str, float]:
        """Where out of the domain starts: above for uneven and busy, below for chroma."""
        s = self.summary
        return {
            "uneven": max(s["uneven"]["max"] * MARGIN["uneven"], FLOOR["uneven"]),
            "busy": max(s["busy"]["max"] * MARGIN["busy"], FLOOR["busy"]),
            "chroma": s["chroma"]["min"] * MARGIN["chroma"],
        }


_REFERENCES: dict[str, Reference] = {}
_LOCK = threading.Lock()


def reference(domain: Domain) -> Reference:
    """The domain's reference: its shipped summary, else computed once per process."""
    with _LOCK:
        if domain.name not in _REFERENCES:
            _REFERENCES[domain.name] = Reference(domain.summary or summarise(domain))
        return _REFERENCES[domain.name]


@dataclass(frozen=True)
class Verdict:
    """What `judge` found: in the domain or not, what the picture looks like, and why."""

    domain: str
    in_domain: bool
    looks_like: str  # "scene" (like the training scenes), "photo" or "grey"
    sentence: str  # empty when in the domain
    statistics: dict[str, float] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"domain": self.domain, "in_domain": self.in_domain, "looks_like": self.looks_like,
                "sentence": self.sentence,
                "statistics": {k: round(v, 4) for k, v in self.statistics.items()},
                "limits": {k: round(v, 4) for k, v in self.limits.items()}}


def _given(image: Image.Image | None) -> Image.Image:
    if image is None:
        raise ValueError("Give an image, or its statistics from measure().")
    return image


def judge(image: Image.Image | None, domain: Domain, stats: dict[str, float] | None = None) -> Verdict:
    """Is `image` like `domain`'s training scenes? (`stats`: `measure(image)`, if already known.)"""
    stats = measure(_given(image)) if stats is None else stats
    limits = reference(domain).limits()
    # No colour first: a grayscale photo or a line drawing is better described that way.
    if stats["chroma"] < limits["chroma"]:
        looks_like, sentence = "grey", domain.on_grey
    elif stats["uneven"] > limits["uneven"] or stats["busy"] > limits["busy"]:
        looks_like, sentence = "photo", domain.on_photo
    else:
        looks_like, sentence = "scene", ""
    return Verdict(domain.name, looks_like == "scene", looks_like, sentence, stats, limits)


def separating_statistic(a: Domain, b: Domain) -> tuple[str, float, bool]:
    """The statistic that best tells `a`'s scenes from `b`'s, the threshold between them, and
    whether `a` lies above it. Chosen on the training scenes: the widest gap between the
    upper range's 1st percentile and the lower range's 99th, in units of their spread
    (the sum of their standard deviations)."""
    sa, sb = reference(a).summary, reference(b).summary
    best: tuple[float, str, float, bool] | None = None
    for name in STATISTICS:
        a_above = sa[name]["median"] > sb[name]["median"]
        hi, lo = (sa[name], sb[name]) if a_above else (sb[name], sa[name])
        spread = hi["std"] + lo["std"] + 1e-9
        score = (hi["p01"] - lo["p99"]) / spread
        if best is None or score > best[0]:
            # Between the two ranges, nearer the tighter one, as a boundary between two
            # bell curves of different widths would be.
            threshold = lo["p99"] + (hi["p01"] - lo["p99"]) * lo["std"] / spread
            best = (score, name, threshold, a_above)
    assert best is not None
    return best[1], best[2], best[3]


def closer(image: Image.Image | None, a: Domain, b: Domain, stats: dict[str, float] | None = None) -> Domain:
    """Which of two domains (a CycleGAN pair's A and B) `image` resembles more."""
    stats = measure(_given(image)) if stats is None else stats
    name, threshold, a_above = separating_statistic(a, b)
    return a if (stats[name] > threshold) == a_above else b
