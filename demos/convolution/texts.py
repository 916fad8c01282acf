"""The tab's prose: the fixed answer, and sentences written from each run's measurements.

No Gradio here; `ui` puts these on screen. Every number in a computed sentence comes from
the objects passed in (a sweep, a compression result, the measured frontier).
"""

from __future__ import annotations

from shared.templates import fill, unfill

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


# The computed sentences' English, one template per sentence or phrase: values go in at [name]
# (shared.templates.fill; the browser reads every translated text as an ICU message, where braces
# are syntax). The tab registers each as "convolution.text.<key>" and passes them back in the
# page's language, so a Chinese page gets sentences built from the same numbers, not translated ones.
TEXTS = {
    "summary": "Input [c_in]×[h]×[w] → output [c_out]×[oh]×[ow]: [mflop] MFLOP. The column buffer holds "
               "[rows] × [cols] values ([column_kb] KB against the input's [input_kb] KB). Every method that "
               "ran agrees with conv2d to [worst].",
    "fft_crossing": "FFT overtakes im2col from **k = [k]**: its cost barely depends on k. ",
    "fft_none": "FFT did not overtake im2col at these sizes. ",
    "sweep": "**Reading the sweep (measured on [device]).** At 3×3 the fastest is **[fastest]**: "
             "PyTorch's conv2d calls a vendor kernel (oneDNN on a CPU, cuDNN on a GPU) that blocks the data "
             "for the caches and vectorises without building a column buffer. im2col + GEMM reaches up to "
             "[best_rate] GFLOP/s of the matmul roofline's [roofline], but its column buffer grows with k², "
             "and so does its time. [fft]With [channels] channels, though, FFT takes [fft_ms] ms against "
             "im2col's [gemm_ms] ms: there are C_out · C_in kernel spectra, each as large as the input. "
             "Winograd does 2.25× fewer multiplications, but written here as small batched matrix products "
             "its transforms cost more than they save against a vendor kernel. The direct loops pay Python's "
             "overhead at every output position. GFLOP/s counts the direct definition's FLOPs for every "
             "method, so one that does less arithmetic can appear above the roofline.",
    "method_direct": "direct (NumPy loops)",
    "label_agnostic": "class-agnostic AP",
    "compress": "**[file_kb] KB** instead of [baseline_kb] KB (fp32 safetensors): **[ratio]× smaller**, "
                "measured on the files. [quality] — [subset]. [reload] [took]",
    "reload_same": "The file loaded back through the suite's loader computes exactly the same outputs as the "
                   "in-memory model.",
    "reload_different": "The file loaded back through the suite's loader computes **different outputs from** "
                        "the in-memory model.",
    "took_cached": "Kept from an earlier run with these settings, which took: [took].",
    "took_fresh": "It took: [took].",
    "frontier_none": "No frontier measured for this model yet: run `python -m demos.convolution.frontier`.",
    "frontier_other": "The frontier plot shows this model's measured points.",
    "frontier_best": "the smallest file within 1 AP point of the original is **[ratio]×** (k = [k], sparsity "
                     "[sparsity], [steps] fine-tuning steps)",
    "frontier_least": "the best point at ≥ 20× loses **[loss] AP points** (k = [k], sparsity [sparsity], "
                      "[steps] steps)",
    "frontier": "On the measured frontier, [parts].",
    "caption_original": "original",
    "caption_compressed": "compressed",
    "total": "total",
} | {f"took_{key}": key.replace("_", " ") for key in (
    "original", "retrain_pruned", "prune_and_share", "fine_tune", "save_and_load", "evaluate", "total")
} | {f"subset_{kind}": words for kind, words in targets.SUBSETS.items()}
# The progress messages of a compression run (pipeline, compress), as those modules write them: the
# tab matches a message against these (shared.templates.unfill) to show it in the page's language.
PROGRESS = {
    "loading": "loading [name] and measuring the original",
    "retraining": "retraining the kept weights: step [step]/[steps], loss [loss]",
    "kmeans": "k-means on [name] ([n] weights)",
    "fine_tuning": "fine-tuning: step [step]/[steps], loss [loss]",
    "writing": "writing the compressed file and loading it back",
    "measuring": "measuring the compressed model",
}


def progress_in(message: str, translated: dict[str, str]) -> str:
    """A progress message of PROGRESS's in the language of `translated` (PROGRESS's keys); any other
    message as it is."""
    for key, english in PROGRESS.items():
        values = unfill(english, message)
        if values is not None:
            return fill(translated.get(key, english), **values)
    return message


# Pieces with no words to translate (names, numbers, units), and the punctuation that joins phrases,
# which goes by language (Chinese uses full-width marks).
NEUTRAL = {"label_ap": "AP", "metric_change": "[metric] [before] → [after]",
           "took_item": "[what] [seconds] s"}
PUNCTUATION = {"en": {"join": "; ", "took_join": ", ",
                      "ap_with_ci": "[label] **[before] → [after]** ([change], 95 % CI [[lo], [hi]])"},
               "zh-CN": {"join": "；", "took_join": "，",
                         "ap_with_ci": "[label] **[before] → [after]**（[change]，95 % CI [[lo], [hi]]）"}}
ENGLISH = TEXTS | NEUTRAL | PUNCTUATION["en"]


def texts_in(translated: dict[str, str], language: str) -> dict[str, str]:
    """Every text the sentences use, for `language`: `translated` (TEXTS in that language) with the
    language's punctuation."""
    return ENGLISH | translated | PUNCTUATION.get(language, PUNCTUATION["en"])


