"""Diffusers pipelines with BPM region-masked text guidance, and the two-round enhancer."""
