"""generate_tier(): an LLM writes one persona tier on top of the census attributes (and earlier tiers)."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import ValidationError
from tqdm.auto import tqdm

from .._random import RandomState, check_random_state, derive_seed, item_rng
from .._validation import InstanceOf, Interval, Options, check_param, check_params
from ..backends import Backend, BaseBackend, GenerationOutput, SamplingParams
from ..errors import BackendError, DiagnosticsWarning, InputError
from ._consistency import Contradiction, check_fields, check_text
from ._consistency_census import census_facts, resolve_census_columns
from ._prompts_tiers import (
    DEFAULT_TEMPLATES,
    PROMPT_FORMATS,
    TEMPLATES,
    build_tier_prompt,
    describe_problems,
    field_guide,
    render_census,
    render_previous,
)
from ._schemas import TEMPLATE_SCHEMAS, Descriptive
from ._tier_result import TierResult, field_columns, field_dtypes, flatten_fields

__all__ = ["generate_tier", "TIERS", "PREVIOUS_TIERS", "DEFAULT_MAX_TOKENS"]

logger = logging.getLogger(__name__)
FUNC = "generate_tier"
TIERS = ("objective", "subjective", "descriptive")
#: The earlier tiers each tier may build on (as in the seed paper, each tier adds to the ones before).
PREVIOUS_TIERS = {"objective": (), "subjective": ("objective",), "descriptive": ("objective", "subjective")}
DEFAULT_MAX_TOKENS = {"objective": 256, "subjective": 384, "descriptive": 700}
BOOKKEEPING = ("status", "n_attempts", "prompt_version", "model")
ATTEMPT_COLUMNS = ["persona_id", "attempt", "seed", "correction", "outcome", "reason", "finish_reason",
                   "n_generated_tokens", "text"]


@dataclass
class _Persona:
    """What one persona's attempts have produced so far."""

    pid: Any
    census_block: str
    previous_block: str | None
    facts: dict
    attempts: int = 0
    kept: dict | None = None
    kept_attempt: int | None = None
    problems: list[Contradiction] = field(default_factory=list)
    first_valid: tuple[list[Contradiction], set[str]] | None = None
    final: tuple[list[Contradiction], set[str]] | None = None
    status: str | None = None
    reason: str = ""
    regenerated_for: set[str] = field(default_factory=set)


