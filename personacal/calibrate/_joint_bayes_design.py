"""Design of the Bayesian joint model: the full cell grid, its zero-sum log-linear terms,
and the encoded margins. Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.linalg import null_space

__all__ = ["EncodedMargin", "JointDesign", "joint_design", "cell_to_margin", "weighted_projection", "labels"]


@dataclass(frozen=True)
class EncodedMargin:
    """One margin key across regions.

    ``axes``: the variables (positions) it covers, ascending; ``observed`` and ``sd``:
    (regions x margin cells) shares, NaN where a region does not publish this margin.
    """

    label: str
    axes: tuple[int, ...]
    observed: np.ndarray
    sd: np.ndarray


@dataclass(frozen=True)
class JointDesign:
    """Zero-sum log-linear design over the full grid (C order); ``*_block`` names each column's term."""

    main: np.ndarray
    main_block: np.ndarray  # variable of each column
    pairs: np.ndarray
    pair_block: np.ndarray  # index into pair_axes
    pair_axes: tuple[tuple[int, ...], ...]
    higher: np.ndarray  # the cell-space directions main effects and pairs cannot express
    joint: np.ndarray  # interactions inside published multi-way margins
    joint_block: np.ndarray  # index into joint_axes
    joint_axes: tuple[tuple[int, ...], ...]
    free: np.ndarray  # bool per pair column: no published margin covers its pair


def one_hot(codes: np.ndarray, size: int) -> np.ndarray:
    return np.eye(size)[codes]


def cell_to_margin(levels: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """(cells x margin cells) 0/1 matrix summing the grid into a margin (C order)."""
    codes = np.indices(levels).reshape(len(levels), -1).T
    flat = np.ravel_multi_index(tuple(codes[:, a] for a in axes), tuple(levels[a] for a in axes))
    return one_hot(flat, int(np.prod([levels[a] for a in axes])))


def _terms(levels, axes_list, contrast) -> tuple[np.ndarray, np.ndarray]:
    blocks = []
    for axes in axes_list:
        basis = contrast[axes[0]]
        for a in axes[1:]:
            basis = np.kron(basis, contrast[a])
        blocks.append(cell_to_margin(levels, axes) @ basis)
    n_cells = int(np.prod(levels))
    design = np.hstack(blocks) if blocks else np.zeros((n_cells, 0))
    return design, np.repeat(np.arange(len(blocks)), [b.shape[1] for b in blocks]).astype(int)


def joint_design(levels: tuple[int, ...], margin_axes, *, higher_order: bool = True) -> JointDesign:
    contrast = [null_space(np.ones((1, n))) for n in levels]  # n x (n-1), orthonormal, zero-sum
    main, main_block = _terms(levels, [(v,) for v in range(len(levels))], contrast)
    pair_axes = tuple(combinations(range(len(levels)), 2))
    pairs, pair_block = _terms(levels, pair_axes, contrast)
    joint_axes = tuple(sorted({sub for axes in margin_axes if len(axes) > 1
                               for k in range(2, len(axes) + 1) for sub in combinations(axes, k)},
                              key=lambda t: (len(t), t)))
    joint, joint_block = _terms(levels, joint_axes, contrast)
    higher = np.zeros((len(main), 0))
    if higher_order:
        higher = null_space(np.hstack([np.ones((len(main), 1)), main, pairs]).T)
    free = ~np.isin(pair_block, [i for i, p in enumerate(pair_axes) if p in joint_axes])
    return JointDesign(main, main_block, pairs, pair_block, pair_axes, higher, joint, joint_block, joint_axes, free)


def weighted_projection(design: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(coefs x cells) least-squares map of a change in log cell weights onto ``design``'s
    coefficients, weighted by the multinomial information ``diag(p) - p p'`` at ``p``: the
    first-order effect of that change on the margins that ``design`` spans. Subtracting
    ``design @ weighted_projection(design, p) @ change`` from a change leaves those margins
    unchanged to first order."""
    weighted = design.T * p - np.outer(design.T @ p, p)
    return np.linalg.solve(weighted @ design, weighted)


def labels(names, block: np.ndarray) -> np.ndarray:
    """``name#k``: the k-th zero-sum coordinate of the block's variable or term."""
    names = list(names)
    firsts = {b: np.flatnonzero(block == b)[0] for b in np.unique(block)}
    return np.array([f"{names[b]}#{k - firsts[b] + 1}" for k, b in enumerate(block)])
