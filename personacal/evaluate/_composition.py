"""How well a persona table's composition matches census margins (1-D and joint).

Tidy input formats
------------------
``personas``: one row per persona with one column per margin variable (the
names used as keys of the :class:`~personacal.calibrate.Margins`, e.g.
``age``, ``sex``) and optionally a weight column. ``margins``: a ``Margins``
(population totals; shares are derived by dividing by each margin's total)
or a mapping accepted by ``Margins(...)``.

For each margin and each category (or, for a multi-way margin such as
``("age", "sex")``, each joint cell) the result gives the target share, the
personas' (weighted) share, difference = persona - target, relative error =
difference / target (``inf`` where the target is 0 but personas are there, 0
where both are 0), and per margin the total variation distance
``TVD = 0.5 * sum |difference|`` (joint margins compare the personas' joint
shares, so they catch dependence the 1-D margins miss).

Persona categories that the margins do not list are never dropped: by default
they raise :class:`UnknownCategoryError` (or :class:`CategoryTypeError` when
they match a listed category only as text, ``"1"`` vs ``1``); with
``unknown="report"`` they are kept as extra cells with target share 0,
``in_margins=False``, count in the TVD, and are listed on ``.unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from .._random import RandomState
from .._summary import Summary, one_line_repr
from .._validation import InstanceOf, Options, check_param, check_params, renamed_parameters
from ..calibrate import Margins
from ..errors import CategoryTypeError, InputError, InvalidValueError, UnknownCategoryError
from ._bootstrap import BootstrapResult, bootstrap, weighted_counts
from ._tidy import LEVEL, N_BOOT, as_frame, require_columns, require_complete

__all__ = ["CompositionResult", "composition_error"]

FUNC = "composition_error"
_CONSTRAINTS = {"margins": InstanceOf(Margins, Mapping, name="a Margins or a mapping"),
                "unknown": Options(("raise", "report")), "n_boot": N_BOOT, "level": LEVEL}


@dataclass(frozen=True, eq=False)
class CompositionResult:
    """Per-cell and per-margin composition errors of a persona table.

    ``cells``: margin, one column per variable (empty where the margin does
    not use it), target_share, persona_share, difference, relative_error,
    in_margins. ``per_margin``: margin, kind ("marginal"/"joint"),
    n_cells, tvd, max_abs_difference (+ ci_low/ci_high of the TVD with
    bootstrap). ``unknown``: persona cells the margins do not list.
    """

    cells: pd.DataFrame
    per_margin: pd.DataFrame
    unknown: pd.DataFrame
    n_personas: int
    weighted: bool
    bootstrap: BootstrapResult | None

    def tvd(self, margin) -> float:
        """TVD of one margin, by key (``"age"`` or ``("age", "sex")``) or label (``"age:sex"``)."""
        label = margin if isinstance(margin, str) else ":".join(margin)
        row = self.per_margin[self.per_margin["margin"] == label]
        if row.empty:
            raise KeyError(f"no margin {label!r}; have {self.per_margin['margin'].tolist()}")
        return float(row["tvd"].iloc[0])

    def to_frame(self, level: str = "cell") -> pd.DataFrame:
        """Tidy results at ``level`` ``"cell"`` or ``"margin"``."""
        check_param("CompositionResult.to_frame", "level", level, Options(("cell", "margin")))
        return self.cells.copy() if level == "cell" else self.per_margin.copy()

    def summary(self) -> Summary:
        worst = self.per_margin.sort_values("tvd", ascending=False).iloc[0]
        facts = {
            "personas": self.n_personas,
            "weighted": self.weighted,
            "margins": len(self.per_margin),
            "largest TVD": f"{worst['tvd']:.4f} ({worst['margin']})",
        }
        cells = self.cells.assign(_abs=self.cells["difference"].abs()).sort_values("_abs", ascending=False)
        tables = {"per margin": self.per_margin, "largest cell differences": cells.drop(columns="_abs").head(10)}
        notes = ["difference = persona share - target share; TVD = 0.5 * sum |difference| per margin."]
        if len(self.unknown):
            tables["persona categories not in the margins"] = self.unknown
            notes.append("categories not in the margins are kept with target share 0 and count in the TVD.")
        return Summary("Persona composition vs margins", facts, tables, notes)

    def __repr__(self) -> str:
        worst = self.per_margin.loc[self.per_margin["tvd"].idxmax()]
        return one_line_repr(self, n_personas=self.n_personas, margins=len(self.per_margin),
                             largest_tvd=float(worst["tvd"]), worst_margin=worst["margin"], weighted=self.weighted)


def _weights(frame: pd.DataFrame, weights) -> np.ndarray | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        require_columns(frame, [weights], func=FUNC, arg="personas")
        w = frame[weights].to_numpy()
    else:
        w = np.asarray(weights)
        if w.shape != (len(frame),):
            raise InputError(
                f"`weights` of {FUNC} must be a column name or have one entry per persona ({len(frame)}); "
                f"got shape {w.shape}"
            )
    try:
        w = w.astype(float)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"`weights` of {FUNC} must be numeric ({exc})") from exc
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any() or not w.sum() > 0:
        raise InvalidValueError(
            f"`weights` of {FUNC} must be finite, >= 0 and not all 0; {int(bad.sum())} bad value(s), "
            f"e.g. row {frame.index[np.flatnonzero(bad)[0]] if bad.any() else None!r}"
        )
    return w


def _check_variable(personas: pd.DataFrame, variable: str, known: pd.Index) -> None:
    values = personas[variable]
    extra = values[~values.isin(known)]
    if extra.empty:
        return
    counts = extra.value_counts()
    known_text = {str(k): k for k in known}
    as_text = [c for c in counts.index if str(c) in known_text]
    if as_text:
        c = as_text[0]
        raise CategoryTypeError(
            f"column '{variable}' of `personas` ({FUNC}) holds {c!r} ({type(c).__name__}) where the margins "
            f"list {known_text[str(c)]!r} ({type(known_text[str(c)]).__name__}); convert the column or the margins "
            "to one type"
        )
    shown = ", ".join(f"{c!r} ({n} personas)" for c, n in list(counts.items())[:5])
    raise UnknownCategoryError(
        f"column '{variable}' of `personas` ({FUNC}) has categories the margins do not list: {shown}; "
        f"the margins list {known.tolist()[:10]}. Recode them or pass unknown='report' to list them as cells "
        "with target share 0"
    )


def _relative(diff: np.ndarray, target: np.ndarray) -> np.ndarray:
    out = np.where(diff == 0, 0.0, np.copysign(np.inf, diff))
    np.divide(diff, target, out=out, where=target > 0)
    return out


@renamed_parameters(ci="level")
def composition_error(
    personas: pd.DataFrame,
    margins: Margins | Mapping,
    *,
    weights: str | np.ndarray | None = None,
    unknown: str = "raise",
    n_boot: int = 0,
    level: float = 0.95,
    strata: str | None = None,
    random_state: RandomState = None,
    progress: bool | None = None,
) -> CompositionResult:
    """Compare the personas' (weighted) category shares with the margins' shares.

    Parameters
    ----------
    personas
        One row per persona, a column per margin variable.
    margins
        Targets (``Margins`` or a mapping for ``Margins``); multi-way keys are
        compared on the personas' joint shares.
    weights
        ``None`` (equal), a column name of ``personas`` or an array per persona.
    unknown
        ``"raise"`` (default) or ``"report"``; see the module docstring.
    n_boot, level, strata, random_state, progress
        Bootstrap personas (weights attached; within ``strata``, a column of
        ``personas``, when given) for intervals on each margin's TVD. The TVD
        is a sum of absolute values, so its bootstrap distribution sits above
        the estimate when the true TVD is near 0; read such intervals as
        "how large sampling noise alone makes the TVD", not as centred CIs.
    """
    frame = as_frame(personas, func=FUNC, arg="personas")
    check_params(FUNC, _CONSTRAINTS, {"margins": margins, "unknown": unknown, "n_boot": n_boot, "level": level})
    if not isinstance(margins, Margins):
        margins = Margins(margins)
    variables = list(margins.variables)
    require_columns(frame, variables, func=FUNC, arg="personas", fmt=f"one column per margin variable {variables}")
    require_complete(frame, variables, func=FUNC, arg="personas")
    if unknown == "raise":
        for v in variables:
            _check_variable(frame, v, margins.categories(v))
    w = _weights(frame, weights)
    n = len(frame)
    unit_w = np.ones(n) if w is None else w

    rows, summaries, unknown_rows, codes = [], [], [], []
    for m in margins:
        target_index = m.values.index
        keys = (pd.Index(frame[m.variables[0]]) if len(m.variables) == 1
                else pd.MultiIndex.from_frame(frame[list(m.variables)]))
        code = target_index.get_indexer(keys)
        cells = list(target_index)
        target = list(m.values.to_numpy() / m.total)
        in_margins = [True] * len(cells)
        if (code < 0).any():
            extra = keys[code < 0].unique()
            if unknown == "raise":
                raise UnknownCategoryError(
                    f"margin '{m.label}' does not list the persona cell(s) {extra.tolist()[:5]} ({FUNC}), although "
                    "each category is known; add the cell(s) to the margin (with 0 if truly empty) or pass "
                    "unknown='report'"
                )
            code[code < 0] = len(cells) + extra.get_indexer(keys[code < 0])
            cells += list(extra)
            target += [0.0] * len(extra)
            in_margins += [False] * len(extra)
        share = np.bincount(code, weights=unit_w, minlength=len(cells)) / unit_w.sum()
        target = np.asarray(target)
        diff = share - target
        codes.append((code, len(cells), target))
        for cell, t, s, d, r, known in zip(cells, target, share, diff, _relative(diff, target), in_margins):
            values = cell if isinstance(cell, tuple) else (cell,)
            row = {"margin": m.label, **dict(zip(m.variables, values)), "target_share": t, "persona_share": s,
                   "difference": d, "relative_error": r, "in_margins": known}
            rows.append(row)
            if not known:
                unknown_rows.append({k: row[k] for k in ("margin", *m.variables, "persona_share")})
        summaries.append({"margin": m.label, "kind": "marginal" if len(m.variables) == 1 else "joint",
                          "n_cells": len(cells), "tvd": 0.5 * np.abs(diff).sum(),
                          "max_abs_difference": np.abs(diff).max()})

    cell_table = pd.DataFrame(rows, columns=["margin", *variables, "target_share", "persona_share", "difference",
                                             "relative_error", "in_margins"])
    per_margin = pd.DataFrame(summaries)
    boot = None
    if n_boot:
        boot = _bootstrap(frame, codes, w, strata, per_margin["margin"].tolist(), n_boot=n_boot, level=level,
                          random_state=random_state, progress=progress)
        per_margin["ci_low"], per_margin["ci_high"] = boot.ci_low, boot.ci_high
    return CompositionResult(
        cells=cell_table,
        per_margin=per_margin,
        unknown=pd.DataFrame(unknown_rows, columns=["margin", *variables, "persona_share"]),
        n_personas=n,
        weighted=w is not None,
        bootstrap=boot,
    )


def _bootstrap(frame, codes, w, strata, labels, *, n_boot, level, random_state, progress):
    n = len(frame)
    labels_strata = None
    if strata is not None:
        if not isinstance(strata, str) or strata not in frame.columns:
            raise InputError(f"`strata` of {FUNC} must name a column of `personas`; got {strata!r}")
        labels_strata = frame[strata].to_numpy()
    onehots = [(sparse.csr_array((np.ones(n), (np.arange(n), code)), shape=(n, k)), target)
               for code, k, target in codes]

    def statistic(idx, resampled_weights):
        totals = weighted_counts(idx, n, resampled_weights)
        mass = totals.sum(axis=1, keepdims=True)
        out = [0.5 * np.abs((onehot.T @ totals.T).T / mass - target).sum(axis=1) for onehot, target in onehots]
        return np.column_stack(out)

    return bootstrap(statistic, n, weights=w, strata=labels_strata, n_boot=n_boot, random_state=random_state,
                     level=level, vectorized=True, names=[f"tvd[{m}]" for m in labels], progress=progress)