def generate_tier(
    personas: pd.DataFrame,
    tier: str,
    backend: Backend,
    *,
    previous=None,
    random_state: RandomState = None,
    max_retries: int = 2,
    regenerate_contradictions: bool = True,
    temperature: float = 0.9,
    top_p: float = 1.0,
    max_tokens: int | None = None,
    allow_truncated: bool = False,
    template: str | None = None,
    census_columns: Sequence[str] | None = None,
    check_columns: Mapping[str, str | None] | None = None,
    prompt_format: str = "chat",
    progress: bool = True,
) -> TierResult:
    """Have an LLM write one persona tier, checked against the census attributes.

    Parameters
    ----------
    personas
        Meta personas: ``persona_id`` plus census attribute columns (any
        table; unknown columns are stated as facts too and pass through).
    tier
        ``"objective"`` or ``"subjective"`` (one JSON object per persona,
        guided decoding with the tier's pydantic schema, then validated by
        it) or ``"descriptive"`` (a free-text narrative, validated by
        :class:`~personacal.generate._schemas.Descriptive`).
    backend
        Any :class:`personacal.backends.Backend`; each retry round is one batch.
    previous
        Earlier tiers the prompt builds on (:data:`PREVIOUS_TIERS`): a
        TierResult, its ``to_frame()``, or a list of them. A persona whose
        earlier tier failed is recorded as failed here too.
    random_state
        Run seed. Each request's seed derives from it, the tier, the persona id
        and the attempt number, so a persona's output does not depend on the
        other personas or their order.
    max_retries
        Extra attempts per persona after the first, shared by schema-invalid
        replies and regenerations after a contradiction.
    regenerate_contradictions
        Regenerate personas whose valid output contradicts their census
        attributes (:mod:`._consistency`), telling the model what it got
        wrong; personas still contradicting after ``max_retries`` keep their
        last valid output with status ``contradiction_flagged``. With False,
        they are flagged at once.
    temperature, top_p, max_tokens
        Decoding settings (``max_tokens`` default per tier: :data:`DEFAULT_MAX_TOKENS`).
    allow_truncated
        Descriptive tier: accept a narrative cut off at ``max_tokens``
        (default: it counts as invalid and is retried).
    template
        Prompt template version (default: the latest of the tier); recorded per row.
    census_columns
        Columns stated as census facts (default: every column but
        ``persona_id``, ``weight``, ``description`` and ``_``-prefixed ones).
    check_columns
        ``{column: kind or None}`` for the consistency checks, over the
        columns they recognise by name (see :func:`find_contradictions`).
    prompt_format
        ``"chat"`` (system + user messages) or ``"text"``.
    progress
        An outer bar over retry rounds; the backend shows one per batch.
    """
    check_params(FUNC, {"tier": Options(TIERS), "prompt_format": Options(PROMPT_FORMATS),
                        "max_retries": Interval("int", 0, None), "max_tokens": [Interval("int", 1, None), None]},
                 {"tier": tier, "prompt_format": prompt_format, "max_retries": max_retries, "max_tokens": max_tokens})
    # Which templates are allowed depends on the tier.
    versions = sorted(v for v, t in TEMPLATES.items() if t.tier == tier)
    version = check_param(f"{FUNC}(tier={tier!r})", "template", template or DEFAULT_TEMPLATES[tier], Options(versions))
    max_tokens = DEFAULT_MAX_TOKENS[tier] if max_tokens is None else max_tokens
    check_param(FUNC, "backend", backend, InstanceOf(
        Backend, name="an implementation of personacal.backends.Backend (model, generate)"))
    ids = _persona_ids(personas)
    columns = _census_columns(personas, census_columns)
    kinds = resolve_census_columns(list(personas.columns), check_columns, func=FUNC)
    kinds = {c: k for c, k in kinds.items() if c in columns}
    prior = _previous(previous, tier, ids)
    run_seed = derive_seed(check_random_state(random_state, func=FUNC))
    schema = TEMPLATE_SCHEMAS[version]
    fields_text = field_guide(schema) if tier != "descriptive" else ""
    try:
        params = SamplingParams(
            temperature=temperature, top_p=top_p, max_tokens=max_tokens,
            json_schema=schema.model_json_schema() if tier != "descriptive" else None,
        )
    except ValidationError as exc:
        raise InputError(f"decoding settings of {FUNC} are invalid: {_errors(exc)}") from exc

    states = []
    for pid, row in zip(ids, personas.to_dict(orient="records")):
        block, missing = _previous_block(prior, pid)
        state = _Persona(pid, render_census(row, columns), block, census_facts(row, kinds))
        if missing:
            state.status, state.reason = "failed", f"previous tier {missing} has no output for this persona"
        states.append(state)

    tmpl = TEMPLATES[version]
    attempt_rows: list[dict] = []
    contradiction_rows: list[dict] = []
    rounds = 1 + int(max_retries)
    pending = [s for s in states if s.status is None]
    with tqdm(total=rounds, desc=f"{tier} tier (rounds)", disable=not progress) as bar:
        for _ in range(rounds):
            if not pending:
                break
            prompts, per_request, corrections = [], [], []
            for s in pending:
                corrections.append(describe_problems(s.problems) if s.problems else "")
                prompts.append(build_tier_prompt(tmpl, s.census_block, s.previous_block, fields=fields_text,
                                                 problems=corrections[-1], prompt_format=prompt_format))
                seed = derive_seed(item_rng(run_seed, str(s.pid), f"{tier}#{s.attempts + 1}"))
                per_request.append(params.model_copy(update={"seed": seed}))
            logger.info("%s tier: %d request(s), round %d of %d", tier, len(prompts), bar.n + 1, rounds)
            outputs = _generate(backend, prompts, per_request, progress)
            still = []
            for s, out, p, correction in zip(pending, outputs, per_request, corrections):
                s.attempts += 1
                if _one_attempt(s, out, p, correction, tier, version, allow_truncated, regenerate_contradictions,
                                s.attempts < rounds, attempt_rows, contradiction_rows):
                    still.append(s)
            pending = still
            bar.update(1)
            bar.set_postfix(pending=len(pending))
    for s in states:
        if s.status is None:
            s.status = "contradiction_flagged" if s.kept is not None else "failed"

    return _result(personas, ids, states, tier, version, backend, columns, attempt_rows, contradiction_rows,
                   settings={
                       "run_seed": run_seed, "temperature": temperature, "top_p": top_p, "max_tokens": max_tokens,
                       "max_retries": int(max_retries), "regenerate_contradictions": bool(regenerate_contradictions),
                       "allow_truncated": bool(allow_truncated), "prompt_format": prompt_format,
                       "checked_columns": {str(c): k for c, k in kinds.items()},
                   })


