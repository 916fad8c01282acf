"""Deep Compression's parts: k-means, pruning, summed centroid gradients, Huffman coding, the file
format (bit-exact, refuses damage, never unpickles) and the detector's AP after sharing."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from demos.convolution import accuracy, codec, pipeline, targets
from demos.convolution.compress import (
    INITS,
    _SharedWeight,
    check_settings,
    compress,
    fine_tune,
    huffman_decode,
    huffman_encode,
    huffman_lengths,
    kmeans1d,
    prune_and_retrain,
)
from shared.images import BadInput


def _layer_weights(seed: int = 0) -> torch.Tensor:
    """A trained-looking weight distribution: peaked at 0 with heavy tails."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(20_000, generator=gen) * torch.rand(20_000, generator=gen) * 0.1


@pytest.mark.parametrize("init", INITS)
def test_kmeans_error_falls_as_k_grows(init):
    values = _layer_weights()
    errors = []
    for k in (2, 4, 8, 16, 64, 256):
        centroids, labels = kmeans1d(values, k, init)
        assert centroids.numel() <= k and labels.max() < centroids.numel()
        errors.append(float(((centroids[labels] - values) ** 2).mean()))
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False)), errors
    assert errors[-1] < errors[0] / 500  # random (Forgy) starts cover the tails worst


def test_kmeans_converges_to_nearest_centroid_assignments_and_cluster_means():
    values = _layer_weights(1)
    centroids, labels = kmeans1d(values, 8, "density")
    nearest = (values[:, None] - centroids[None]).abs().argmin(dim=1)
    assert (nearest == labels).float().mean() > 0.999  # ties at a midpoint may go either way
    for c in range(centroids.numel()):
        assert torch.isclose(values[labels == c].mean(), centroids[c], atol=1e-6)
    few = torch.tensor([0.5, -0.25, 0.5, 0.125])
    cents, labs = kmeans1d(few, 16)  # more clusters than distinct values: each value its own
    assert torch.equal(cents[labs], few) and cents.numel() == 3


def test_settings_outside_the_ranges_are_refused():
    for k, sparsity, init, message in ((1, 0.0, "linear", "between 2 and 256"), (257, 0.0, "linear", "k"),
                                       (16, 0.995, "linear", "sparsity"), (16, -0.1, "linear", "sparsity"),
                                       (16, float("nan"), "linear", "sparsity"),
                                       (16, 0.0, "kmeans++", "Unknown")):
        with pytest.raises(ValueError, match=message):
            check_settings(k, sparsity, init)


@pytest.fixture(scope="module")
def detector():
    return targets.original(targets.DETECTOR)


@pytest.mark.parametrize("sparsity", [0.3, 0.75])
def test_pruning_keeps_the_requested_share_and_drops_the_smallest(detector, sparsity):
    c = compress(detector, 16, sparsity)
    for layer in c.layers:
        assert layer.kept == layer.numel - round(sparsity * layer.numel)
        kept = layer.original.reshape(-1).abs()[layer.mask]
        dropped = layer.original.reshape(-1).abs()[~layer.mask]
        assert kept.min() >= dropped.max()
        weight = dict(c.model.named_parameters())[layer.name].detach().reshape(-1)
        assert torch.all(weight[~layer.mask] == 0) and len(torch.unique(weight[layer.mask])) <= 16
    assert all(torch.equal(p, q) for p, q in zip(detector.parameters(), targets.original(targets.DETECTOR)
                                                 .parameters(), strict=True))  # the original is untouched


def test_centroid_gradient_is_the_sum_of_its_clusters_weight_gradients():
    conv = nn.Conv2d(3, 4, 3)
    c = compress(nn.Sequential(conv), 4, 0.25)
    layer = c.layers[0]
    shared = _SharedWeight(layer)
    weight = shared(conv.weight)
    weight.retain_grad()
    x = torch.randn(2, 3, 6, 6)
    nn.functional.conv2d(x, weight).square().sum().backward()
    expected = torch.zeros(layer.k).index_add_(0, layer.labels, weight.grad.reshape(-1)[layer.mask])
    assert torch.allclose(shared.codebook.grad, expected, rtol=1e-5, atol=1e-6)


