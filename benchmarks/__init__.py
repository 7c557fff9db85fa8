"""Speed benchmarks of the metric and the enhancer (`speed`); results in BENCHMARKS.md."""
