"""Rake an LLM-generated persona tier jointly on census attributes and psychographic targets.

The LLM tiers write ideology, party ID, religiosity and the recalled 2020 presidential
vote in fixed vocabularies (``personacal.generate._schemas``); the real 2020 results
(:func:`personacal.data.past_vote_targets`) and real surveys (ANES, GSS, Pew ATP; see
:func:`personacal.data.psychographic_targets`) say how those are distributed. One raking
over all personas hits the census margins (per region, as ``(region, variable)`` margins)
and the partisan / psychographic shares (national, or per region) at once. Without
``targets`` the default partisan target of election jobs is used: the recalled 2020 vote
raked to each state's 2020 result (exact counts, with non-voters from the adult population),
which is what pollsters weight on.

Tier values reach the target categories only through an explicit mapping (identity on
the schema vocabularies by default); anything else raises MappingError naming the values.
A target category the tier (almost) never produced cannot be reached by any weights: that
is reported as a finding about the generator, then raised (default) or, with
``empty="drop"``, dropped from the targets with a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._summary import Summary, one_line_repr
from .._validation import InstanceOf, Interval, Options, check_param, check_params
from ..calibrate import Margins, rake
from ..data import categories, past_vote_targets
from ..errors import EmptyCategoryError, InputError, MappingError, StructuralInfeasibilityError
from ._answers_table import ALL
from ._tidy import as_frame, plain, require_columns
from ._tier_calibration_tables import (
    LEANS,
    cost_table,
    drop_findings,
    findings_message,
    findings_table,
    lean_table,
    share_table,
)
from ._weights import FACTS, fact_labels

__all__ = ["calibrate_tier", "TierCalibrationResult", "DEFAULT_MAPPINGS", "LEANS", "default_targets"]

FUNC = "calibrate_tier"
EMPTY = ("raise", "drop")
#: Identity maps on the tier schemas' vocabularies: the only values accepted without a mapping.
DEFAULT_MAPPINGS: dict[str, dict[str, str]] = {
    "ideology": {c: c for c in categories("ideology5")},
    "party_id": {c: c for c in categories("party_id4")},
    "religiosity": {c: c for c in categories("religiosity3")},
    "vote_2020": {c: c for c in categories("vote_2020")},
}
#: The default target variable: the recalled 2020 presidential vote.
DEFAULT_VARIABLE = "vote_2020"
_MISSING = "<missing>"
_CONSTRAINTS = {"empty": Options(EMPTY), "min_personas": Interval("int", 1, None)}
_TARGETS = InstanceOf(pd.DataFrame, Mapping, name="a DataFrame from psychographic_targets() or a mapping "
                                                  "{variable: shares}")


@dataclass(frozen=True, eq=False)
class TierCalibrationResult:
    """Weights that rake a tier's personas on census and LLM-generated attributes jointly.

    ``skew``: one row per (region,) variable x category: target_share, tier_share (the
    tier as generated, design weights), census_share (after census-only raking, when
    census margins were given), weighted_share (after the joint raking), skew_before =
    tier - target, skew_after = weighted - target, personas (count), weight_multiplier
    (weighted_share / tier_share: how much each persona of the category was scaled up)
    and status ("ok", or "dropped: N persona(s)" for a category left out of the targets with
    ``empty="drop"``: it keeps its share in the tier and its target_share is the survey's).

    ``lean``: per (region,) variable with a left/right reading (ideology: very liberal +
    liberal vs conservative + very conservative; party_id: Democrat vs Republican): the
    left and right shares before, in the target and after, and net_lean_before /
    net_lean_after = (left - right) - (left - right)_target (> 0: leans left of the target).

    ``cost``: per region (and ``"(all)"``) n_personas, ess, design_effect, weight_ratio of
    the joint weights, and ess_census / design_effect_census of census-only weights.

    ``findings``: target categories the tier cannot represent (fewer than
    ``min_personas`` personas): region, variable, category, personas, target_share, action.
    """

    weights: pd.Series
    skew: pd.DataFrame
    lean: pd.DataFrame
    cost: pd.DataFrame
    findings: pd.DataFrame
    sources: dict[str, str]
    calibration: object
    census_only: object | None = None
    mapping: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        return bool(self.calibration.converged)

    @property
    def ess(self) -> float:
        return float(self.cost.loc[self.cost["region"] == ALL, "ess"].iloc[0])

    @property
    def design_effect(self) -> float:
        return float(self.cost.loc[self.cost["region"] == ALL, "design_effect"].iloc[0])

    def to_frame(self) -> pd.DataFrame:
        """The per-category skew table (before, target, after)."""
        return self.skew.copy()

    def summary(self) -> Summary:
        overall = self.cost[self.cost["region"] == ALL].iloc[0]
        facts = {
            "personas": int(overall["n_personas"]),
            "psychographic variables": ", ".join(self.sources),
            "targets": "; ".join(f"{v}: {s}" for v, s in self.sources.items()),
            "converged": self.converged,
            "max margin error (relative)": float(self.calibration.max_margin_error),
            **{label: float(overall[key]) for key, label in fact_labels(FACTS[1:]).items()},
        }
        if "ess_census" in self.cost.columns:
            facts["ESS with census margins only"] = float(overall["ess_census"])
        tables = {}
        if len(self.lean):
            tables["Lean before / target / after"] = self.lean
        tables["Skew per category"] = self.skew
        tables["What the weights cost"] = self.cost
        if len(self.findings):
            tables["Findings about the generator"] = self.findings
        notes = list(self.notes)
        for row in self.findings.itertuples(index=False):
            where = f" in {row.region}" if row.region != ALL else ""
            notes.append(
                f"GENERATOR FINDING: the tier has {row.personas} persona(s) with {row.variable} = {row.category!r}"
                f"{where} against a target share of {row.target_share:.1%}; {row.action}."
            )
        return Summary("personacal tier calibration", facts, tables, notes)

    def __repr__(self) -> str:
        return one_line_repr(self, personas=len(self.weights), variables=", ".join(self.sources),
                             converged=self.converged, ess=self.ess, design_effect=self.design_effect,
                             findings=len(self.findings))


def _targets_from_frame(frame: pd.DataFrame, by: str | None) -> tuple[dict, dict[str, str]]:
    require_columns(frame, ["variable", "category", "share"], func=FUNC, arg="targets",
                    fmt="psychographic_targets(...) rows, or pass a mapping {variable: shares}")
    sources = {}
    for variable, block in frame.groupby("variable", sort=False):
        if "source" in block.columns:
            found = sorted(set(zip(block["source"], block.get("years", block["source"]))))
            if len(found) > 1:
                raise InputError(
                    f"`targets` of {FUNC} hold several sources for {variable!r}: {found}; keep one, e.g. "
                    f"psychographic_targets({variable!r}, source='GSS')"
                )
            sources[variable] = " ".join(map(str, found[0])) if found[0][0] != found[0][1] else str(found[0][0])
        else:
            sources[variable] = "user-supplied"
    areas = list(pd.unique(frame["area"])) if "area" in frame.columns else [None]
    national = len(areas) == 1 and (areas[0] in (None, "US") or by is None)
    if not national and by is None:
        raise InputError(
            f"`targets` of {FUNC} hold several areas {areas[:6]}; pass by=<persona region column> to match them "
            "per region, or select one area"
        )
    out: dict = {}
    for area, block in (frame.groupby("area", sort=False) if not national else [(None, frame)]):
        out[None if national else str(area)] = {
            str(v): pd.Series(b["share"].to_numpy(float), index=pd.Index(b["category"].astype(str), name=v))
            for v, b in block.groupby("variable", sort=False)
        }
    return out, sources


def default_targets(regions=None) -> pd.DataFrame:
    """The 2020 presidential result as shares of adults, per state (``regions``: postal codes) or national.

    Rows in the format of :func:`personacal.data.psychographic_targets` (area, variable,
    category, share, source, years), from :func:`personacal.data.past_vote_targets` (2020).
    """
    table = past_vote_targets(2020)
    if regions is None:
        counts = table.groupby("category", sort=False)["count"].sum()
        table = pd.DataFrame({"area": "US", "variable": DEFAULT_VARIABLE, "category": counts.index,
                              "share": (counts / counts.sum()).to_numpy(), "source": "MEDSL", "years": "2020"})
        return table
    unknown = sorted(set(map(str, regions)) - set(table["state"]))
    if unknown:
        raise InputError(f"the default targets of {FUNC} (the 2020 result per state) need state postal codes in the "
                         f"region column; got {unknown[:6]}. Pass `targets` for other regions")
    table = table[table["state"].isin(list(map(str, regions)))]
    return pd.DataFrame({"area": table["state"].to_numpy(), "variable": table["variable"].to_numpy(),
                         "category": table["category"].to_numpy(), "share": table["share"].to_numpy(),
                         "source": "MEDSL", "years": "2020"})


def _parse_targets(targets, by: str | None) -> tuple[dict, dict[str, str]]:
    """``{area or None: {variable: shares}}`` (``None``: national) and a source label per variable."""
    check_param(FUNC, "targets", targets, _TARGETS)
    if isinstance(targets, pd.DataFrame):
        return _targets_from_frame(targets, by)
    if not targets:
        raise InputError(f"`targets` of {FUNC} is an empty mapping; give {{variable: shares}}")
    shares = {}
    for variable, values in targets.items():
        series = pd.Series(values, dtype=float) if not isinstance(values, pd.Series) else values.astype(float)
        series.index = series.index.astype(str)
        shares[str(variable)] = series.rename_axis(str(variable))
    return {None: shares}, {v: "user-supplied" for v in shares}


def _check_shares(shares: pd.Series, variable: str, area) -> pd.Series:
    values = shares.to_numpy(float)
    where = f" for area {area!r}" if area is not None else ""
    if not np.all(np.isfinite(values)) or (values < 0).any():
        raise InputError(f"target shares of {variable!r}{where} ({FUNC}) must be finite and >= 0")
    if abs(values.sum() - 1) > 1e-6:
        raise InputError(
            f"target shares of {variable!r}{where} ({FUNC}) sum to {values.sum():.8g}, not 1; normalise them"
        )
    return shares


def _map_column(values: pd.Series, variable: str, column: str, mapping: Mapping, categories) -> pd.Series:
    """Tier values -> target categories through ``mapping``; unmapped or unmeasured values raise."""
    as_text = values.astype(object).where(values.notna(), _MISSING)
    unmapped = as_text[~as_text.isin(list(mapping))]
    if len(unmapped):
        counts = unmapped.value_counts()
        shown = ", ".join(f"{plain(v)!r} ({n})" for v, n in counts.head(12).items())
        raise MappingError(
            f"column {column!r} holds {variable} values with no entry in the mapping: {shown}"
            f"{' ...' if len(counts) > 12 else ''}. Pass mapping={{{variable!r}: {{value: category}}}} mapping each "
            f"of them onto one of {list(categories)} (nothing is guessed)"
        )
    mapped = as_text.map(dict(mapping))
    outside = mapped[~mapped.isin(list(categories))]
    if len(outside):
        counts = outside.value_counts()
        shown = ", ".join(f"{plain(v)!r} ({n})" for v, n in counts.items())
        raise MappingError(
            f"column {column!r}: {variable} categories {shown} are not measured by the targets, which list "
            f"{list(categories)}; map them onto a measured category via mapping={{{variable!r}: {{...}}}} or "
            "choose a source that measures them"
        )
    return mapped.astype(object)


def _map_tier(personas: pd.DataFrame, psych: dict, mapping, columns) -> tuple[pd.DataFrame, dict]:
    """A copy of the personas with one column per target variable holding target categories."""
    frame = personas.reset_index(drop=True).copy()
    columns = dict(columns or {})
    used = {}
    for area, shares in psych.items():
        for variable, target in shares.items():
            _check_shares(target, variable, area)
    for variable in next(iter(psych.values())):
        column = columns.get(variable, variable)
        if column not in frame.columns:
            raise InputError(
                f"`personas` of {FUNC} lacks column {column!r} for target variable {variable!r}; "
                "pass columns={variable: column}"
            )
        categories = list(dict.fromkeys(c for shares in psych.values() for c in shares[variable].index))
        default = DEFAULT_MAPPINGS.get(variable, {c: c for c in categories})
        used[variable] = {**default, **dict((mapping or {}).get(variable, {}))}
        frame[variable] = _map_column(frame[column], variable, column, used[variable], categories)
    return frame, used


def _region_totals(frame: pd.DataFrame, census, psych: dict, by: str | None, d: np.ndarray) -> tuple[dict, dict]:
    """Check that personas, census margins and regional targets name the same regions; population per region."""
    if by is None:
        return census, {None: census.total if census is not None else float(d.sum())}
    regions = [str(r) for r in pd.unique(frame[by])]
    if census is not None:
        census = {str(r): m for r, m in census.items()}
        absent, uncovered = sorted(set(census) - set(regions)), sorted(set(regions) - set(census))
        if absent:
            raise InputError(f"`census` of {FUNC} has margins for region(s) {absent[:10]} with no personas; drop them")
        if uncovered:
            raise InputError(f"personas are in region(s) {uncovered[:10]} that `census` of {FUNC} has no margins for")
    if None not in psych:
        mismatch = sorted(set(psych) ^ set(regions))
        if mismatch:
            raise InputError(f"psychographic targets and personas disagree on regions: {mismatch[:10]}")
    if census is not None:
        return census, {r: census[r].total for r in regions}
    return None, {r: float(d[(frame[by] == r).to_numpy()].sum()) for r in regions}


def _margins(census, psych: dict, by: str | None, totals: Mapping) -> Margins:
    """One pooled Margins: census per region as (by, v) margins, psychographics national or per region."""
    items: dict = {}
    if census is not None and by is not None:
        first = next(iter(census.values()))
        for m in first:
            values = {r: census[r][m.key] for r in census}
            items[(by, *m.variables)] = pd.concat(values, names=[by])
    elif census is not None:
        items.update({m.key: m.values for m in census})
    grand = float(sum(totals.values()))
    regional = {a: shares for a, shares in psych.items() if a is not None}
    for variable, target in psych.get(None, {}).items():
        items[variable] = target * grand
    for variable in next(iter(regional.values()), {}):
        items[(by, variable)] = pd.concat({a: regional[a][variable] * totals[a] for a in regional}, names=[by])
    if by is not None and census is None and None in psych:
        items[by] = pd.Series(totals, dtype=float).rename_axis(by)
    return Margins(items, name=None)


def calibrate_tier(
    personas: pd.DataFrame,
    targets=None,
    *,
    census: Margins | Mapping[str, Margins] | None = None,
    by: str | None = None,
    mapping: Mapping[str, Mapping] | None = None,
    columns: Mapping[str, str] | None = None,
    weights=None,
    empty: str = "raise",
    min_personas: int = 1,
    bounds: tuple[float, float] | None = None,
    tol: float = 1e-8,
    max_iter: int = 2000,
) -> TierCalibrationResult:
    """Rake a tier's personas on census margins and psychographic survey shares together.

    Parameters
    ----------
    personas
        One row per persona: census attribute columns (those of ``census``), the region
        column ``by``, and the LLM-written attributes (``ideology``, ``party_id``, ...).
    targets
        Shares per variable: rows of :func:`personacal.data.psychographic_targets`
        (one source per variable; several ``area`` values = one target per region of ``by``)
        or a mapping ``{variable: {category: share}}`` (national). Default (None): the
        recalled 2020 vote (``vote_2020``) raked to the 2020 result, per state with ``by``
        (postal codes), else national (:func:`default_targets`).
    census
        ``Margins`` (one pool) or ``{region: Margins}`` with ``by`` (every region the same
        margin keys); ``None`` rakes on the psychographic targets alone (with ``by`` the
        region persona totals are kept).
    mapping
        ``{variable: {tier value: target category}}``, merged over the identity maps of the
        schema vocabularies (:data:`DEFAULT_MAPPINGS`). Unlisted values raise MappingError.
    columns
        ``{variable: persona column}`` where a column is not named like its variable.
    weights
        Design weights: None, a column name or an array (one per persona).
    empty
        What to do with a target category that has fewer than ``min_personas`` personas:
        ``"raise"`` (EmptyCategoryError with the findings on ``.findings``) or ``"drop"``
        (leave it out of the targets, rescale that variable's other shares to 1, and report).
    bounds, tol, max_iter
        Passed to :func:`personacal.calibrate.rake`.
    """
    personas = as_frame(personas, func=FUNC, arg="personas")
    check_params(FUNC, _CONSTRAINTS, {"empty": empty, "min_personas": min_personas})
    if by is not None and by not in personas.columns:
        raise InputError(f"`by` of {FUNC} names column {by!r}, which `personas` lacks")
    if census is not None:
        if by is None and not isinstance(census, Margins):
            raise InputError(f"`census` of {FUNC} must be a Margins when `by` is None; got {type(census).__name__}")
        if by is not None and (not isinstance(census, Mapping) or isinstance(census, Margins)):
            raise InputError(f"with `by`, `census` of {FUNC} must be a mapping {{region: Margins}}")
    if targets is None:
        targets = default_targets(None if by is None else pd.unique(personas[by]))
    psych, sources = _parse_targets(targets, by)
    frame, used_mapping = _map_tier(personas, psych, mapping, columns)
    d = np.ones(len(frame)) if weights is None else (
        frame[weights].to_numpy(float) if isinstance(weights, str) else np.asarray(weights, dtype=float))
    if d.shape != (len(frame),) or not np.all(np.isfinite(d)) or (d < 0).any():
        raise InputError(f"`weights` of {FUNC} must give one finite, non-negative weight per persona")

    if by is not None:
        frame[by] = frame[by].astype(str)
    census_dict, totals = _region_totals(frame, census, psych, by, d)
    findings = findings_table(frame, d, psych, by, min_personas)
    notes = []
    targets_used = psych
    if len(findings):
        if empty == "raise":
            error = EmptyCategoryError(findings_message(findings, len(frame)))
            error.findings = findings.assign(action="raised")
            raise error
        targets_used = drop_findings(psych, findings, frame, d, by)
        findings = findings.assign(action="dropped from the targets: it keeps its share in the tier")
        notes.append("dropped categories keep the tier's own share (0 without personas); the other categories of "
                     "the variable share the rest in their target proportions")
    if by is not None and None in psych and census is not None:
        notes.append("national psychographic shares are matched over all regions pooled (census margins per region)")
    margins = _margins(census_dict, targets_used, by, totals)
    try:
        calibration = rake(frame, margins, weights=d, bounds=bounds, tol=tol, max_iter=max_iter)
    except (EmptyCategoryError, StructuralInfeasibilityError) as exc:
        raise type(exc)(
            f"{FUNC}: the tier's personas cannot carry the census and psychographic targets together: {exc}"
        ) from exc
    w = calibration.weights.to_numpy()
    census_only, w_census = None, None
    if census is not None:
        census_margins = _margins(census_dict, {}, by, totals)
        census_only = rake(frame, census_margins, weights=d, bounds=bounds, tol=tol, max_iter=max_iter,
                           on_nonconvergence="warn")
        w_census = census_only.weights.to_numpy()
    weightings = {"tier_share": d, **({} if w_census is None else {"census_share": w_census}), "weighted_share": w}
    skew = share_table(frame, psych, by, weightings)
    skew["status"] = "ok"
    for row in findings.itertuples(index=False):
        hit = (skew["region"] == row.region) & (skew["variable"] == row.variable) & (skew["category"] == row.category)
        skew.loc[hit, "status"] = f"dropped: {row.personas} persona(s)"
    ids = frame["persona_id"] if "persona_id" in frame.columns else personas.index
    return TierCalibrationResult(
        weights=pd.Series(w, index=pd.Index(ids, name="persona_id"), name="weight"),
        skew=skew,
        lean=lean_table(skew),
        cost=cost_table(frame, by, w, w_census),
        findings=findings if len(findings) else findings.assign(action=pd.Series(dtype=object)),
        sources=sources,
        calibration=calibration,
        census_only=census_only,
        mapping=used_mapping,
        notes=tuple(notes),
    )
