"""Test-wide settings: never touch the network, keep torch to the machine's cores."""

import os
import sys
from pathlib import Path

# Offline before anything imports huggingface_hub or the loader.
os.environ.setdefault("VISIONLAB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DEVICE", "cpu")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