# -- one attempt ----------------------------------------------------------------
def _one_attempt(s: _Persona, out: GenerationOutput, p: SamplingParams, correction: str, tier: str, version: str,
                 allow_truncated: bool, regenerate: bool, can_retry: bool, attempt_rows: list,
                 contradiction_rows: list) -> bool:
    """Parse, validate and check one reply; True when the persona needs another attempt."""
    text = out.texts[0] if out.texts else ""
    finish = out.finish_reasons[0] if out.finish_reasons else None
    row = {"persona_id": s.pid, "attempt": s.attempts, "seed": p.seed, "correction": correction, "finish_reason": finish,
           "n_generated_tokens": out.n_generated_tokens, "text": text}
    parsed, reason = parse_reply(tier, text, finish, p.max_tokens, allow_truncated, version=version)
    if parsed is None:
        s.reason = reason
        attempt_rows.append({**row, "outcome": "invalid", "reason": reason})
        return can_retry
    found, stated = _check(s, parsed, tier)
    if s.first_valid is None:
        s.first_valid = (found, stated)
    s.kept, s.kept_attempt, s.final = parsed, s.attempts, (found, stated)
    for c in found:
        contradiction_rows.append({**vars(c), "attempt": s.attempts})
    if not found:
        s.status, s.problems = "ok", []
        attempt_rows.append({**row, "outcome": "ok", "reason": ""})
        return False
    s.problems = found
    attempt_rows.append({**row, "outcome": "contradiction", "reason": describe_problems(found)})
    if regenerate and can_retry:
        s.regenerated_for |= {c.attribute for c in found}
        return True
    s.status = "contradiction_flagged"
    return False


def parse_reply(tier: str, text: str, finish: str | None, max_tokens: int, allow_truncated: bool,
                version: str | None = None):
    """``(fields, "")`` for a valid reply, ``(None, reason)`` otherwise (``version``: the prompt version's schema)."""
    cut = f"cut off at max_tokens={max_tokens}" if finish == "length" else ""
    if tier == "descriptive":
        narrative = text.strip()
        if cut and not allow_truncated:
            return None, f"truncated: narrative {cut} (raise max_tokens or pass allow_truncated=True)"
        try:
            return flatten_fields(Descriptive(narrative=narrative)), ""
        except ValidationError as exc:
            return None, "schema: " + _errors(exc)
    try:
        # strict=False: guided decoding (xgrammar) lets raw control characters into strings
        data = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        lead = "truncated" if cut else "invalid JSON"
        return None, f"{lead}: {exc.msg} at character {exc.pos}" + (f" ({cut})" if cut else "")
    try:
        schema = TEMPLATE_SCHEMAS[version or DEFAULT_TEMPLATES[tier]]
        return flatten_fields(schema.model_validate(data)), ""
    except ValidationError as exc:
        return None, "schema: " + _errors(exc)