def test_fine_tuning_moves_only_the_centroids_and_keeps_the_sparsity():
    model = targets.original(targets.CYCLEGAN)
    c = compress(model, 8, 0.5)
    before = [layer.codebook.clone() for layer in c.layers]
    losses = fine_tune(c, targets.training_loss(targets.CYCLEGAN), steps=2, lr=1e-3)
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert any(not torch.equal(a, layer.codebook) for a, layer in zip(before, c.layers, strict=True))
    params = dict(c.model.named_parameters())
    for layer in c.layers:
        weight = params[layer.name].detach()
        assert torch.equal(weight, layer.weight())  # the model computes with the tuned codebook
        assert torch.all(weight.reshape(-1)[~layer.mask] == 0)


def test_retraining_after_pruning_moves_the_kept_weights_and_keeps_the_pruned_at_zero():
    model = targets.original(targets.CYCLEGAN)
    retrained = prune_and_retrain(model, 0.6, targets.training_loss(targets.CYCLEGAN), steps=3, lr=1e-3)
    pruned = compress(model, 256, 0.6)  # pruning alone, the same sparsity, for the masks
    new = dict(retrained.named_parameters())
    for layer in pruned.layers:
        weight = new[layer.name].detach().reshape(-1)
        assert torch.all(weight[~layer.mask] == 0)  # what pruning removed stays removed
        kept = layer.original.reshape(-1)[layer.mask]
        assert not torch.allclose(weight[layer.mask], kept)  # the rest moved
    assert not any("weight_orig" in n for n in new)  # a plain model again
    # Clustering the retrained copy at that sparsity prunes exactly the same weights.
    again = compress(retrained, 8, 0.6)
    assert all(torch.equal(a.mask, b.mask) for a, b in zip(again.layers, pruned.layers, strict=True))


def test_huffman_round_trips_and_is_near_the_entropy():
    rng = np.random.default_rng(0)
    symbols = np.minimum(rng.geometric(0.35, 50_000) - 1, 63)
    counts = np.bincount(symbols, minlength=64)
    lengths = huffman_lengths(counts)
    data, nbits = huffman_encode(symbols, lengths)
    assert np.array_equal(huffman_decode(data, nbits, lengths, len(symbols)), symbols)
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * np.log2(p)).sum())
    assert entropy <= nbits / len(symbols) < entropy + 1
    assert np.sum(2.0 ** -lengths[lengths > 0]) <= 1 + 1e-12  # Kraft: a prefix code
    one = np.zeros(10, dtype=np.int64)  # a single symbol still takes one bit each
    data, nbits = huffman_encode(one, huffman_lengths(np.bincount(one)))
    assert nbits == 10 and np.array_equal(huffman_decode(data, nbits, huffman_lengths(np.bincount(one)), 10),
                                          one)


def test_bit_packing_and_gap_coding_round_trip():
    rng = np.random.default_rng(1)
    for bits in (1, 3, 5, 8):
        values = rng.integers(0, 2**bits, size=1001)
        assert np.array_equal(codec.unpack(codec.pack(values, bits), bits, len(values)), values)
    mask = rng.random(5000) < 0.05
    mask[:3], mask[-1] = True, True
    mask[1000:2500] = False  # a long run of zeros needs escapes at every width
    for bits in (1, 2, 4, 8):
        assert np.array_equal(codec.symbols_to_mask(codec.gaps_to_symbols(mask, bits), bits, 5000), mask)


@pytest.fixture(scope="module")
def saved(detector, tmp_path_factory):
    c = compress(detector, 16, 0.5)
    path = tmp_path_factory.mktemp("compressed") / "focal.safetensors"
    codec.save(path, c.layers, c.model.state_dict(), targets.DETECTOR, huffman=True)
    return c, path


