"""p2peval: evaluation and benchmarking for image-to-image translation (pix2pix and descendants).

Importing p2peval runs nothing and imports no heavy dependency; see ``p2peval --help``.
``p2peval.load_scores(paths)`` reads score files into a pandas DataFrame (imported on first use).
"""

__version__ = "0.1.0"

__all__ = ["__version__", "load_scores"]


def __getattr__(name: str):
    if name == "load_scores":
        from p2peval.report.frames import load_scores
        return load_scores
    raise AttributeError(f"module 'p2peval' has no attribute {name!r}")