def _errors(exc: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc'])) or '(reply)'}: {e['msg']}" for e in exc.errors()[:3]]
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _check(s: _Persona, parsed: dict, tier: str) -> tuple[list[Contradiction], set[str]]:
    if tier == "objective":
        return check_fields(s.pid, s.facts, parsed)
    if tier == "descriptive":
        return check_text(s.pid, s.facts, parsed["narrative"])
    return [], set()


def _generate(backend: Backend, prompts, params, progress: bool) -> list[GenerationOutput]:
    if isinstance(backend, BaseBackend):
        outputs = backend.generate(prompts, params, progress=progress)
    else:
        outputs = backend.generate(prompts, params)
    if len(outputs) != len(prompts):
        raise BackendError(f"backend.generate returned {len(outputs)} outputs for {len(prompts)} prompts")
    return outputs


# -- inputs ----------------------------------------------------------------------
def _persona_ids(personas) -> list[Any]:
    check_param(FUNC, "personas", personas, InstanceOf(pd.DataFrame, name="a pandas DataFrame"))
    if len(personas) == 0:
        raise InputError(f"`personas` of {FUNC} must have at least one row")
    if "persona_id" not in personas.columns:
        raise InputError(f"`personas` of {FUNC} must have a `persona_id` column (Meta personas have one)")
    ids = personas["persona_id"]
    if ids.isna().any():
        raise InputError(f"`persona_id` of the personas passed to {FUNC} must not be missing")
    if ids.duplicated().any():
        raise InputError(
            f"`persona_id` of the personas passed to {FUNC} must be unique; duplicated: "
            f"{ids[ids.duplicated()].unique()[:5].tolist()}"
        )
    known = dict.fromkeys(c for v, t in TEMPLATES.items() for c in field_columns(t.tier, v))
    tier_columns = [c for c in known if c in personas.columns]
    tier_columns += [c for c in BOOKKEEPING if c in personas.columns]
    if tier_columns:
        raise InputError(
            f"`personas` of {FUNC} holds LLM-tier columns {tier_columns[:6]}; pass the Meta personas as "
            "`personas` and earlier tiers as `previous=`"
        )
    return ids.tolist()


def _census_columns(personas: pd.DataFrame, columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        skip = {"persona_id", "weight", "description"}
        return [c for c in personas.columns if c not in skip and not str(c).startswith("_")]
    columns = list(columns)
    unknown = [c for c in columns if c not in personas.columns]
    if unknown:
        raise InputError(f"`census_columns` of {FUNC} names columns the personas do not have: {unknown}")
    if not columns:
        raise InputError(f"`census_columns` of {FUNC} must name at least one column")
    return columns


def _previous(previous, tier: str, ids: list[Any]) -> dict[str, pd.DataFrame]:
    """``{earlier tier: its fields and status, indexed by persona_id}``."""
    if previous is None:
        return {}
    items = list(previous) if isinstance(previous, (list, tuple)) else [previous]
    out: dict[str, pd.DataFrame] = {}
    for item in items:
        frame = item.to_frame() if isinstance(item, TierResult) else item
        if not isinstance(frame, pd.DataFrame) or "persona_id" not in frame.columns:
            raise InputError(
                f"`previous` of {FUNC} must hold TierResults or tier tables with a `persona_id` column; "
                f"got {type(item).__name__}"
            )
        found = {t: v for t in TIERS if (v := _version_of(frame, t)) is not None}
        if not found:
            raise InputError(
                f"a `previous` table of {FUNC} has the fields of no tier (objective: {field_columns('objective')[:3]}..., "
                f"subjective: {field_columns('subjective')[:3]}...)"
            )
        for t, v in found.items():
            if t not in PREVIOUS_TIERS[tier]:
                raise InputError(
                    f"`previous` of {FUNC} may hold the tiers {list(PREVIOUS_TIERS[tier]) or 'none'} for the "
                    f"{tier} tier; got the {t} tier"
                )
            if t in out:
                raise InputError(f"`previous` of {FUNC} holds the {t} tier twice")
            keep = field_columns(t, v) + (["status"] if "status" in frame.columns else [])
            indexed = frame.set_index("persona_id")[keep]
            absent = [i for i in ids if i not in indexed.index]
            if absent:
                raise InputError(f"the {t} tier passed as `previous` to {FUNC} lacks persona_id {absent[:5]}")
            out[t] = indexed
    return {t: out[t] for t in TIERS if t in out}


def _version_of(frame: pd.DataFrame, tier: str) -> str | None:
    """The prompt version of ``tier`` whose fields ``frame`` holds (its prompt_version column first), or None."""
    versions = [v for v, t in TEMPLATES.items() if t.tier == tier]
    if "prompt_version" in frame.columns:
        stated = [v for v in pd.unique(frame["prompt_version"].dropna()) if v in versions]
        versions = stated + [v for v in versions if v not in stated]
    else:
        versions.sort(key=lambda v: -len(field_columns(tier, v)))  # the richest schema that fits
    return next((v for v in versions if set(field_columns(tier, v)) <= set(frame.columns)), None)


def _previous_block(prior: dict[str, pd.DataFrame], pid) -> tuple[str | None, str | None]:
    """The earlier tiers' fields of one persona, or the tier that has none for it."""
    fields: dict[str, Any] = {}
    for t, frame in prior.items():
        row = frame.loc[pid]
        columns = [c for c in frame.columns if c != "status"]
        if ("status" in row and row["status"] == "failed") or row[columns].isna().any():
            return None, t
        fields.update({c: row[c] for c in columns})
    return (render_previous(fields) if fields else None), None


# -- output ------------------------------------------------------------------------
def _result(personas, ids, states, tier, version, backend, columns, attempt_rows, contradiction_rows,
            settings) -> TierResult:
    names = field_columns(tier, version)
    table = personas.reset_index(drop=True).copy()
    values = pd.DataFrame([s.kept if s.kept is not None else {} for s in states], columns=names)
    for name, dtype in field_dtypes(tier, version).items():
        table[name] = values[name].astype(object).astype(dtype)
    table["status"] = [s.status for s in states]
    table["n_attempts"] = pd.array([s.attempts for s in states], dtype="int64")
    table["prompt_version"] = version
    table["model"] = str(backend.model)
    failures = pd.DataFrame(
        [{"persona_id": s.pid, "n_attempts": s.attempts, "reason": s.reason} for s in states if s.status == "failed"],
        columns=["persona_id", "n_attempts", "reason"],
    )
    kept = {s.pid: s.kept_attempt for s in states}
    contradictions = pd.DataFrame(
        contradiction_rows,
        columns=["persona_id", "attempt", "attribute", "census_value", "stated_value", "evidence"],
    )
    contradictions["kept"] = [kept.get(p) == a for p, a in zip(contradictions["persona_id"], contradictions["attempt"])]
    attempts = pd.DataFrame(attempt_rows, columns=ATTEMPT_COLUMNS)
    counts = table["status"].value_counts()
    if counts.get("failed", 0) or counts.get("contradiction_flagged", 0):
        warnings.warn(
            f"{FUNC}: of {len(states)} personas, {int(counts.get('failed', 0))} failed and "
            f"{int(counts.get('contradiction_flagged', 0))} still contradict their census attributes; "
            "see TierResult.failures and .contradictions",
            DiagnosticsWarning,
            stacklevel=3,
        )
    return TierResult(
        tier=tier, table=table, failures=failures, contradictions=contradictions,
        contradiction_rates=_rates(states, tier), attempts=attempts, prompt_version=version,
        model=str(backend.model), settings=settings, census_columns=tuple(columns),
        blocks={s.pid: (s.census_block, s.previous_block) for s in states},
    )


#: Attributes each tier's checks speak to.
CHECKED = {
    "objective": ("age", "employment", "household"),
    "subjective": (),
    "descriptive": ("age", "sex", "hispanic", "race", "marital", "education", "employment"),
}


def _rates(states: list[_Persona], tier: str) -> pd.DataFrame:
    rows = []
    for attribute in CHECKED[tier]:
        valid = [s for s in states if s.first_valid is not None and (attribute == "household" or attribute in s.facts)]
        n_first = sum(any(c.attribute == attribute for c in s.first_valid[0]) for s in valid)
        n_final = sum(any(c.attribute == attribute for c in s.final[0]) for s in valid)
        n_regen = sum(attribute in s.regenerated_for for s in valid)
        n = len(valid)
        rows.append({"attribute": attribute, "n_checked": n, "n_first": n_first,
                     "rate_first": n_first / n if n else float("nan"), "n_final": n_final,
                     "rate_final": n_final / n if n else float("nan"), "n_regenerated": n_regen})
    return pd.DataFrame(rows, columns=["attribute", "n_checked", "n_first", "rate_first", "n_final", "rate_final",
                                       "n_regenerated"])
