"""The tab's prose: the fixed answer, and sentences written from each run's measurements.

No Gradio here; `ui` puts these on screen. Every number in a computed sentence comes from
the objects passed in (a sweep, a compression result, the measured frontier).
"""

from __future__ import annotations

from . import pipeline, targets
from .explain import Explained
from .sweep import SWEEP_CHANNELS, SWEEP_KERNELS, Sweep

QUESTION = "How is a convolution computed fast — and how does weight sharing shrink a network?"
ANSWER = """\
A convolution slides one small kernel over every position of the input: **weight sharing in a
convolution is the same kernel at every position**. Computed literally that is a dot product
per position (the direct loops below). **im2col** instead copies every patch into a column of a
matrix (k² copies of each input value), so the whole layer becomes *one* matrix product, which
runs near the machine's peak: it trades memory for speed. **FFT** convolution multiplies spectra,
so its cost hardly depends on the kernel size: it wins for large kernels, and loses when many
channels make the kernel spectra (each as large as the input) huge. **Winograd F(2×2, 3×3)**
computes each 2×2 block of outputs with 16 multiplications instead of 36 (2.25× fewer), at the
price of extra additions; vendor libraries use it for 3×3 layers. **Depthwise and grouped**
convolutions split the channels into groups convolved separately, dividing the work by the
number of groups. The second half answers the other sense of "weight sharing": **Deep
Compression** (Han et al. 2016) clusters a trained layer's weights, stores one centroid per
cluster and a small index per weight, fine-tunes the centroids with the summed gradients of
their cluster, and Huffman-codes the indices.
"""

COMPRESS_INTRO = """\
### Weight sharing on our own models
Each convolution's weights are optionally pruned (the smallest |w| set to 0 with
`torch.nn.utils.prune`), clustered by k-means into k centroids, optionally fine-tuned on the
model's own training loss (autograd sums the gradients of a cluster into its centroid; the biases
and normalisation parameters, stored uncompressed, train alongside), and written in a compact
file: indices packed at log2(k) bits or Huffman-coded, sparse positions as gaps, the codebooks, in
a safetensors container. The file is loaded back through the suite's loader and measured.
Fine-tuning is slow on a CPU (about half a second a step); results are kept once computed.
"""


def convolution_summary(ex: Explained) -> str:
    s, (oh, ow) = ex.shape, ex.shape.out_hw
    column_kb = s.n * s.c_in * s.k * s.k * oh * ow * 4 / 1024
    worst = max((t.max_error or 0.0) for t in ex.timings)
    input_kb = s.c_in * s.h * s.w * 4 / 1024
    return (f"Input {s.c_in}×{s.h}×{s.w} → output {s.c_out}×{oh}×{ow}: {s.flops / 1e6:.2f} MFLOP. The "
            f"column buffer holds {s.c_in * s.k * s.k} × {oh * ow} values ({column_kb:,.1f} KB against the "
            f"input's {input_kb:,.1f} KB). Every method that ran agrees with conv2d to {worst:.1e}.")


