"""Toy-city: a deterministic synthetic street-scene dataset (label maps and photos rendered
from them) in the native Cityscapes layout and as pix2pix A|B pairs.

``scene`` draws a street layout and every instance's look, ``render`` paints it, ``dataset``
writes the files. Start with :func:`generate_toycity`.
"""

from p2peval.data.toycity.dataset import (
                                     CITIES,
                                     GENERATOR_VERSION,
                                     frame_specs,
                                     generate_toycity,
                                     pix2pix_pair,
                                     render_frame,
)

__all__ = ["CITIES", "GENERATOR_VERSION", "frame_specs", "generate_toycity", "pix2pix_pair", "render_frame"]