def test_compressed_file_round_trips_bit_exactly(saved, tmp_path):
    c, path = saved
    from safetensors.torch import load_file

    layout, layers = codec.decode_layers(load_file(str(path)))
    assert layout["model"] == targets.DETECTOR and len(layers) == len(c.layers)
    for a, b in zip(c.layers, layers, strict=True):
        assert a.name == b.name and torch.equal(a.mask, b.mask) and torch.equal(a.labels, b.labels)
        assert torch.equal(a.codebook, b.codebook)
    again = tmp_path / "again.safetensors"
    codec.save(again, layers, codec.decode_state(load_file(str(path))), targets.DETECTOR, huffman=True)
    assert again.read_bytes() == path.read_bytes()
    loaded = codec.load(path, torch.device("cpu"))
    mine, theirs = c.model.state_dict(), loaded.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    image = targets.example_image(targets.DETECTOR)
    outputs = zip(targets.raw_outputs(targets.DETECTOR, c.model, image),
                  targets.raw_outputs(targets.DETECTOR, loaded, image), strict=True)
    assert all(torch.equal(a, b) for a, b in outputs)
    assert path.stat().st_size * 9 < targets.baseline_bytes(targets.DETECTOR)  # 16 clusters, half pruned


def test_damaged_files_are_refused_naming_the_file(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match="cut.safetensors.*truncated"):
        codec.load(cut)
    altered = tmp_path / "altered.safetensors"
    flipped = bytearray(data)
    flipped[-100] ^= 0x10  # one bit of the payload
    altered.write_bytes(bytes(flipped))
    with pytest.raises(BadInput, match="altered.safetensors.*checksum"):
        codec.load(altered)
    header = tmp_path / "header.safetensors"
    header.write_bytes(data[:8] + b"{" * 40 + data[48:])
    with pytest.raises(BadInput, match="header.safetensors"):
        codec.load(header)
    with pytest.raises(BadInput, match="missing.safetensors.*does not exist"):
        codec.load(tmp_path / "missing.safetensors")


class _Trap:
    def __reduce__(self):
        return (open, (str(_Trap.target), "w"))


def test_a_pickle_under_the_name_is_never_unpickled(tmp_path):
    _Trap.target = tmp_path / "unpickled"
    bait = tmp_path / "bait.safetensors"
    bait.write_bytes(pickle.dumps({"weights": _Trap()}))
    with pytest.raises(BadInput, match="bait.safetensors"):
        codec.load(bait)
    assert not _Trap.target.exists()


def test_the_originals_ap_is_its_cards_and_identical_models_have_a_zero_interval(detector):
    samples = targets.evaluate_original(targets.DETECTOR)
    assert samples["aware"].shape == (1 + accuracy.RESAMPLES,)
    assert abs(samples["aware"][0] - 0.625) < 0.002  # the CI subset's AP in checkpoints/detection_focal.md
    same = accuracy.paired_bootstrap(samples["aware"], samples["aware"])
    assert same["change"] == 0 and same["change_ci"] == [0.0, 0.0]
    assert same["before_ci"][0] < same["before"] < same["before_ci"][1]
    assert samples["agnostic"][0] > samples["aware"][0]  # finding an object is easier than naming it


def test_sharing_with_256_clusters_keeps_the_detectors_ap(detector):
    before = targets.evaluate_original(targets.DETECTOR)
    after = targets.evaluate(targets.DETECTOR, compress(detector, 256, 0.0).model)
    quality = targets.quality_change(targets.DETECTOR, before, after)
    for metric in ("AP", "AP class-agnostic"):
        assert abs(quality[metric]["change"]) <= 0.01, quality[metric]
        low, high = quality[metric]["change_ci"]
        assert low <= quality[metric]["change"] <= high


def test_the_table_adds_up(saved):
    c, path = saved
    sizes = codec.encode(c.layers, c.model.state_dict(), targets.DETECTOR, huffman=True)[1]
    result = pipeline.Result({}, c.layers, sizes, path, path.stat().st_size, 1, True, {}, (None, None), {})
    rows = pipeline.table(result)
    assert [r[0] for r in rows[:-1]] == [layer.name.removesuffix(".weight") for layer in c.layers]
    total = rows[-1]
    assert total[0] == "total" and total[1] == sum(r[1] for r in rows[:-1]) == 534_000
    assert total[5] == sum(r[5] for r in rows[:-1]) < path.stat().st_size
    assert total[2] == "50%" and 0 < total[3] <= 4 and total[4] > 0
