"""Small array helpers shared across the package."""

from __future__ import annotations

import numpy as np


def take_rows(table: np.ndarray, idx) -> np.ndarray:
    """``table[idx]`` for a 2-D table (K, C): (..., C) for integer ``idx`` of any shape.

    Gathers whole rows as byte records in one ``take``; numpy's fancy indexing of rows is about
    3x slower (it gathers the C columns of each row separately).
    """
    table = np.ascontiguousarray(table)
    idx = np.asarray(idx)
    records = table.view(np.dtype((np.void, table.dtype.itemsize * table.shape[1]))).reshape(-1)
    return records.take(idx.reshape(-1)).view(table.dtype).reshape(idx.shape + (table.shape[1],))
