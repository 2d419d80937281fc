"""Turn a sample DataFrame and its Margins into integer codes and target arrays.

This is the validation boundary of every unit-level method: unknown or
missing categories, type mismatches (``"1"`` vs ``1``), empty target
categories and bad design weights are caught here, once, with messages that
name the column and the categories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import (
    CategoryTypeError,
    EmptyCategoryError,
    InputError,
    InvalidValueError,
    MissingValueError,
    UnknownCategoryError,
)
from .._validation import InstanceOf, check_params
from ._margins import Margins

__all__ = ["EncodedSample", "cell_index", "encode_sample", "check_design_weights", "check_cells", "design_totals",
           "MARGINS"]

#: What a ``margins`` argument must be (a plain dict is not: its shares/totals would be ambiguous).
MARGINS = InstanceOf(Margins, name="a personacal.calibrate.Margins (wrap a dict with Margins({...}))")


@dataclass(frozen=True)
class EncodedMargin:
    """A margin as arrays: variable positions, dense target table (NaN = cell not listed)."""

    label: str
    axes: tuple[int, ...]
    target: np.ndarray  # shape = tuple(len(categories[v]) for v in axes)


@dataclass(frozen=True)
class EncodedSample:
    variables: tuple[str, ...]
    categories: tuple[pd.Index, ...]
    codes: tuple[np.ndarray, ...]  # one small-int array per variable, values in [0, len(categories))
    margins: tuple[EncodedMargin, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.categories)

    def margin_codes(self, m: EncodedMargin) -> np.ndarray:
        """Flat cell index of every unit in margin ``m``'s target table."""
        if len(m.axes) == 1:
            return self.codes[m.axes[0]]
        return cell_index(tuple(self.codes[a] for a in m.axes), m.target.shape)


