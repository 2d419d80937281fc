"""Collapse units to their distinct cells and build the cell × margin-cell constraint matrix.

Every categorical calibration (raking, GREG, logit, min-distance) gives all
units of one cell the same adjustment g, so the problems are solved on cells
and expanded back to units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._encode import EncodedSample, cell_index

__all__ = ["Cells", "collapse_cells"]


@dataclass(frozen=True)
class Cells:
    codes: np.ndarray  # (n_cells, n_vars) category codes of each cell
    design: np.ndarray  # (n_cells,) summed design weights
    unit_cell: np.ndarray  # (n_units,) cell of each unit
    constraints: sp.csr_matrix  # (n_constraints, n_cells) 0/1 membership of each cell in each margin cell
    targets: np.ndarray  # (n_constraints,)
    labels: list[tuple[str, str]]  # (margin label, category label) per constraint


def collapse_cells(enc: EncodedSample, d: np.ndarray) -> Cells:
    shape = enc.shape
    n_grid = math.prod(shape)
    if n_grid <= max(4 * len(d), 2**22):
        # Small grid: find the occupied cells with a count instead of a sort.
        flat = cell_index(enc.codes, shape)
        occupied = np.flatnonzero(np.bincount(flat, minlength=n_grid))
        renumber = np.zeros(n_grid, dtype=np.int64)
        renumber[occupied] = np.arange(len(occupied))
        unit_cell = renumber[flat]
        codes = np.column_stack(np.unravel_index(occupied, shape))
    elif n_grid < 2**62:
        flat = np.ravel_multi_index(enc.codes, shape)
        unique_flat, unit_cell = np.unique(flat, return_inverse=True)
        codes = np.column_stack(np.unravel_index(unique_flat, shape))
    else:
        codes, unit_cell = np.unique(np.column_stack(enc.codes), axis=0, return_inverse=True)
    unit_cell = unit_cell.ravel()
    design = np.bincount(unit_cell, weights=d, minlength=len(codes))
    rows, cols, targets, labels = [], [], [], []
    offset = 0
    n_cells = len(codes)
    for m in enc.margins:
        target = m.target.ravel()
        listed = np.flatnonzero(~np.isnan(target))
        position = np.full(target.size, -1)
        position[listed] = np.arange(len(listed))
        if len(m.axes) == 1:
            margin_cell = codes[:, m.axes[0]]
        else:
            margin_cell = np.ravel_multi_index(tuple(codes[:, a] for a in m.axes), m.target.shape)
        rows.append(offset + position[margin_cell])
        cols.append(np.arange(n_cells))
        targets.append(target[listed])
        for flat in listed:
            idx = np.unravel_index(flat, m.target.shape)
            labels.append((m.label, " × ".join(str(enc.categories[a][i]) for a, i in zip(m.axes, idx))))
        offset += len(listed)
    row = np.concatenate(rows)
    col = np.concatenate(cols)
    matrix = sp.csr_matrix((np.ones(len(row)), (row, col)), shape=(offset, n_cells))
    return Cells(codes, design, unit_cell, matrix, np.concatenate(targets), labels)
