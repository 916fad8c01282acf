"""The compressed model's own file format, in a safetensors container.

Model code only (no Gradio). A file holds six tensors, so the container's header stays
small however many layers the model has:

- `layout`: zlib-compressed JSON: the source model, and for every shared layer its shape,
  codebook size and where its streams start; for every other tensor its shape;
- `codebooks`: every layer's centroids, float32, one after another;
- `streams`: bytes: each layer's cluster indices packed at log2(k) bits (or Huffman-coded),
  its sparse positions as gaps between kept weights (packed at the width that makes them
  smallest, or Huffman-coded), and the code lengths of any Huffman table;
- `dense`, `dense_int`: biases, norm parameters and buffers, stored as they are;
- `checksum`: SHA-256 of all the above, so an altered file is refused, not half-loaded.

Nothing is unpickled: safetensors reads tensors, `json` and `zlib` the layout.
`load` goes through the suite's own loader (`shared.loading.load_model`) with
`decode_state` as the spec's `convert` step.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from shared.images import BadInput
from shared.loading import ModelUnavailable, load_model, read_metadata, safetensors_problem
from shared.registry import BundledFile, ModelSpec, get_spec
from shared.templates import fill

from .compress import SharedLayer, huffman_decode, huffman_encode, huffman_lengths
from .errors import MESSAGES

FORMAT = "vision-lab-shared-1"
MAX_GAP_BITS = 8
MAX_LAYOUT_BYTES = 16 * 2**20  # a layout that inflates past this is not ours
MAX_WEIGHTS = 200_000_000
META_KEY = "vision-lab"


# ---------------------------------------------------------------- bit streams


def pack(values: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned integers < 2**bits packed `bits` each, most significant bit first."""
    values = np.asarray(values, dtype=np.int64)
    shifts = np.arange(bits - 1, -1, -1)
    return np.packbits(((values[:, None] >> shifts) & 1).astype(np.uint8).reshape(-1))  # (n*bits/8,)


def unpack(data: np.ndarray, bits: int, count: int) -> np.ndarray:
    """Inverse of `pack`: `count` integers of `bits` bits each."""
    if data.size * 8 < bits * count:
        raise ValueError("a packed stream is shorter than its layout says")
    flat = np.unpackbits(data)[: bits * count].reshape(count, bits).astype(np.int64)  # (count, bits)
    return flat @ (1 << np.arange(bits - 1, -1, -1))


def gaps_to_symbols(mask: np.ndarray, bits: int) -> np.ndarray:
    """Sparse positions as gap symbols: each kept weight is `g` zeros after the previous one, written
    as g // M escapes (symbol M = 2**bits - 1, "skip M") followed by g % M."""
    top = (1 << bits) - 1
    kept = np.flatnonzero(mask)
    gaps = np.diff(kept, prepend=-1) - 1  # (kept,) zeros skipped before each kept weight
    escapes, rest = gaps // top, gaps % top
    symbols = np.full(int(escapes.sum() + len(gaps)), top, dtype=np.int64)
    symbols[np.cumsum(escapes + 1) - 1] = rest  # each kept weight's remainder follows its escapes
    return symbols


def symbols_to_mask(symbols: np.ndarray, bits: int, numel: int) -> np.ndarray:
    top = (1 << bits) - 1
    escape = symbols == top
    position = np.cumsum(np.where(escape, top, symbols + 1)) - 1  # where each symbol lands
    kept = position[~escape]
    if kept.size and (kept[-1] >= numel or np.any(np.diff(kept) <= 0)):
        raise ValueError("sparse positions fall outside their layer")
    mask = np.zeros(numel, dtype=bool)
    mask[kept] = True
    return mask


def _huffman_bits(symbols: np.ndarray, alphabet: int) -> tuple[int, np.ndarray]:
    counts = np.bincount(symbols, minlength=alphabet)
    lengths = huffman_lengths(counts)
    return int((counts * lengths).sum()), lengths


def encode_stream(symbols: np.ndarray, alphabet: int, huffman: bool) -> tuple[dict, bytes]:
    """One stream, fixed-width or Huffman-coded (then with its table of code lengths)."""
    bits = max(1, math.ceil(math.log2(alphabet)))
    if huffman and len(symbols):
        nbits, lengths = _huffman_bits(symbols, alphabet)
        data, _ = huffman_encode(symbols, lengths)
        return ({"coding": "huffman", "count": len(symbols), "nbits": nbits, "alphabet": alphabet},
                lengths.astype(np.uint8).tobytes() + data.tobytes())
    return {"coding": "fixed", "count": len(symbols), "bits": bits}, pack(symbols, bits).tobytes()


