"""Deep Compression on any of our networks: prune, share, fine-tune, Huffman-code.

Model code only (no Gradio). For every convolution and linear layer:

1. **prune** the smallest-magnitude weights to a chosen sparsity (`torch.nn.utils.prune`);
2. **share** the remaining ones: k-means in one dimension, so each weight becomes an index
   into a codebook of k centroids (linear, random or density-based initialisation, as
   Han et al. 2016 compare);
3. **fine-tune** the centroids on the model's own training loss: each weight is
   `codebook[index]`, so autograd's backward through that gather *sums* the gradients of
   all weights of a cluster into its centroid, which is exactly the paper's update;
4. optionally **Huffman-code** the indices (and sparse positions), `huffman_*` below;
   the file format itself is `codec`.

k-means is a dozen lines of torch here rather than scikit-learn's KMeans: in one dimension
the nearest centroid is a `bucketize` against the midpoints of the sorted centroids, so
each Lloyd iteration is O(n log k), and the suite needs no new dependency for it.
"""

from __future__ import annotations

import copy
import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize, prune

from shared.templates import fill
from shared.validation import MESSAGES as NUMBER
from shared.validation import BadInput, finite

from .errors import MESSAGES, NAMES

INITS = ("linear", "random", "density")
K_RANGE = (2, 256)
MAX_SPARSITY = 0.99
Progress = Callable[[float, str], None]


def quiet(fraction: float, message: str) -> None:
    """The default progress callback: report nothing."""


@dataclass
class SharedLayer:
    """One layer after pruning and weight sharing: what the file stores for it."""

    name: str  # the weight's key in the state dict, e.g. "backbone.stem.0.weight"
    shape: tuple[int, ...]
    mask: torch.Tensor | None  # (numel,) bool, True where a weight is kept; None: nothing pruned
    labels: torch.Tensor  # (kept,) int64, the cluster of each kept weight, in flattened order
    codebook: torch.Tensor  # (k,) float32 centroids
    original: torch.Tensor = field(repr=False, default_factory=lambda: torch.empty(0))  # before compression

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def kept(self) -> int:
        return int(self.labels.numel())

    @property
    def k(self) -> int:
        return int(self.codebook.numel())

    @property
    def index_bits(self) -> int:
        """Bits of one cluster index when packed at a fixed width."""
        return max(1, math.ceil(math.log2(self.k)))

    def full_index(self) -> torch.Tensor:
        """(numel,) int64: each weight's cluster, or k (a fixed zero) where pruned."""
        if self.mask is None:
            return self.labels
        full = torch.full((self.numel,), self.k, dtype=torch.int64)
        full[self.mask] = self.labels
        return full

    def weight(self) -> torch.Tensor:
        """The dense weight the layer computes with: codebook values, zeros where pruned."""
        table = torch.cat([self.codebook, self.codebook.new_zeros(1)])
        return table[self.full_index()].view(self.shape)


