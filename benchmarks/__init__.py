"""`python -m benchmarks`: measured speed of every tab, printed and written to BENCHMARKS.md."""

import os

# The app's OpenMP setting (see shared/device.py), before anything here imports torch,
# so that model-only rows run the way the app runs them.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
