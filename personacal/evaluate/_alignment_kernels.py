"""Pure array kernels of :func:`personacal.evaluate.alignment`: group distributions and their distances.

No pandas and no I/O. Persona answers arrive as sparse matrices over the option cells
(question x option); distributions are arrays indexed by (group, cell), with a leading
axis of bootstrap replicates where a batch is given.
"""

from __future__ import annotations

import numpy as np

from ._wasserstein import normalized_wasserstein_batch

__all__ = ["pair_sums", "group_means", "pair_distances", "representativeness"]


def pair_sums(unit: np.ndarray, cell: np.ndarray, values: np.ndarray, cell_question: np.ndarray, n_questions: int):
    """Sum of ``values`` per (unit, question): the unique units, their questions and the sums."""
    key = unit.astype(np.int64) * n_questions + cell_question[cell]
    uniq, inverse = np.unique(key, return_inverse=True)
    return uniq // n_questions, uniq % n_questions, np.bincount(inverse, weights=values)


def group_means(probabilities, answered, group: np.ndarray, totals: np.ndarray, cell_question: np.ndarray,
                n_groups: int) -> np.ndarray:
    """Group distributions ``(b, G, J)`` for per-persona weight totals ``(b, n)``.

    ``probabilities`` is ``(n, J)`` (a persona's probability of each cell), ``answered``
    ``(n, Q)`` (1 where the persona answered the question). A group's distribution on a
    question is the weighted mean over the personas of the group that answered it; NaN
    where none did.
    """
    totals = np.atleast_2d(totals)
    out = np.empty((totals.shape[0], n_groups, probabilities.shape[1]))
    for g in range(n_groups):
        members = np.flatnonzero(group == g)
        t = totals[:, members].T  # (m, b)
        num = (probabilities[members].T @ t).T
        den = (answered[members].T @ t).T
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, g, :] = num / den[:, cell_question]
    return out


def pair_distances(values: np.ndarray, reference: np.ndarray, pairs, question_cells, refusal: np.ndarray,
                   position: np.ndarray) -> np.ndarray:
    """Normalised W1 of every (group, question) pair, refusals left out: ``(b, G, J)`` -> ``(b, P)``."""
    wd = np.empty((values.shape[0], len(pairs)))
    for k, (g, q) in enumerate(pairs):
        cells = question_cells[q]
        keep = ~refusal[cells]
        wd[:, k] = normalized_wasserstein_batch(values[:, g, cells][:, keep], reference[g, cells][keep][None, :],
                                                position[cells][keep])
    return wd


def representativeness(wd: np.ndarray, pair_group: np.ndarray, n_groups: int) -> np.ndarray:
    """``1 - mean WD`` overall, then per group (``n_groups`` columns; none when 0): ``(b, P)`` -> ``(b, 1 + G)``."""
    per_group = [1 - wd[:, pair_group == g].mean(axis=1) for g in range(n_groups)]
    return np.column_stack([1 - wd.mean(axis=1), *per_group])