def decode_stream(info: dict, blob: memoryview) -> np.ndarray:
    data = np.frombuffer(blob, dtype=np.uint8)
    if info["coding"] == "huffman":
        alphabet = int(info["alphabet"])
        lengths = data[:alphabet].astype(np.int64)
        return huffman_decode(data[alphabet:], int(info["nbits"]), lengths, int(info["count"]))
    return unpack(data, int(info["bits"]), int(info["count"]))


def encode_positions(mask: np.ndarray, huffman: bool) -> tuple[dict, bytes]:
    """The gap width (1..8 bits) that makes this layer's positions smallest, fixed or Huffman."""
    best = None
    for bits in range(1, MAX_GAP_BITS + 1):
        symbols = gaps_to_symbols(mask, bits)
        size = (_huffman_bits(symbols, 1 << bits)[0] + 8 * (1 << bits)) if huffman else len(symbols) * bits
        if best is None or size < best[0]:
            best = (size, bits, symbols)
    _, bits, symbols = best
    info, blob = encode_stream(symbols, 1 << bits, huffman)
    return info | {"gap_bits": bits}, blob


# ---------------------------------------------------------------- writing


def encode(layers: list[SharedLayer], state: dict[str, torch.Tensor], model: str,
           huffman: bool = False) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """The file's tensors, and per layer the bytes of each part (for the compression table)."""
    shared = {layer.name for layer in layers}
    streams, codebooks, entries, sizes = bytearray(), [], [], []
    for layer in layers:
        entry = {"name": layer.name, "shape": list(layer.shape), "k": layer.k, "kept": layer.kept}
        index_info, index_blob = encode_stream(layer.labels.numpy(), layer.k, huffman)
        entry["index"] = index_info | {"offset": len(streams), "size": len(index_blob)}
        streams += index_blob
        position_bytes = 0
        if layer.mask is not None:
            pos_info, pos_blob = encode_positions(layer.mask.numpy(), huffman)
            entry["positions"] = pos_info | {"offset": len(streams), "size": len(pos_blob)}
            streams += pos_blob
            position_bytes = len(pos_blob)
        codebooks.append(layer.codebook.float())
        entries.append(entry)
        sizes.append({"name": layer.name, "index_bytes": len(index_blob), "position_bytes": position_bytes,
                      "codebook_bytes": 4 * layer.k, "index_info": entry["index"],
                      "position_info": entry.get("positions")})
    rest = {k: v for k, v in state.items() if k not in shared}
    floats = [k for k, v in rest.items() if v.is_floating_point()]
    ints = [k for k, v in rest.items() if not v.is_floating_point()]
    layout = {"format": FORMAT, "model": model, "layers": entries,
              "dense": [[k, list(rest[k].shape)] for k in floats],
              "dense_int": [[k, list(rest[k].shape)] for k in ints]}
    packed = bytearray(zlib.compress(json.dumps(layout).encode(), 9))
    no_bytes = torch.zeros(0, dtype=torch.uint8)
    tensors = {
        "layout": torch.frombuffer(packed, dtype=torch.uint8),
        "codebooks": torch.cat(codebooks) if codebooks else torch.zeros(0),
        "streams": torch.frombuffer(streams, dtype=torch.uint8) if streams else no_bytes,
        "dense": torch.cat([rest[k].float().reshape(-1) for k in floats]) if floats else torch.zeros(0),
        "dense_int": (torch.cat([rest[k].long().reshape(-1) for k in ints]) if ints
                      else torch.zeros(0, dtype=torch.int64)),
    }
    tensors["checksum"] = torch.frombuffer(bytearray(_digest(tensors)), dtype=torch.uint8)
    return tensors, sizes


def _digest(tensors: dict[str, torch.Tensor]) -> bytes:
    h = hashlib.sha256()
    for key in ("layout", "codebooks", "streams", "dense", "dense_int"):
        h.update(key.encode())
        h.update(tensors[key].contiguous().numpy().tobytes())
    return h.digest()


def save(path: str | Path, layers: list[SharedLayer], state: dict[str, torch.Tensor], model: str,
         huffman: bool = False) -> list[dict]:
    """Write the compressed model to `path`; returns the per-layer sizes."""
    tensors, sizes = encode(layers, state, model, huffman)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # One metadata entry: safetensors writes several in no fixed order, and the bytes should not vary.
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path),
              metadata={META_KEY: json.dumps({"format": FORMAT, "model": model})})
    return sizes


# ---------------------------------------------------------------- reading


def decode_layers(tensors: dict[str, torch.Tensor]) -> tuple[dict, list[SharedLayer]]:
    """The layout and the shared layers of a file's tensors, after checking its checksum."""
    try:
        return _decode_layers(tensors)
    except (KeyError, TypeError, IndexError, AttributeError, zlib.error) as exc:
        raise ValueError(f"its layout is not valid ({type(exc).__name__})") from None


