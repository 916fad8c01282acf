"""`python -m benchmarks`: measured speed of every tab, printed and written to BENCHMARKS.md."""
