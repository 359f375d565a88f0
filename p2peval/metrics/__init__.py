"""Metrics: streaming confusion matrices, colour histograms, bootstrap statistics."""
