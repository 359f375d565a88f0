"""Scorers: segmentation networks that read generated photos (FCN-8s and others)."""
