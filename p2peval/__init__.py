"""p2peval: evaluation and benchmarking for image-to-image translation (pix2pix and descendants).

Importing p2peval runs nothing and imports no heavy dependency; see ``p2peval --help``.
"""

__version__ = "0.1.0"