def sweep_reading(sw: Sweep) -> str:
    """The sweep's ordering in words, from the measured numbers."""
    k3 = SWEEP_KERNELS.index(3)
    fastest = min((t[k3], m) for m, t in sw.kernels.items() if t[k3] is not None)[1]
    fft, gemm = sw.kernels["FFT"], sw.kernels["im2col + GEMM"]
    crossing = next((k for k, f, g in zip(SWEEP_KERNELS, fft, gemm, strict=True) if f and g and f < g), None)
    fft_c, gemm_c = sw.channels["FFT"], sw.channels["im2col + GEMM"]
    pairs = zip(sw.kernel_flops + sw.channel_flops, gemm + gemm_c, strict=True)
    best_rate = max(f / t / 1e9 for f, t in pairs if t)
    fft_text = (f"FFT overtakes im2col from **k = {crossing}**: its cost barely depends on k. " if crossing
                else "FFT did not overtake im2col at these sizes. ")
    return (
        f"**Reading the sweep (measured on {sw.device}).** At 3×3 the fastest is **{fastest}**: PyTorch's "
        "conv2d calls a vendor kernel (oneDNN on a CPU, cuDNN on a GPU) that blocks the data for the caches "
        "and vectorises without building a column buffer. im2col + GEMM reaches up to "
        f"{best_rate:.0f} GFLOP/s of the matmul roofline's {sw.matmul_gflops:.0f}, but its column buffer "
        f"grows with k², and so does its time. {fft_text}With {SWEEP_CHANNELS[-1]} channels, though, FFT "
        f"takes {fft_c[-1] * 1000:.0f} ms against im2col's {gemm_c[-1] * 1000:.1f} ms: there are "
        "C_out · C_in kernel spectra, each as large as the input. Winograd does 2.25× fewer "
        "multiplications, but written here as small batched matrix products its transforms cost more than "
        "they save against a vendor kernel. The direct loops pay Python's overhead at every output position. "
        "GFLOP/s counts the direct definition's FLOPs for every method, so one that does less arithmetic "
        "can appear above the roofline."
    )


def compress_summary(r: pipeline.Result, cached: bool) -> str:
    q, name = r.quality, r.settings["model"]
    if targets.TARGETS[name] == "detection":
        parts = []
        for label, m in (("AP", q["AP"]), ("class-agnostic AP", q["AP class-agnostic"])):
            lo, hi = m["change_ci"]
            parts.append(f"{label} **{m['before']:.3f} → {m['after']:.3f}** ({m['change']:+.3f}, 95 % CI "
                         f"[{lo:+.3f}, {hi:+.3f}])")
        quality = "; ".join(parts)
    else:
        quality = "; ".join(f"{k} {v['before']:.3f} → {v['after']:.3f}" for k, v in q.items())
    took = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in r.seconds.items())
    same = "exactly the same outputs as" if r.identical else "**different outputs from**"
    when = "Kept from an earlier run with these settings, which" if cached else "It"
    return (f"**{r.file_bytes / 1024:,.1f} KB** instead of {r.baseline_bytes / 1024:,.0f} KB (fp32 "
            f"safetensors): **{r.ratio:.1f}× smaller**, measured on the files. {quality} — "
            f"{targets.subset(name)}. The file loaded back through the suite's loader computes {same} the "
            f"in-memory model. {when} took: {took}.")


def frontier_reading(points: list[dict], metric: str) -> str:
    if not points:
        return "No frontier measured for this model yet: run `python -m demos.convolution.frontier`."
    if metric != "AP":
        return "The frontier plot shows this model's measured points."
    ok = [p for p in points if p["change"] >= -0.01]
    best = max(ok, key=lambda p: p["ratio"]) if ok else None
    twenty = [p for p in points if p["ratio"] >= 20]
    least = max(twenty, key=lambda p: p["change"]) if twenty else None
    parts = []
    if best:
        parts.append(f"the smallest file within 1 AP point of the original is **{best['ratio']:.1f}×** "
                     f"(k = {best['k']}, sparsity {best['sparsity']:g}, {best['fine_tune_steps']} "
                     "fine-tuning steps)")
    if least:
        parts.append(f"the best point at ≥ 20× loses **{-least['change'] * 100:.1f} AP points** "
                     f"(k = {least['k']}, sparsity {least['sparsity']:g}, {least['fine_tune_steps']} steps)")
    return "On the measured frontier, " + "; ".join(parts) + "."


def paper_table() -> str:
    rows = ["| layer | weights | % kept | weight bits | index bits | compress rate |",
            "|---|---:|---:|---:|---:|---:|"]
    rows += [f"| {a} | {b} | {c} | {d} | {e} | {f} |" for a, b, c, d, e, f in pipeline.PAPER_ALEXNET]
    return (f"**The paper's AlexNet** ({pipeline.PAPER}; pruning and weight sharing, before Huffman coding; "
            f"{pipeline.PAPER_HUFFMAN_TOTAL}). Published figures, not measured here; weight bits are per "
            "cluster index, index bits per relative position.\n\n" + "\n".join(rows))
