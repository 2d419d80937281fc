"""CensusMargins: a Margins that also says where every margin came from and how it was scaled."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .._summary import Summary, one_line_repr
from ..calibrate import Margins

__all__ = ["CensusMargins"]


class CensusMargins(Margins):
    """Margins for one state and one population universe, with their provenance.

    It is a :class:`~personacal.calibrate.Margins` (use it wherever Margins are accepted); the
    extra attributes record what the loader did:

    ``universe``
        The population the totals describe ("adult" = 18+, "total", "16+", "25+", "households").
    ``anchor``
        "acs" (ACS 2023 DP05/DP02 universe totals) or "pep" (PEP 2023 civilian population).
    ``provenance``
        One row per margin: source table, source universe, source total, target total, the scale
        factor applied, and the rule ("native", "rescaled", "shares", "conditional on sex").
    ``moe``
        ``{margin key: Series}`` of 90% margins of error scaled like the estimates; NaN where the
        source files carry no MOE (DP02/DP03/DP05 snapshots have none; S2401 has them).
    ``notes``
        One sentence per margin that was not taken as published.
    """

    def __init__(
        self,
        margins: Mapping,
        *,
        rescale_to=None,
        check_consistency: bool = True,
        name: str | None = None,
        universe: str | None = None,
        anchor: str | None = None,
        provenance: pd.DataFrame | None = None,
        moe: Mapping | None = None,
        notes: tuple[str, ...] = (),
    ):
        super().__init__(margins, rescale_to=rescale_to, check_consistency=check_consistency, name=name)
        self.universe = universe
        self.anchor = anchor
        self.provenance = pd.DataFrame() if provenance is None else provenance.reset_index(drop=True)
        self.moe = {k: v.copy() for k, v in (moe or {}).items()}
        self.notes = tuple(notes)

    @property
    def state(self) -> str | None:
        return self.name

    def to_frame(self) -> pd.DataFrame:
        """Tidy long form (as :meth:`to_long`) plus a ``moe`` column."""
        frames = []
        for m in self:
            block = m.values.rename("value").reset_index()
            moe = self.moe.get(m.key)
            block["moe"] = float("nan") if moe is None else moe.reindex(m.values.index).to_numpy()
            block.insert(0, "margin", m.label)
            frames.append(block)
        out = pd.concat(frames, ignore_index=True)
        out = out[["margin", *self.variables, "value", "moe"]]
        out.insert(0, "universe", self.universe)
        out.insert(0, "state", self.name)
        return out

    def summary(self) -> Summary:
        return Summary(
            title=f"Census margins for {self.name} ({self.universe}, anchor {self.anchor})",
            facts={
                "state": self.name,
                "universe": self.universe,
                "anchor": self.anchor,
                "total": f"{self.total:,.0f}",
                "margins": ", ".join(m.label for m in self),
            },
            tables={"provenance": self._provenance_display()},
            notes=list(self.notes),
        )

    def _provenance_display(self) -> pd.DataFrame:
        shown = self.provenance.copy()
        for col in ("source_total", "target_total"):
            if col in shown:
                shown[col] = shown[col].round().astype("int64")
        return shown

    def __repr__(self) -> str:
        return one_line_repr(self, state=self.name, universe=self.universe, anchor=self.anchor, margins=len(self),
                             total=round(self.total))
