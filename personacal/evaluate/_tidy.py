"""Checks shared by the pandas layer of :mod:`personacal.evaluate`: tables, columns, distributions.

Parameter checks go through :mod:`personacal._validation`; the constraints every
evaluate function shares (the confidence ``level``, ``n_boot``) are declared here once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validation import InstanceOf, Interval, check_param
from ..errors import DistributionError, InputError, InvalidValueError, MissingValueError

__all__ = [
    "as_frame",
    "as_column_list",
    "require_columns",
    "require_complete",
    "check_probability_column",
    "check_sums",
    "per_unit_values",
    "resolve_unit_weights",
    "format_key",
    "listed",
    "plain",
    "LEVEL",
    "N_BOOT",
]

#: A confidence level, strictly between 0 and 1 (default 0.95 everywhere in evaluate).
LEVEL = Interval("real", 0, 1, closed="neither")
#: Number of bootstrap replicates; 0 means no bootstrap.
N_BOOT = Interval("int", 0, None)

_DATAFRAME = InstanceOf(pd.DataFrame, name="a pandas DataFrame")


class _ColumnNames:
    """The constraint "a column name or a list of column names" (for :func:`check_param`)."""

    def is_satisfied_by(self, value) -> bool:
        return isinstance(value, str) or (isinstance(value, Sequence) and all(isinstance(c, str) for c in value))

    def __str__(self) -> str:
        return "a column name or a list of column names"


_COLUMNS = _ColumnNames()


def as_frame(obj, *, func: str, arg: str) -> pd.DataFrame:
    check_param(func, arg, obj, _DATAFRAME)
    if obj.empty:
        raise InputError(f"`{arg}` of {func} is empty; it needs at least one row")
    return obj


def as_column_list(columns, *, func: str, arg: str) -> list[str]:
    """``None`` -> ``[]``, a name -> ``[name]``, a list of names -> itself (no repeats)."""
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    check_param(func, arg, columns, _COLUMNS)
    if len(set(columns)) != len(columns):
        raise InputError(f"`{arg}` of {func} repeats a column: {list(columns)}")
    return list(columns)


def require_columns(frame: pd.DataFrame, columns: Sequence[str], *, func: str, arg: str, fmt: str = "") -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        hint = f" (expected format: {fmt})" if fmt else ""
        raise InputError(
            f"`{arg}` of {func} lacks column(s) {missing}; it has {list(frame.columns)}{hint}"
        )


def require_complete(frame: pd.DataFrame, columns: Sequence[str], *, func: str, arg: str) -> None:
    for c in columns:
        bad = frame[c].isna()
        if bad.any():
            rows = frame.index[bad][:5].tolist()
            raise MissingValueError(
                f"column '{c}' of `{arg}` ({func}) has {int(bad.sum())} missing value(s) (rows {rows}); fill them"
            )


def plain(value):
    """A numpy scalar as the Python value it holds, so messages show ``3.0`` and not ``np.float64(3.0)``."""
    return value.item() if isinstance(value, np.generic) else value


def listed(items, most: int = 5) -> str:
    """The first ``most`` items, an ellipsis when there are more, and the count: ``['a', 'b'] ... (7)``."""
    items = list(items)
    return f"{items[:most]}{' ...' if len(items) > most else ''} ({len(items)})"


def format_key(names: Sequence[str], values) -> str:
    values = values if isinstance(values, tuple) else (values,)
    return ", ".join(f"{n}={plain(v)!r}" for n, v in zip(names, values))


def check_probability_column(
    frame: pd.DataFrame, column: str, key_columns: Sequence[str], *, func: str, arg: str
) -> np.ndarray:
    """Return ``frame[column]`` as floats; NaN, infinite or negative entries raise naming the row's keys."""
    try:
        values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise DistributionError(f"column '{column}' of `{arg}` ({func}) must be numeric ({exc})") from exc
    for bad, what in ((~np.isfinite(values), "NaN or infinite"), (values < 0, "negative")):
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            where = format_key(key_columns, tuple(frame[list(key_columns)].iloc[first]))
            raise DistributionError(
                f"column '{column}' of `{arg}` ({func}) has {int(bad.sum())} {what} value(s), the first at "
                f"{where} ({plain(values[first])!r}); probabilities and shares must be finite and >= 0"
            )
    return values


def check_sums(
    keys: pd.DataFrame, sums: np.ndarray, *, tol: float, column: str, func: str, arg: str
) -> None:
    """Raise when a distribution (one row of ``keys``) does not sum to 1 within ``tol``."""
    off = np.abs(sums - 1.0) > tol
    if off.any():
        order = np.argsort(-np.abs(sums - 1.0))
        shown = "; ".join(
            f"{format_key(list(keys.columns), tuple(keys.iloc[i]))} sums to {sums[i]:.8g}"
            for i in order[: min(3, int(off.sum()))]
        )
        raise DistributionError(
            f"{int(off.sum())} distribution(s) in column '{column}' of `{arg}` ({func}) do not sum to 1 "
            f"(tolerance {tol:g}): {shown}. Normalise each distribution (refusals included) so it sums to 1"
        )


def per_unit_values(frame: pd.DataFrame, unit: str, column: str, units: pd.Index, *, func: str, arg: str) -> np.ndarray:
    """One value of ``column`` per unit (in ``units`` order); raises if a unit carries two values."""
    pairs = frame[[unit, column]].drop_duplicates()
    dup = pairs[unit].duplicated(keep=False)
    if dup.any():
        bad = pairs.loc[dup, unit].iloc[0]
        vals = pairs.loc[pairs[unit] == bad, column].tolist()[:5]
        raise InputError(
            f"column '{column}' of `{arg}` ({func}) must be constant within each {unit}; "
            f"{unit}={plain(bad)!r} has {[plain(v) for v in vals]}"
        )
    return pairs.set_index(unit)[column].reindex(units).to_numpy()


def resolve_unit_weights(
    frame: pd.DataFrame, unit: str, units: pd.Index, weights, *, func: str, arg: str
) -> np.ndarray | None:
    """Unit weights from a column name of ``frame`` or a Series indexed by unit id; ``None`` stays ``None``."""
    if weights is None:
        return None
    check_param(func, "weights", weights,
                InstanceOf(str, pd.Series, name=f"a column name of `{arg}` or a pandas Series indexed by {unit}"))
    if isinstance(weights, str):
        require_columns(frame, [weights], func=func, arg=arg)
        w = per_unit_values(frame, unit, weights, units, func=func, arg=arg)
    else:
        missing = units.difference(weights.index)
        if len(missing):
            raise InputError(
                f"`weights` of {func} has no weight for {len(missing)} {unit}(s), e.g. {missing[:5].tolist()}"
            )
        w = weights.reindex(units).to_numpy()
    try:
        w = np.asarray(w, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"`weights` of {func} must be numeric ({exc})") from exc
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise InvalidValueError(
            f"`weights` of {func} must be finite and >= 0; {unit}={plain(units[np.flatnonzero(bad)[0]])!r} has "
            f"{plain(w[bad][0])!r} ({int(bad.sum())} bad weight(s))"
        )
    if not w.sum() > 0:
        raise InvalidValueError(f"`weights` of {func} are all 0")
    return w
