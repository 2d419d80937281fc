"""TierResult: one LLM-written persona tier as a tidy table, with what failed and what contradicted the census."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from .._summary import Summary, one_line_repr
from ..backends import Prompt
from ..errors import InputError
from ._schemas import TEMPLATE_SCHEMAS, TIER_SCHEMAS

__all__ = ["TierResult", "STATUSES", "flatten_fields", "field_columns", "field_dtypes", "read_tier_metadata",
           "METADATA_KEY", "schema_of"]

#: Status of a persona in a tier's table.
STATUSES = ("ok", "contradiction_flagged", "failed")
#: Parquet key-value metadata key holding the tier's JSON metadata.
METADATA_KEY = b"personacal.tier"


def schema_of(tier: str, version: str | None = None):
    """The pydantic schema of a prompt version (default: the tier's latest)."""
    return TIER_SCHEMAS[tier] if version is None else TEMPLATE_SCHEMAS[version]


def field_columns(tier: str, version: str | None = None) -> list[str]:
    """The tier's columns: schema fields in order, nested objects flattened as ``parent_child``.

    ``version``: the prompt version whose schema to read (default: the tier's latest).
    """
    out = []
    for name, info in schema_of(tier, version).model_fields.items():
        nested = info.annotation if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel) else None
        out += [f"{name}_{sub}" for sub in nested.model_fields] if nested else [name]
    return out


def field_dtypes(tier: str, version: str | None = None) -> dict[str, str]:
    """Nullable pandas dtypes of the tier's columns (failed personas leave them empty): Int64, boolean or string."""
    out = {}
    for name, info in schema_of(tier, version).model_fields.items():
        nested = info.annotation if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel) else None
        for column, annotation in ([(f"{name}_{k}", v.annotation) for k, v in nested.model_fields.items()]
                                   if nested else [(name, info.annotation)]):
            out[column] = {int: "Int64", bool: "boolean"}.get(annotation, "string")
    return out


def flatten_fields(model: BaseModel) -> dict[str, Any]:
    """``big_five.openness`` -> ``big_five_openness``; lists -> JSON text (``'["family", "faith"]'``)."""
    out: dict[str, Any] = {}
    for name, value in model.model_dump().items():
        if isinstance(value, dict):
            out.update({f"{name}_{k}": v for k, v in value.items()})
        elif isinstance(value, list):
            out[name] = json.dumps(value, ensure_ascii=False)
        else:
            out[name] = value
    return out


