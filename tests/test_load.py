"""The launched app under concurrent clients (a CI-sized `python -m benchmarks.load`),
and the output-file race that load exposed."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
from PIL import Image

from benchmarks import load


def test_concurrent_clients_on_every_endpoint():
    result = load.run(clients=6, seconds=20)
    print("\n" + load.table(result))
    assert not result.failures, result.failures[:5]
    assert all(result.latencies.values()), "every endpoint was answered under load"
    assert result.memory_growth < load.MEMORY_GROWTH_LIMIT


def test_output_images_are_never_read_half_written(tmp_path):
    """Two requests that produce the same picture write the same cache file; a download
    running meanwhile must still read the whole file (Gradio 6.31 rewrote it in place)."""
    from gradio import processing_utils

    import shared.ui  # noqa: F401  (installs the atomic writer)

    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), np.uint8))
    path = processing_utils.save_pil_to_cache(img, str(tmp_path))
    stop, reads, short = threading.Event(), [0], [0]

    def writer() -> None:
        while not stop.is_set():
            processing_utils.save_pil_to_cache(img, str(tmp_path))

    def reader() -> None:
        while not stop.is_set():
            size = os.stat(path).st_size
            with open(path, "rb") as f:
                data = f.read()
            reads[0] += 1
            short[0] += len(data) != size

    threads = [threading.Thread(target=f) for f in (writer, writer, reader)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join()
    assert reads[0] > 1000 and short[0] == 0
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [os.path.basename(path)]
