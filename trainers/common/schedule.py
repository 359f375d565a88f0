"""Learning-rate schedules of the reference implementation.

The ``linear`` policy keeps the initial rate for ``n_constant`` epochs (or iterations), then
decays it linearly over ``n_decay`` more: the factor at 0-based index ``i`` is

    1 - max(0, i + epoch_count - n_constant) / (n_decay + 1)

(the reference's ``lambda_rule`` with ``epoch_count = 1``), so the first decaying index runs at
``1 - 1 / (n_decay + 1)`` and the last at ``1 / (n_decay + 1)``, never 0.
"""

from __future__ import annotations


def linear_decay_factor(index: int, n_constant: int, n_decay: int, epoch_count: int = 1) -> float:
    """Multiplier of the initial learning rate at 0-based ``index`` (see module doc)."""
    return 1.0 - max(0, index + epoch_count - n_constant) / float(n_decay + 1)