def _decode_layers(tensors: dict[str, torch.Tensor]) -> tuple[dict, list[SharedLayer]]:
    missing = {"layout", "codebooks", "streams", "dense", "dense_int", "checksum"} - set(tensors)
    if missing:
        raise ValueError(f"it is not a compressed model (no {', '.join(sorted(missing))} tensor)")
    if tensors["checksum"].numpy().tobytes() != _digest(tensors):
        raise ValueError("its checksum does not match its contents: it was altered or damaged")
    inflater = zlib.decompressobj()
    layout = json.loads(inflater.decompress(tensors["layout"].numpy().tobytes(), MAX_LAYOUT_BYTES))
    if layout.get("format") != FORMAT:
        raise ValueError(f"its format is {layout.get('format')!r}, not {FORMAT!r}")
    if sum(math.prod(e["shape"]) for e in layout["layers"]) > MAX_WEIGHTS:
        raise ValueError("its layout describes an implausibly large model")
    streams = memoryview(tensors["streams"].numpy())
    codebooks = tensors["codebooks"]
    layers, start = [], 0
    for e in layout["layers"]:
        numel, k = math.prod(e["shape"]), int(e["k"])
        codebook = codebooks[start:start + k].clone()
        start += k
        ix = e["index"]
        labels = decode_stream(ix, streams[ix["offset"]:ix["offset"] + ix["size"]])
        if labels.size != e["kept"] or (labels.size and labels.max() >= k) or codebook.numel() != k:
            raise ValueError(f"layer {e['name']} does not decode to {e['kept']} indices below {k}")
        mask = None
        if "positions" in e:
            p = e["positions"]
            symbols = decode_stream(p, streams[p["offset"]:p["offset"] + p["size"]])
            mask = torch.from_numpy(symbols_to_mask(symbols, int(p["gap_bits"]), numel))
            if int(mask.sum()) != e["kept"]:
                raise ValueError(f"layer {e['name']} keeps {int(mask.sum())} weights, not {e['kept']}")
        layers.append(SharedLayer(e["name"], tuple(e["shape"]), mask, torch.from_numpy(labels), codebook))
    return layout, layers


def decode_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ordinary state dict the compressed tensors describe (a registry spec's `convert`)."""
    layout, layers = decode_layers(tensors)
    try:
        return _dense_state(tensors, layout, {layer.name: layer.weight() for layer in layers})
    except (KeyError, TypeError, IndexError, AttributeError, RuntimeError) as exc:
        raise ValueError(f"its dense tensors do not match its layout ({type(exc).__name__})") from None


def _dense_state(tensors: dict[str, torch.Tensor], layout: dict,
                 state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` (the shared layers' weights) completed with the tensors stored as they are."""
    for key, names in (("dense", layout["dense"]), ("dense_int", layout["dense_int"])):
        flat, start = tensors[key], 0
        for name, shape in names:
            n = math.prod(shape)
            if start + n > flat.numel():
                raise ValueError(f"its {key} tensor is shorter than its layout says")
            state[name] = flat[start:start + n].reshape(shape).clone()
            start += n
    return state


def load(path: str | Path, device: torch.device | None = None) -> torch.nn.Module:
    """The model a compressed file holds, built and loaded through the suite's loader.

    Any problem (truncated, altered, not ours, made for another architecture) raises
    `BadInput` with a message that names the file.
    """
    path = Path(path)
    label = fill(MESSAGES["file"], file=path.name)
    if not path.is_file():
        raise BadInput(fill(MESSAGES["file_missing"], label=label))
    if path.suffix != ".safetensors":
        raise BadInput(fill(MESSAGES["file_suffix"], label=label))
    problem = safetensors_problem(path)
    if problem:
        raise BadInput(fill(MESSAGES["file_problem"], label=label,
                            problem=problem.removeprefix("damaged checkpoint file ")))
    try:
        meta = json.loads(read_metadata(path).get(META_KEY, "{}"))
    except Exception:  # safetensors' own errors: the header is not valid
        raise BadInput(fill(MESSAGES["file_header"], label=label)) from None
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != FORMAT:
        raise BadInput(fill(MESSAGES["file_format"], label=label, found=repr(found)))
    try:
        source = get_spec(meta.get("model", ""))
        spec = ModelSpec(name=path.name, demo="convolution", task=source.task, tier="bundled",
                         weights=BundledFile(str(path.resolve())), build=source.build,
                         size_mb=path.stat().st_size / 1e6, licence=source.licence, convert=decode_state)
        return load_model(spec, device)
    except (ValueError, KeyError, ModelUnavailable) as exc:
        reason = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        raise BadInput(fill(MESSAGES["file_reason"], label=label, reason=reason)) from None