def cell_index(codes: tuple[np.ndarray, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Row-major flat index of each unit's cell (like ``np.ravel_multi_index``, several times faster).

    Horner's scheme in the narrowest integer type that holds the grid size.
    """
    dtype = np.int32 if np.prod(shape, dtype=float) < 2**31 else np.int64
    flat = codes[0].astype(dtype)
    for code, size in zip(codes[1:], shape[1:]):
        flat *= size
        flat += code
    return flat


def _code_dtype(n_categories: int):
    if n_categories <= np.iinfo(np.uint8).max:
        return np.uint8
    if n_categories <= np.iinfo(np.uint16).max:
        return np.uint16
    return np.int32


def _kind(values) -> str:
    """A coarse type label used to detect categories that only match as text."""
    kinds = {("number" if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) else type(v).__name__) for v in values}
    return "/".join(sorted(kinds))


def _encode_column(column: pd.Series, categories: pd.Index, name: str, func: str) -> np.ndarray:
    dtype = _code_dtype(len(categories))
    if isinstance(column.dtype, pd.CategoricalDtype):
        # Remap the categorical's own codes: O(categories) lookups, at most one O(rows) gather.
        lookup = categories.get_indexer(column.cat.categories)
        raw = np.asarray(column.array.codes)  # the Categorical's own codes, without a Series copy
        if raw.min(initial=0) < 0:
            _raise_missing(name, int((raw < 0).sum()), func)
        if (lookup < 0).any():
            used = np.bincount(raw, minlength=len(lookup)) > 0
            if (used & (lookup < 0)).any():
                _raise_unknown(name, column.cat.categories[used & (lookup < 0)], categories, func)
        if np.array_equal(lookup, np.arange(len(lookup))) and raw.dtype.itemsize == np.dtype(dtype).itemsize:
            return raw.view(dtype)
        return lookup.astype(dtype)[raw]
    values = column.to_numpy()
    if values.dtype.kind in "iu" and categories.dtype.kind in "iu" and len(values):
        lo, hi = int(values.min()), int(values.max())
        if lo >= 0 and hi < 4 * len(values) + 1024:
            # Dense lookup table: one gather instead of hashing every row.
            lut = np.full(hi + 1, -1, dtype=np.int64)
            inside = (categories >= 0) & (categories <= hi)
            lut[categories[inside].to_numpy()] = np.flatnonzero(inside)
            codes = lut[values]
            if (codes < 0).any():
                _raise_unknown(name, pd.unique(values[codes < 0]), categories, func)
            return codes.astype(dtype)
    codes = categories.get_indexer(values)
    bad = codes < 0
    if bad.any():
        isna = column.isna().to_numpy()
        if isna.any():
            _raise_missing(name, int(isna.sum()), func)
        _raise_unknown(name, pd.unique(values[bad]), categories, func)
    return codes.astype(dtype)


def _raise_missing(name: str, count: int, func: str):
    raise MissingValueError(
        f"column '{name}' has {count} missing value(s); {func} needs every row categorised. "
        "Drop those rows or give the missing values their own category (and a target for it)"
    )


def _plain(value):
    """NumPy scalars as plain Python values, so messages read ``1`` rather than ``np.int64(1)``."""
    return value.item() if isinstance(value, np.generic) else value


def _raise_unknown(name: str, unknown, categories: pd.Index, func: str):
    unknown = [_plain(u) for u in unknown]
    text_known = {str(c): _plain(c) for c in categories}
    text_matches = [u for u in unknown if str(u) in text_known]
    if text_matches:
        u = text_matches[0]
        raise CategoryTypeError(
            f"column '{name}' holds {_kind([u])} values such as {u!r} but the margins use "
            f"{_kind([text_known[str(u)]])} categories such as {text_known[str(u)]!r}; categories match by value, "
            f"so convert one side (e.g. sample['{name}'].astype(str))"
        )
    shown = ", ".join(repr(u) for u in unknown[:8]) + (" ..." if len(unknown) > 8 else "")
    raise UnknownCategoryError(
        f"column '{name}' has categories absent from the targets: {shown}; the targets list "
        f"{[_plain(c) for c in categories[:12]]}. Add targets for them (0 is allowed) or recode/drop those rows before {func}"
    )


def check_design_weights(weights, sample: pd.DataFrame, func: str) -> np.ndarray:
    """Design weights as a float array aligned to the sample's rows (ones when None).

    ``weights`` may be None, the name of a sample column, a Series aligned to the
    sample's index, or an array with one value per row.
    """
    index = sample.index
    if weights is None:
        return np.ones(len(index))
    if isinstance(weights, str):
        if weights not in sample.columns:
            raise InputError(f"`weights` of {func} names column {weights!r}, which the sample lacks")
        weights = sample[weights]
    if isinstance(weights, pd.Series):
        if not weights.index.equals(index):
            if len(weights) != len(index) or not weights.index.isin(index).all():
                raise InputError(
                    f"`weights` of {func} must be aligned to the sample's index; the Series index differs"
                )
            weights = weights.reindex(index)
        arr = weights.to_numpy(dtype=float)
    else:
        arr = np.asarray(weights, dtype=float)
    if arr.shape != (len(index),):
        raise InputError(f"`weights` of {func} must have one value per sample row ({len(index)}); got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        first = np.flatnonzero(bad)[:5]
        raise InvalidValueError(
            f"`weights` of {func} has {int(bad.sum())} NaN, negative or infinite value(s), e.g. at rows "
            f"{list(index[first])}: {arr[first].tolist()}; design weights must be finite and >= 0"
        )
    if not (arr > 0).any():
        raise InvalidValueError(f"`weights` of {func} are all zero; at least one row needs a positive weight")
    return arr


def encode_sample(sample: pd.DataFrame, margins: Margins, *, func: str) -> EncodedSample:
    check_params(func, {"sample": InstanceOf(pd.DataFrame, name="a pandas DataFrame"), "margins": MARGINS},
                 {"sample": sample, "margins": margins})
    if len(sample) == 0:
        raise InputError(f"`sample` of {func} has no rows")
    variables = margins.variables
    absent = [v for v in variables if v not in sample.columns]
    if absent:
        raise InputError(
            f"margins name column(s) {absent} that the sample lacks; sample columns are {list(sample.columns)}"
        )
    categories = tuple(margins.categories(v) for v in variables)
    codes = tuple(_encode_column(sample[v], categories[i], v, func) for i, v in enumerate(variables))
    encoded_margins = []
    for m in margins:
        axes = tuple(variables.index(v) for v in m.variables)
        shape = tuple(len(categories[a]) for a in axes)
        target = np.full(shape, np.nan)
        if len(axes) == 1:
            target[categories[axes[0]].get_indexer(m.values.index)] = m.values.to_numpy()
        else:
            positions = tuple(categories[a].get_indexer(m.values.index.get_level_values(i)) for i, a in enumerate(axes))
            target[positions] = m.values.to_numpy()
        encoded_margins.append(EncodedMargin(m.label, axes, target))
    return EncodedSample(variables, categories, codes, tuple(encoded_margins))


def design_totals(enc: EncodedSample, d: np.ndarray) -> list[np.ndarray]:
    """Each margin's design-weighted total per cell (flat)."""
    return [np.bincount(enc.margin_codes(m), weights=d, minlength=m.target.size) for m in enc.margins]


def check_cells(enc: EncodedSample, initial_totals, func: str) -> None:
    """Weighted rows in unlisted multi-way cells, and positive targets with no weight to carry them.

    ``initial_totals[m]`` is margin m's design-weighted total per cell (flat).
    """
    for m, initial in zip(enc.margins, initial_totals):
        counts = np.asarray(initial).reshape(m.target.shape)
        unlisted = np.isnan(m.target) & (counts > 0)
        if unlisted.any():
            cells = [_cell_label(enc, m, idx) for idx in zip(*np.nonzero(unlisted))][:5]
            raise UnknownCategoryError(
                f"margin '{m.label}' does not list the cell(s) {cells} that sample rows fall in; "
                f"add them to the margin (0 is allowed) or drop those rows before {func}"
            )
        empty = (counts == 0) & (np.nan_to_num(m.target) > 0)
        if empty.any():
            cells = [_cell_label(enc, m, idx) for idx in zip(*np.nonzero(empty))][:5]
            raise EmptyCategoryError(
                f"margin '{m.label}' has target(s) for {cells} but no sample rows (with positive design weight) "
                "there; no weighting can reach them. Collapse those categories with a neighbour, or add sample rows"
            )


def _cell_label(enc: EncodedSample, m: EncodedMargin, idx) -> str:
    parts = [f"{enc.variables[a]}={enc.categories[a][i]!r}" for a, i in zip(m.axes, idx)]
    return ", ".join(parts)