@dataclass(frozen=True, eq=False)
class TierResult:
    """The personas of one LLM-written tier and how they came to be.

    Attributes
    ----------
    tier
        ``"objective"``, ``"subjective"`` or ``"descriptive"``.
    table
        One row per input persona, in input order (see :meth:`to_frame`).
    failures
        Personas without a schema-valid output: persona_id, n_attempts, reason
        (the last attempt's validation error, or why none was made).
    contradictions
        Every contradiction found in every attempt: persona_id, attempt,
        attribute, census_value, stated_value, evidence, kept (True when that
        attempt is the one in ``table``).
    contradiction_rates
        Per attribute checked in this tier: n_checked (personas with a valid
        output and a census value for it), n_first / rate_first (the first
        valid output contradicted it), n_final / rate_final (the kept output
        still does), n_regenerated (personas regenerated because of it).
    attempts
        Every request: persona_id, attempt, seed, correction (the
        contradictions the prompt told the model about; empty on a first
        attempt), outcome (ok | invalid | contradiction), reason,
        finish_reason, n_generated_tokens, text.
    prompt_version, model, settings
        How the tier was produced (``settings``: run seed, decoding settings,
        max_retries, regenerate_contradictions, census columns).
    blocks
        Each persona's rendered census facts and earlier-tier block, so
        :meth:`prompt` can rebuild any request exactly.
    """

    tier: str
    table: pd.DataFrame
    failures: pd.DataFrame
    contradictions: pd.DataFrame
    contradiction_rates: pd.DataFrame
    attempts: pd.DataFrame
    prompt_version: str
    model: str
    settings: dict[str, Any]
    census_columns: tuple[str, ...]
    blocks: Mapping[Any, tuple[str, str | None]] = field(default_factory=dict, repr=False)

    @property
    def field_columns(self) -> list[str]:
        return field_columns(self.tier, self.prompt_version)

    @property
    def status_counts(self) -> dict[str, int]:
        counts = self.table["status"].value_counts()
        return {s: int(counts.get(s, 0)) for s in STATUSES}

    def __repr__(self) -> str:
        return one_line_repr(self, tier=self.tier, prompt_version=self.prompt_version, model=self.model,
                             personas=len(self.table), **self.status_counts)

    def prompt(self, persona_id: Any, attempt: int = 1) -> Prompt:
        """The exact prompt of one persona's attempt (1 = the first)."""
        from ._prompts_tiers import TEMPLATES, build_tier_prompt, field_guide

        rows = self.attempts[(self.attempts["persona_id"] == persona_id) & (self.attempts["attempt"] == attempt)]
        if persona_id not in self.blocks or rows.empty:
            raise InputError(f"persona {persona_id!r} has no attempt {attempt} in this TierResult")
        census_block, previous_block = self.blocks[persona_id]
        fields = field_guide(TEMPLATE_SCHEMAS[self.prompt_version]) if self.tier != "descriptive" else ""
        return build_tier_prompt(TEMPLATES[self.prompt_version], census_block, previous_block, fields=fields,
                                 problems=rows["correction"].iloc[0], prompt_format=self.settings["prompt_format"])

    def to_frame(self) -> pd.DataFrame:
        """The tidy tier table.

        Columns: persona_id; the census columns of the input (and any other
        input columns, passed through unchanged); the tier's fields
        (:func:`field_columns`: nested objects flattened as
        ``big_five_openness``, lists as JSON text such as ``'["family",
        "faith"]'``, empty for failed personas); status (ok |
        contradiction_flagged | failed); n_attempts; prompt_version; model.
        """
        return self.table.copy()

    def to_personas(self, *, include_flagged: bool = True) -> pd.DataFrame:
        """Personas ready for :func:`personacal.simulate.simulate` or ``calibrate_tier``.

        persona_id, the input columns and the tier's fields of the personas
        with an output (failed ones are left out; flagged ones too when
        ``include_flagged=False``). The descriptive tier adds ``description``
        (the narrative), which simulate uses as the whole persona text.
        """
        keep = ["ok", "contradiction_flagged"] if include_flagged else ["ok"]
        frame = self.table[self.table["status"].isin(keep)]
        frame = frame.drop(columns=["status", "n_attempts", "prompt_version", "model"]).reset_index(drop=True)
        if self.tier == "descriptive":
            frame["description"] = frame["narrative"]
        return frame

    def metadata(self) -> dict[str, Any]:
        """What produced the tier, as JSON-able data (stored in Parquet key-value metadata)."""
        return {
            "tier": self.tier,
            "prompt_version": self.prompt_version,
            "model": self.model,
            "settings": self.settings,
            "census_columns": list(self.census_columns),
            "field_columns": self.field_columns,
            "status_counts": self.status_counts,
        }

    def to_parquet(self, path) -> Path:
        """Write :meth:`to_frame` with :meth:`metadata` under the ``personacal.tier`` key."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self.to_frame(), preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[METADATA_KEY] = json.dumps(self.metadata(), default=str).encode()
        pq.write_table(table.replace_schema_metadata(meta), path)
        return path

    def summary(self) -> Summary:
        counts = self.status_counts
        n = len(self.table)
        facts: dict[str, object] = {
            "tier": self.tier, "prompt version": self.prompt_version, "model": self.model, "personas": n,
            **{f"status {s}": c for s, c in counts.items()},
            "requests": len(self.attempts),
            "mean attempts per persona": float(self.table["n_attempts"].mean()) if n else float("nan"),
            "personas regenerated for contradictions": int(
                self.contradictions.loc[~self.contradictions["kept"], "persona_id"].nunique()
            ) if len(self.contradictions) else 0,
        }
        tables = {}
        if len(self.contradiction_rates):
            tables["contradictions with census attributes"] = self.contradiction_rates.set_index("attribute")
        if len(self.failures):
            reasons = self.failures["reason"].str.split(":").str[0].value_counts()
            tables["failure reasons"] = reasons.rename_axis("reason").rename("personas").to_frame()
        notes = []
        if not len(self.contradiction_rates):
            notes.append(f"the {self.tier} tier has no fields the census consistency checks read")
        if counts["failed"]:
            notes.append("failed personas have empty tier fields; see .failures for the reasons")
        return Summary(f"Persona tier: {self.tier}", facts=facts, tables=tables, notes=notes)


def read_tier_metadata(path) -> dict[str, Any]:
    """The metadata :meth:`TierResult.to_parquet` stored in a Parquet file."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if METADATA_KEY not in meta:
        raise InputError(f"{str(path)!r} holds no personacal tier metadata (key {METADATA_KEY.decode()!r})")
    return json.loads(meta[METADATA_KEY])
