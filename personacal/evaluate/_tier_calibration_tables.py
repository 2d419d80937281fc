"""The tables of :func:`calibrate_tier`: findings about the generator, skew, lean and what the weights cost."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import EmptyCategoryError
from ._answers_table import ALL
from ._weights import weight_table

__all__ = ["LEANS", "findings_table", "drop_findings", "share_table", "lean_table", "cost_table", "findings_message"]

FUNC = "calibrate_tier"
#: Variables with a left / right reading: (left categories, right categories).
LEANS = {
    "ideology": (("very liberal", "liberal"), ("conservative", "very conservative")),
    "party_id": (("Democrat",), ("Republican",)),
    "vote_2020": (("Biden",), ("Trump",)),
}


def findings_table(frame: pd.DataFrame, d: np.ndarray, psych: dict, by: str | None, min_personas: int) -> pd.DataFrame:
    rows = []
    for area, shares in psych.items():
        mask = np.ones(len(frame), bool) if area is None else (frame[by].astype(str) == area).to_numpy()
        for variable, target in shares.items():
            counts = frame.loc[mask & (d > 0), variable].value_counts()
            for category, share in target.items():
                n = int(counts.get(category, 0))
                if share > 0 and n < min_personas:
                    rows.append({"region": ALL if area is None else area, "variable": variable,
                                 "category": category, "personas": n, "target_share": float(share)})
    return pd.DataFrame(rows, columns=["region", "variable", "category", "personas", "target_share"])


def drop_findings(psych: dict, findings: pd.DataFrame, frame: pd.DataFrame, d: np.ndarray, by: str | None) -> dict:
    """Targets without the findings' categories: each keeps its tier share (0 without personas), the rest fill up."""
    out = {}
    for area, shares in psych.items():
        region = ALL if area is None else area
        mask = np.ones(len(frame), bool) if area is None else (frame[by] == area).to_numpy()
        out[area] = {}
        for variable, target in shares.items():
            gone = list(findings.loc[(findings["region"] == region) & (findings["variable"] == variable), "category"])
            if not gone:
                out[area][variable] = target
                continue
            kept = target.drop(gone)
            if kept.sum() <= 0:
                raise EmptyCategoryError(
                    f"{FUNC}: no target category of {variable!r} has personas{'' if area is None else f' in {area}'}; "
                    "the tier cannot be raked on it at all"
                )
            held = pd.Series({c: d[mask & (frame[variable] == c).to_numpy()].sum() / d[mask].sum() for c in gone})
            out[area][variable] = pd.concat([kept / kept.sum() * (1 - held.sum()), held]).reindex(target.index)
    return out


def share_table(frame: pd.DataFrame, psych: dict, by: str | None, weightings: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for area, shares in psych.items():
        mask = np.ones(len(frame), bool) if area is None else (frame[by].astype(str) == area).to_numpy()
        for variable, target in shares.items():
            values = frame.loc[mask, variable].to_numpy(dtype=object)
            counts = pd.Series(values).value_counts()
            for category, share in target.items():
                row = {"region": ALL if area is None else area, "variable": variable, "category": category,
                       "target_share": float(share)}
                hit = values == category
                for name, w in weightings.items():
                    wm = w[mask]
                    row[name] = float(wm[hit].sum() / wm.sum())
                row["personas"] = int(counts.get(category, 0))
                rows.append(row)
    out = pd.DataFrame(rows)
    out["skew_before"] = out["tier_share"] - out["target_share"]
    out["skew_after"] = out["weighted_share"] - out["target_share"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["weight_multiplier"] = np.where(out["tier_share"] > 0, out["weighted_share"] / out["tier_share"], np.nan)
    return out


def lean_table(skew: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (region, variable), block in skew.groupby(["region", "variable"], sort=False):
        if variable not in LEANS:
            continue
        left, right = LEANS[variable]
        row = {"region": region, "variable": variable}
        sides = {}
        for label, col in (("before", "tier_share"), ("target", "target_share"), ("after", "weighted_share")):
            lshare = float(block.loc[block["category"].isin(left), col].sum())
            rshare = float(block.loc[block["category"].isin(right), col].sum())
            row[f"left_{label}"], row[f"right_{label}"] = lshare, rshare
            sides[label] = lshare - rshare
        row["net_lean_before"] = sides["before"] - sides["target"]
        row["net_lean_after"] = sides["after"] - sides["target"]
        rows.append(row)
    return pd.DataFrame(rows)


def cost_table(frame: pd.DataFrame, by: str | None, w: np.ndarray, w_census: np.ndarray | None) -> pd.DataFrame:
    regions = None if by is None else frame[by].astype(str).to_numpy()
    table = weight_table(w, regions, pooled=ALL).rename(columns={"rows": "n_personas"})
    if w_census is not None:
        census = weight_table(w_census, regions, pooled=ALL, keys=("ess", "design_effect"))
        table[["ess_census", "design_effect_census"]] = census[["ess", "design_effect"]].to_numpy()
    return table


def findings_message(findings: pd.DataFrame, n: int) -> str:
    parts = [
        f"{row.variable} = {row.category!r}{'' if row.region == ALL else f' in {row.region}'}: {row.personas} "
        f"persona(s) (target share {row.target_share:.1%})"
        for row in findings.itertuples(index=False)
    ]
    return (
        f"{FUNC}: the tier ({n} personas) has (almost) no personas in target categories that real surveys "
        f"fill, so no weights can reach the targets. This is a finding about the generator: {'; '.join(parts)}. "
        "Generate more such personas, or pass empty='drop' to leave these categories out of the targets (noted "
        "in the result)"
    )
