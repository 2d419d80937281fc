"""N-D iterative proportional fitting of a dense seed table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._validation import InstanceOf, check_param
from ..errors import InputError, InvalidValueError, StructuralInfeasibilityError, UnknownCategoryError
from ._checks import check_options, finish
from ._encode import MARGINS, EncodedMargin, EncodedSample, _raise_unknown
from ._feasibility import explain_nonconvergence
from ._ipf_kernels import ipf_dense
from ._margins import Margins
from ._results import MarginCheck, TableResult, unit_totals

__all__ = ["ipf", "seed_to_array"]


def seed_to_array(seed, margins: Margins, dims=None, *, func: str = "ipf"):
    """A dense array for ``seed``, the variables and categories of its axes, and its Series form."""
    if isinstance(seed, np.ndarray):
        seed = _array_to_series(seed, dims, func)
    elif dims is not None:
        raise InputError(f"`dims` of {func} is only for ndarray seeds; a Series carries its own level names")
    check_param(func, "seed", seed, InstanceOf(pd.Series, name="a pandas Series with a MultiIndex or an ndarray"))
    index = seed.index
    names = list(index.names)
    if any(n is None for n in names) or len(set(names)) != len(names):
        raise InputError(f"`seed` of {func} needs uniquely named index levels (one per variable); got {names}")
    absent = [v for v in margins.variables if v not in names]
    if absent:
        raise InputError(f"margins name variable(s) {absent} that the seed lacks; seed levels are {names}")
    values = seed.to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise InvalidValueError(
            f"`seed` of {func} has {int(bad.sum())} NaN, negative or infinite cell(s), e.g. "
            f"{index[np.flatnonzero(bad)[0]]!r}; seed cells must be finite and >= 0"
        )
    categories = []
    codes = []
    for level, name in enumerate(names):
        labels = index.get_level_values(level)
        if name in margins.variables:
            cats = margins.categories(name)
            code = cats.get_indexer(labels)
            if (code < 0).any():
                _raise_unknown(name, pd.unique(labels[code < 0]), cats, func)
        else:
            cats = pd.Index(pd.unique(labels), name=name)
            code = cats.get_indexer(labels)
        categories.append(cats)
        codes.append(code)
    if pd.MultiIndex.from_arrays(codes).has_duplicates:
        raise InputError(f"`seed` of {func} lists some cells more than once; aggregate it first (e.g. groupby().sum())")
    shape = tuple(len(c) for c in categories)
    dense = np.zeros(shape)
    dense[tuple(codes)] = values
    return dense, tuple(names), tuple(categories), tuple(codes), seed


def _array_to_series(seed: np.ndarray, dims, func: str) -> pd.Series:
    if dims is None:
        raise InputError(f"an ndarray `seed` of {func} needs `dims`: a list of axis names or {{name: categories}}")
    if isinstance(dims, Mapping):
        names, cats = list(dims), [list(v) for v in dims.values()]
    elif isinstance(dims, Sequence) and not isinstance(dims, str):
        names, cats = list(dims), [list(range(n)) for n in seed.shape]
    else:
        check_param(func, "dims", dims, InstanceOf(Mapping, list, tuple, name="a list of axis names or a mapping"))
    if len(names) != seed.ndim or any(len(c) != n for c, n in zip(cats, seed.shape)):
        raise InputError(
            f"`dims` of {func} must give one entry per axis of the seed (shape {seed.shape}); got "
            f"{[(n, len(c)) for n, c in zip(names, cats)]}"
        )
    index = pd.MultiIndex.from_product(cats, names=names)
    return pd.Series(np.asarray(seed, dtype=float).ravel(), index=index)


def ipf(
    seed,
    margins: Margins,
    *,
    dims=None,
    tol: float = 1e-10,
    max_iter: int = 1000,
    on_nonconvergence: str = "raise",
) -> TableResult:
    """Fit a dense seed table to 1-D and multi-way margins; zero seed cells stay zero.

    Parameters
    ----------
    seed
        A Series with one named MultiIndex level per variable (missing cells
        count as zero), or an ndarray with ``dims`` naming its axes
        (``["age", "sex"]`` or ``{"age": [...categories...], ...}``).
    margins
        Targets over subsets of the seed's variables.

    The fitted table equals base R's ``loglin(seed, margins, start=seed, fit=TRUE)``.
    """
    check_options("ipf", tol=tol, max_iter=max_iter, on_nonconvergence=on_nonconvergence)
    check_param("ipf", "margins", margins, MARGINS)
    dense, names, categories, codes, seed_series = seed_to_array(seed, margins, dims)
    encoded = []
    for m in margins:
        axes = tuple(names.index(v) for v in m.variables)
        target = np.full(tuple(len(categories[a]) for a in axes), np.nan)
        positions = tuple(
            categories[a].get_indexer(m.values.index.get_level_values(i)) for i, a in enumerate(axes)
        )
        target[positions] = m.values.to_numpy()
        encoded.append(EncodedMargin(m.label, axes, target))
    _check_support(dense, encoded, names, categories)
    occupied = dense > 0
    cell_codes = tuple(c.astype(np.int64) for c in np.nonzero(occupied))
    enc = EncodedSample(names, categories, cell_codes, tuple(encoded))
    fitted, n_iter, history, error = ipf_dense(
        dense, [(m.axes, np.nan_to_num(m.target)) for m in encoded], tol=tol, max_iter=max_iter
    )
    seed_cells, fitted_cells = dense[occupied], fitted[occupied]
    result = TableResult(
        table=pd.Series(fitted[tuple(codes)], index=seed_series.index, name="fitted"),
        seed=seed_series.astype(float).rename("seed"),
        converged=bool(error <= tol),
        n_iter=n_iter,
        history=history,
        max_margin_error=error,
        method="ipf",
        tol=tol,
        margin_check=MarginCheck(enc, unit_totals(enc, seed_cells, fitted_cells)),
    )
    hint = "" if result.converged else explain_nonconvergence(
        enc, seed_cells, func="ipf", on_nonconvergence=on_nonconvergence)
    return finish(result, on_nonconvergence, hint=hint)


def _check_support(dense: np.ndarray, margins, names, categories) -> None:
    """Positive targets over cells where the seed is all zero can never be met."""
    for m in margins:
        others = tuple(a for a in range(dense.ndim) if a not in m.axes)
        support = (dense > 0).sum(axis=others) if others else (dense > 0)
        support = np.transpose(support, np.argsort(np.argsort(m.axes)))
        unlisted = np.isnan(m.target) & (support > 0)
        if unlisted.any():
            idx = next(zip(*np.nonzero(unlisted)))
            cell = ", ".join(f"{names[a]}={categories[a][i]!r}" for a, i in zip(m.axes, idx))
            raise UnknownCategoryError(
                f"margin '{m.label}' does not list the cell ({cell}) where the seed has mass; add it (0 is allowed)"
            )
        empty = (support == 0) & (np.nan_to_num(m.target) > 0)
        if empty.any():
            cells = [
                ", ".join(f"{names[a]}={categories[a][i]!r}" for a, i in zip(m.axes, idx))
                for idx in list(zip(*np.nonzero(empty)))[:5]
            ]
            raise StructuralInfeasibilityError(
                f"margin '{m.label}' has positive targets for ({'); ('.join(cells)}) where every seed cell is zero; "
                "zero seed cells stay zero, so IPF cannot reach them. Add a small seed value there or merge categories"
            )
