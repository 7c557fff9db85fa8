"""The models the metric runs, one file per family, and where their weights come from.

`registry.load_metric_models` builds the detector, segmenter and encoder; `weights`
resolves weight files (explicit path > ``$BPM_EDIT_WEIGHTS`` > hub cache).
"""