def method_name(method: str, t: dict[str, str] | None = None) -> str:
    """A method's name as shown: the direct loops' in words of the page's language, the others as named."""
    return (ENGLISH | (t or {}))["method_direct"] if method == "direct (NumPy loops)" else method


def convolution_summary(ex: Explained, t: dict[str, str] | None = None) -> str:
    t = ENGLISH | (t or {})
    s, (oh, ow) = ex.shape, ex.shape.out_hw
    column_kb = s.n * s.c_in * s.k * s.k * oh * ow * 4 / 1024
    worst = max((t_.max_error or 0.0) for t_ in ex.timings)
    input_kb = s.c_in * s.h * s.w * 4 / 1024
    return fill(t["summary"], c_in=s.c_in, h=s.h, w=s.w, c_out=s.c_out, oh=oh, ow=ow,
                mflop=f"{s.flops / 1e6:.2f}", rows=s.c_in * s.k * s.k, cols=oh * ow,
                column_kb=f"{column_kb:,.1f}", input_kb=f"{input_kb:,.1f}", worst=f"{worst:.1e}")


def sweep_reading(sw: Sweep, t: dict[str, str] | None = None) -> str:
    """The sweep's ordering in words, from the measured numbers."""
    t = ENGLISH | (t or {})
    k3 = SWEEP_KERNELS.index(3)
    fastest = min((t_[k3], m) for m, t_ in sw.kernels.items() if t_[k3] is not None)[1]
    fft, gemm = sw.kernels["FFT"], sw.kernels["im2col + GEMM"]
    crossing = next((k for k, f, g in zip(SWEEP_KERNELS, fft, gemm, strict=True) if f and g and f < g), None)
    fft_c, gemm_c = sw.channels["FFT"], sw.channels["im2col + GEMM"]
    pairs = zip(sw.kernel_flops + sw.channel_flops, gemm + gemm_c, strict=True)
    best_rate = max(f / t_ / 1e9 for f, t_ in pairs if t_)
    fft_text = fill(t["fft_crossing"], k=crossing) if crossing else t["fft_none"]
    return fill(t["sweep"], device=sw.device, fastest=method_name(fastest, t), best_rate=f"{best_rate:.0f}",
                roofline=f"{sw.matmul_gflops:.0f}", fft=fft_text, channels=SWEEP_CHANNELS[-1],
                fft_ms=f"{fft_c[-1] * 1000:.0f}", gemm_ms=f"{gemm_c[-1] * 1000:.1f}")


def compress_summary(r: pipeline.Result, cached: bool, t: dict[str, str] | None = None) -> str:
    t = ENGLISH | (t or {})
    q, name = r.quality, r.settings["model"]
    if targets.TARGETS[name] == "detection":
        parts = []
        for label, m in ((t["label_ap"], q["AP"]), (t["label_agnostic"], q["AP class-agnostic"])):
            lo, hi = m["change_ci"]
            parts.append(fill(t["ap_with_ci"], label=label, before=f"{m['before']:.3f}",
                              after=f"{m['after']:.3f}", change=f"{m['change']:+.3f}", lo=f"{lo:+.3f}",
                              hi=f"{hi:+.3f}"))
        quality = t["join"].join(parts)
    else:
        quality = t["join"].join(fill(t["metric_change"], metric=k, before=f"{v['before']:.3f}",
                                      after=f"{v['after']:.3f}") for k, v in q.items())
    took = t["took_join"].join(fill(t["took_item"], what=t.get(f"took_{k}", k.replace("_", " ")),
                                    seconds=f"{v:.1f}") for k, v in r.seconds.items())
    return fill(t["compress"], file_kb=f"{r.file_bytes / 1024:,.1f}",
                baseline_kb=f"{r.baseline_bytes / 1024:,.0f}", ratio=f"{r.ratio:.1f}", quality=quality,
                subset=t[f"subset_{targets.TARGETS[name]}"],
                reload=t["reload_same" if r.identical else "reload_different"],
                took=fill(t["took_cached" if cached else "took_fresh"], took=took))


def frontier_reading(points: list[dict], metric: str, t: dict[str, str] | None = None) -> str:
    t = ENGLISH | (t or {})
    if not points:
        return t["frontier_none"]
    if metric != "AP":
        return t["frontier_other"]
    ok = [p for p in points if p["change"] >= -0.01]
    best = max(ok, key=lambda p: p["ratio"]) if ok else None
    twenty = [p for p in points if p["ratio"] >= 20]
    least = max(twenty, key=lambda p: p["change"]) if twenty else None
    parts = []
    if best:
        parts.append(fill(t["frontier_best"], ratio=f"{best['ratio']:.1f}", k=best["k"],
                          sparsity=f"{best['sparsity']:g}", steps=best["fine_tune_steps"]))
    if least:
        parts.append(fill(t["frontier_least"], loss=f"{-least['change'] * 100:.1f}", k=least["k"],
                          sparsity=f"{least['sparsity']:g}", steps=least["fine_tune_steps"]))
    return fill(t["frontier"], parts=t["join"].join(parts))


def paper_table() -> str:
    rows = ["| layer | weights | % kept | weight bits | index bits | compress rate |",
            "|---|---:|---:|---:|---:|---:|"]
    rows += [f"| {a} | {b} | {c} | {d} | {e} | {f} |" for a, b, c, d, e, f in pipeline.PAPER_ALEXNET]
    return (f"**The paper's AlexNet** ({pipeline.PAPER}; pruning and weight sharing, before Huffman coding; "
            f"{pipeline.PAPER_HUFFMAN_TOTAL}). Published figures, not measured here; weight bits are per "
            "cluster index, index bits per relative position.\n\n" + "\n".join(rows))
