"""Evaluation harness: datasets, baseline metrics, alignment and ground-truth protocols,
batch runs and reports."""
