"""The errors of the convolution tab's checks, in English as the API gives them.

Registered with `shared.errors`, so a page in another language gets each in its own words;
the names are those the numbers are refused under (`shared.validation.finite` and the checks
of whole numbers). Gradio-free: the computing modules raise with these too.
"""

from __future__ import annotations

from shared import errors

NAMES = errors.templates("error.convolution", {
    "input_size": "The input size", "kernel_size": "The kernel size", "stride": "The stride",
    "padding": "The padding", "dilation": "The dilation", "groups": "The number of groups",
    "in_channels": "The input channels", "out_channels": "The output channels",
    "out_channels_count": "The number of output channels", "k": "The number of clusters k",
    "fine_tune_steps": "The fine-tuning steps", "sparsity": "The sparsity",
})
MESSAGES = errors.templates("error.convolution", {
    # shapes
    "at_least_one": "[name] must be at least 1 (got [value]).",
    "negative_padding": "The padding cannot be negative (got [value]).",
    "groups_divide": "The number of groups ([groups]) must divide both the input channels ([c_in]) and the "
                     "output channels ([c_out]).",
    "kernel_too_big": "The kernel ([k]x[k], dilation [dilation]: spans [span] px) is larger than the padded "
                      "input ([h]x[w]).",
    "unknown_source": "Unknown input source [name]; choose from: [known].",
    # compression
    "unknown_init": "Unknown initialisation [name]; choose from: [known].",
    "huffman": "Huffman coding is on or off (true or false), not [value].",
    "no_target": "Choose a model to compress: [known].",
    "unknown_target": "Unknown model [name]; the compression works on: [known].",
    "steps": "The [what] steps must be between 0 and [most] (got [value]).",
    "fine_tuning": "fine-tuning",
    "retraining": "retraining",
    # a compressed file read back
    "file": "The compressed file [file]",
    "file_missing": "[label] does not exist.",
    "file_suffix": "[label] is not a .safetensors file.",
    "file_problem": "[label] cannot be loaded: [problem].",
    "file_header": "[label] cannot be loaded: its header is not valid safetensors.",
    "file_format": "[label] is not a compressed model of this suite (format [found]).",
    "file_reason": "[label] cannot be loaded: [reason]",
    # the layout problems of `shared.loading.safetensors_problem`, as they end the message above
    "too_short": "(too short)",
    "not_safetensors": "(not safetensors)",
    "truncated": "(truncated)",
})