def compressible(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(state-dict prefix, module) of every convolution and linear layer, in model order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


# ---------------------------------------------------------------- k-means in one dimension


def initial_centroids(values: torch.Tensor, k: int, init: str, seed: int = 0) -> torch.Tensor:
    """k starting centroids: evenly spaced values (linear), k of the weights (random, "Forgy"),
    or evenly spaced quantiles (density: dense where the weights are)."""
    if init == "linear":
        return torch.linspace(float(values.min()), float(values.max()), k)
    if init == "random":
        gen = torch.Generator().manual_seed(seed)
        return values[torch.randperm(values.numel(), generator=gen)[:k]].sort().values
    if init == "density":
        return torch.quantile(values, torch.linspace(0, 1, k, dtype=values.dtype))
    raise BadInput(fill(MESSAGES["unknown_init"], name=repr(init), known=", ".join(INITS)))


def kmeans1d(values: torch.Tensor, k: int, init: str = "linear", iters: int = 100,
             seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on a 1-D tensor: (centroids (k',), labels (n,)), k' = min(k, distinct values).

    In one dimension each cluster is a run of the sorted values between the midpoints of
    neighbouring centroids, so an iteration only searches k - 1 midpoints in the sorted
    values and takes each cluster's sum from a prefix sum: O(k log n), not O(n k).
    """
    values = values.detach().float().reshape(-1)  # (n,)
    distinct = torch.unique(values)
    k = min(k, distinct.numel())
    if k == distinct.numel():  # as many clusters as values: each value is its own centroid
        return distinct, torch.bucketize(values, distinct)
    ordered = values.sort().values
    prefix = torch.cat([torch.zeros(1, dtype=torch.float64), ordered.double().cumsum(0)])  # (n + 1,)
    centroids = initial_centroids(values, k, init, seed).sort().values
    cuts = None
    for _ in range(iters):
        # Values up to each midpoint go to the cluster below it (as bucketize assigns them).
        new = torch.searchsorted(ordered, (centroids[1:] + centroids[:-1]) / 2, right=True)  # (k - 1,)
        if cuts is not None and torch.equal(new, cuts):
            break
        cuts = new
        bounds = torch.cat([cuts.new_zeros(1), cuts, cuts.new_full((1,), len(ordered))])  # (k + 1,)
        counts = bounds[1:] - bounds[:-1]
        sums = prefix[bounds[1:]] - prefix[bounds[:-1]]
        # An empty cluster keeps its old centroid (it may win values back later).
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids.double()).float()
        centroids = centroids.sort().values
    return centroids, torch.bucketize(values, (centroids[1:] + centroids[:-1]) / 2)


# ---------------------------------------------------------------- prune and share


def prune_mask(module: nn.Module, sparsity: float) -> torch.Tensor | None:
    """Zero the smallest |w| of `module.weight` with torch's pruning; the kept mask, flattened."""
    if sparsity <= 0:
        return None
    prune.l1_unstructured(module, name="weight", amount=sparsity)
    mask = module.weight_mask.detach().reshape(-1).bool().clone()  # (numel,)
    prune.remove(module, "weight")  # make the zeros permanent, drop the re-parametrisation
    return mask


def prune_and_retrain(model: nn.Module, sparsity: float, loss_fn: Callable[[nn.Module, int], torch.Tensor],
                      steps: int, lr: float = 1e-4, progress: Progress = quiet) -> nn.Module:
    """A copy of `model` pruned by magnitude, its kept weights retrained for `steps` steps.

    Deep Compression retrains the network after pruning, before it shares weights: the kept
    weights move to make up for the removed ones. torch's pruning keeps `weight = weight_orig *
    mask`, so the gradient of a pruned weight is zero and it stays pruned while the rest train.
    Batch-norm statistics stay frozen (eval mode), as in `fine_tune`. Compressing the result
    at the same sparsity prunes the same weights (they are the zeros, the smallest |w|).
    """
    model = copy.deepcopy(model).cpu().eval()
    if sparsity <= 0 or steps <= 0:
        return model
    targets = compressible(model)
    for _, module in targets:
        prune.l1_unstructured(module, name="weight", amount=sparsity)
    try:
        _train(model, [p for p in model.parameters() if p.requires_grad], loss_fn, steps, lr, progress,
               "retraining the kept weights")
    finally:
        for _, module in targets:
            prune.remove(module, "weight")  # weight = weight_orig * mask, made permanent
        model.eval()
    return model


def check_settings(k: int, sparsity: float, init: str) -> tuple[int, float, str]:
    """The settings as (int, float, str), or `BadInput` saying which one is wrong."""
    k_value = finite(k, NAMES["k"], low=K_RANGE[0], high=K_RANGE[1])
    if not k_value.is_integer():
        raise BadInput(fill(NUMBER["whole"], name=NAMES["k"], value=k))
    sparsity = finite(sparsity, NAMES["sparsity"], low=0.0, high=MAX_SPARSITY)
    if init not in INITS:
        raise BadInput(fill(MESSAGES["unknown_init"], name=repr(init), known=", ".join(INITS)))
    return int(k_value), sparsity, init


@dataclass
class Compressed:
    model: nn.Module  # a copy of the original whose layers compute with the shared weights
    layers: list[SharedLayer]
    k: int
    sparsity: float
    init: str
    seconds: dict[str, float] = field(default_factory=dict)  # time per stage


def compress(model: nn.Module, k: int = 16, sparsity: float = 0.0, init: str = "linear", seed: int = 0,
             progress: Progress = quiet) -> Compressed:
    """Prune and weight-share every convolution and linear layer of a copy of `model`."""
    k, sparsity, init = check_settings(k, sparsity, init)
    model = copy.deepcopy(model).cpu().eval()
    targets = compressible(model)
    layers, timing = [], {"prune": 0.0, "kmeans": 0.0}
    for i, (name, module) in enumerate(targets):
        progress(i / len(targets), f"k-means on {name} ({module.weight.numel():,} weights)")
        original = module.weight.detach().clone()
        t0 = time.perf_counter()
        mask = prune_mask(module, sparsity)
        t1 = time.perf_counter()
        flat = module.weight.detach().reshape(-1)  # (numel,)
        kept = flat if mask is None else flat[mask]
        codebook, labels = kmeans1d(kept, k, init, seed=seed + i)
        timing["kmeans"] += time.perf_counter() - t1
        timing["prune"] += t1 - t0
        layer = SharedLayer(f"{name}.weight", tuple(original.shape), mask, labels, codebook, original)
        with torch.no_grad():
            module.weight.copy_(layer.weight())
        layers.append(layer)
    return Compressed(model, layers, k, sparsity, init, timing)


# ---------------------------------------------------------------- fine-tuning the centroids


class _SharedWeight(nn.Module):
    """A weight computed as codebook[index]: its gradient reaches the codebook summed per cluster."""

    def __init__(self, layer: SharedLayer) -> None:
        super().__init__()
        self.codebook = nn.Parameter(layer.codebook.clone())
        self.register_buffer("index", layer.full_index())

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        table = torch.cat([self.codebook, self.codebook.new_zeros(1)])  # index k: a pruned weight, always 0
        return table[self.index].view_as(original)


def _train(model: nn.Module, params: list[torch.Tensor], loss_fn: Callable[[nn.Module, int], torch.Tensor],
           steps: int, lr: float, progress: Progress, what: str) -> list[float]:
    """`steps` Adam steps on `params` with a cosine schedule (large steps first, then settle);
    batch-norm statistics stay frozen (eval mode), as the model was trained to use them. The
    caller restores the model afterwards. Returns the losses."""
    optimiser = torch.optim.Adam(params, lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    losses = []
    for step in range(steps):
        loss = loss_fn(model, step)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        progress((step + 1) / steps, f"{what}: step {step + 1}/{steps}, loss {losses[-1]:.3f}")
    return losses


def fine_tune(c: Compressed, loss_fn: Callable[[nn.Module, int], torch.Tensor], steps: int,
              lr: float = 1e-4, progress: Progress = quiet, dense: bool = False) -> list[float]:
    """Train the centroids for `steps` steps of `loss_fn(model, step)`; returns the losses.

    With `dense`, the parameters that are not shared (biases, norm scales and shifts) train
    too. Batch-norm statistics stay frozen (eval mode), as the model was trained to use them.
    """
    if steps <= 0:
        return []
    modules = dict(c.model.named_modules())
    shared = []
    for layer in c.layers:
        module = modules[layer.name.removesuffix(".weight")]
        param = _SharedWeight(layer)
        parametrize.register_parametrization(module, "weight", param)
        shared.append(param)
    for p in c.model.parameters():
        p.requires_grad_(False)
    codebooks = [s.codebook for s in shared]
    extra = [p for n, p in c.model.named_parameters() if "parametrizations" not in n] if dense else []
    for p in codebooks + extra:
        p.requires_grad_(True)
    t0 = time.perf_counter()
    try:
        # gather's backward: each centroid gets the sum of its cluster's gradients
        losses = _train(c.model, codebooks + extra, loss_fn, steps, lr, progress, "fine-tuning")
    finally:
        for layer, param in zip(c.layers, shared, strict=True):
            layer.codebook = param.codebook.detach().clone()
            parametrize.remove_parametrizations(modules[layer.name.removesuffix(".weight")], "weight",
                                                leave_parametrized=True)
        for p in c.model.parameters():
            p.requires_grad_(True)
        c.model.eval()
    c.seconds["fine_tune"] = time.perf_counter() - t0
    return losses


# ---------------------------------------------------------------- Huffman coding


def huffman_lengths(counts: np.ndarray) -> np.ndarray:
    """Code length in bits of each symbol from its count (0 for symbols that never occur)."""
    counts = np.asarray(counts, dtype=np.int64)
    lengths = np.zeros(len(counts), dtype=np.int64)
    present = [int(s) for s in np.flatnonzero(counts)]
    if len(present) == 1:  # one symbol still needs one bit per occurrence
        lengths[present[0]] = 1
        return lengths
    # Heap items: (count, tie-breaker, symbols below this node); merging the two rarest
    # nodes adds one bit to the code of every symbol beneath them.
    heap = [(int(counts[s]), s, [s]) for s in present]
    heapq.heapify(heap)
    tie = len(counts)
    while len(heap) > 1:
        c1, _, s1 = heapq.heappop(heap)
        c2, _, s2 = heapq.heappop(heap)
        lengths[s1 + s2] += 1
        heapq.heappush(heap, (c1 + c2, tie, s1 + s2))
        tie += 1
    return lengths


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """The canonical code of each symbol (shorter codes first, then by symbol): lengths alone define it."""
    codes = np.zeros(len(lengths), dtype=np.int64)
    code, previous = 0, 0
    for s in sorted(np.flatnonzero(lengths), key=lambda s: (lengths[s], s)):
        code <<= int(lengths[s]) - previous
        codes[s], previous = code, int(lengths[s])
        code += 1
    return codes


def huffman_encode(symbols: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, int]:
    """(packed bytes, number of bits) of the symbols' codes, most significant bit first."""
    symbols = np.asarray(symbols, dtype=np.int64)
    codes, widths = canonical_codes(lengths)[symbols], lengths[symbols]
    total = int(widths.sum())
    owner = np.repeat(np.arange(len(symbols)), widths)  # (total,) which symbol each bit belongs to
    position = np.arange(total) - np.repeat(np.cumsum(widths) - widths, widths)  # bit number within the code
    bits = (codes[owner] >> (widths[owner] - 1 - position)) & 1
    return np.packbits(bits.astype(np.uint8)), total


def huffman_decode(data: np.ndarray, nbits: int, lengths: np.ndarray, count: int) -> np.ndarray:
    """The `count` symbols coded in the first `nbits` bits of `data` (inverse of huffman_encode)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if nbits > 8 * len(data) or not lengths.any():
        raise ValueError("a Huffman stream is shorter than its length, or has no code table")
    longest = int(lengths.max())
    if longest > 56:
        raise ValueError("a Huffman code is longer than 56 bits")
    bits = np.unpackbits(np.asarray(data, dtype=np.uint8))[:nbits].astype(np.int64)
    padded = np.concatenate([bits, np.zeros(longest, dtype=np.int64)])
    # The `longest` bits starting at every position, as one integer per position.
    window = np.zeros(nbits, dtype=np.int64)
    for j in range(longest):
        window = (window << 1) | padded[j:j + nbits]
    # Canonical codes, left-aligned to `longest` bits, sort like their symbols' order:
    # the code starting at a position is the last one whose left-aligned value is <= the window.
    order = np.asarray(sorted(np.flatnonzero(lengths), key=lambda s: (lengths[s], s)), dtype=np.int64)
    aligned = canonical_codes(lengths)[order] << (longest - lengths[order])
    which = np.searchsorted(aligned, window, side="right") - 1
    symbol_at = order[np.maximum(which, 0)]
    length_at = lengths[symbol_at].tolist()
    symbol_list = symbol_at.tolist()
    out, pos = [], 0
    for _ in range(count):  # each code's length tells where the next one starts
        if pos >= nbits:
            raise ValueError("the Huffman stream ends before all its symbols")
        out.append(symbol_list[pos])
        pos += length_at[pos]
    if pos != nbits:
        raise ValueError("the Huffman stream does not end where its length says")
    return np.asarray(out, dtype=np.int64)
