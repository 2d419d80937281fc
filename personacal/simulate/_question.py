"""A survey question: its options, their ordinal positions, refusals and parties."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from .._validation import InstanceOf, NonEmptyStr, Options, check_param, check_params
from ..errors import InputError

__all__ = ["Question"]

#: Option letters shown to the model; 26 is the most a question can have.
LETTERS = tuple(string.ascii_uppercase)


@dataclass(frozen=True)
class Question:
    """One multiple-choice question.

    Parameters
    ----------
    id, text
        Stable identifier and the question wording shown to the model.
    options
        Answer options in their canonical (questionnaire) order.
    positions
        Ordinal position of each option (floats; fractional values such as
        OpinionQA's ``[1.0, 2.0, 1.5]`` put an option between two others).
        ``None`` marks an option with no place on the scale: every refusal
        option, and substantive but non-ordinal options ("Depends",
        "Another candidate"). ``positions=None`` means a nominal question.
    refusal_options
        The non-substantive options ("Refused", "Don't know", "Not sure").
        OpinionQA leaves them out of the opinion distribution and reports
        their share separately.
    option_parties
        Optional party code per option (``"D"``, ``"R"``, ``"other"`` or
        ``None``) so election questions can name their two-party options.
    source, wave, topic, metadata
        Provenance and anything else worth carrying along.
    """

    id: str
    text: str
    options: tuple[str, ...]
    positions: tuple[float | None, ...] | None = None
    refusal_options: tuple[str, ...] = ()
    option_parties: tuple[str | None, ...] | None = None
    source: str | None = None
    wave: str | None = None
    topic: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        check_param("Question", "id", self.id, NonEmptyStr)
        where = f"Question {self.id!r}"
        check_params(where, {"text": NonEmptyStr, "metadata": InstanceOf(Mapping, name="a dict")},
                     {"text": self.text, "metadata": self.metadata})
        options = _as_str_tuple(self.options, "options", where)
        object.__setattr__(self, "options", options)
        if len(options) > len(LETTERS):
            raise InputError(
                f"`options` of {where} must have at most {len(LETTERS)} entries (one letter each); got {len(options)}"
            )
        _check_unique(options, "options", where)

        refusals = _as_str_tuple(self.refusal_options, "refusal_options", where)
        object.__setattr__(self, "refusal_options", refusals)
        _check_unique(refusals, "refusal_options", where)
        unknown = [r for r in refusals if r not in options]
        if unknown:
            raise InputError(
                f"`refusal_options` of {where} must be among its options; {unknown} are not in {list(options)}"
            )
        if len(options) - len(refusals) < 2:
            raise InputError(
                f"{where} must have at least 2 non-refusal options; got {len(options) - len(refusals)} "
                f"(options {list(options)}, refusal_options {list(refusals)})"
            )

        if self.positions is not None:
            object.__setattr__(self, "positions", self._checked_positions(where))
        if self.option_parties is not None:
            object.__setattr__(self, "option_parties", self._checked_parties(where))
        object.__setattr__(self, "metadata", dict(self.metadata))

    def _checked_positions(self, where: str) -> tuple[float | None, ...]:
        positions = tuple(self.positions)  # type: ignore[arg-type]
        if len(positions) != len(self.options):
            raise InputError(
                f"`positions` of {where} must have one entry per option ({len(self.options)}); got {len(positions)}"
            )
        checked: list[float | None] = []
        for option, pos in zip(self.options, positions):
            if pos is None or (isinstance(pos, float) and math.isnan(pos)):
                checked.append(None)
                continue
            if isinstance(pos, bool) or not isinstance(pos, (int, float)) or not math.isfinite(pos):
                raise InputError(
                    f"`positions` of {where} must be finite numbers or None; got {pos!r} for option {option!r}"
                )
            if option in self.refusal_options:
                raise InputError(
                    f"`positions` of {where} must be None for refusal option {option!r}; got {pos!r}"
                )
            checked.append(float(pos))
        return tuple(checked)

    def _checked_parties(self, where: str) -> tuple[str | None, ...]:
        parties = tuple(self.option_parties)  # type: ignore[arg-type]
        if len(parties) != len(self.options):
            raise InputError(
                f"`option_parties` of {where} must have one entry per option ({len(self.options)}); got {len(parties)}"
            )
        for code in ("D", "R"):
            if parties.count(code) > 1:
                raise InputError(f"`option_parties` of {where} must name party {code!r} at most once; got {parties}")
        return parties

    # -- derived views -------------------------------------------------
    @property
    def n_options(self) -> int:
        return len(self.options)

    @property
    def is_refusal(self) -> tuple[bool, ...]:
        return tuple(o in self.refusal_options for o in self.options)

    @property
    def is_ordinal(self) -> bool:
        """At least two distinct positions (OpinionQA gives nominal questions position 1.0 throughout)."""
        return self.positions is not None and len({p for p in self.positions if p is not None}) >= 2

    def position(self, option: str) -> float | None:
        """Ordinal position of ``option`` (``None`` when it has none)."""
        index = self.option_index(option)
        return None if self.positions is None else self.positions[index]

    def option_index(self, option: str) -> int:
        check_param(f"Question {self.id!r}", "option", option, Options(self.options))
        return self.options.index(option)

    def party_option(self, party: str) -> str:
        """The option whose party code is ``party`` (e.g. ``"D"``)."""
        if self.option_parties is None or party not in self.option_parties:
            raise InputError(
                f"`party` {party!r} names no option of Question {self.id!r}; "
                f"its option_parties are {self.option_parties}"
            )
        return self.options[self.option_parties.index(party)]

    def without_refusals(self) -> Question:
        """The same question with its refusal options removed."""
        keep = [i for i, r in enumerate(self.is_refusal) if not r]
        return Question(
            id=self.id,
            text=self.text,
            options=tuple(self.options[i] for i in keep),
            positions=None if self.positions is None else tuple(self.positions[i] for i in keep),
            refusal_options=(),
            option_parties=None if self.option_parties is None else tuple(self.option_parties[i] for i in keep),
            source=self.source,
            wave=self.wave,
            topic=self.topic,
            metadata=self.metadata,
        )

    # -- (de)serialisation --------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("options", "positions", "refusal_options", "option_parties"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        known = {f for f in cls.__dataclass_fields__}
        extra = sorted(set(data) - known)
        if extra:
            raise InputError(f"Question entries take the keys {sorted(known)}; got unknown keys {extra}")
        return cls(**data)

    def to_frame(self) -> pd.DataFrame:
        """One row per option: question_id, option_index, option, position, is_refusal, party."""
        return pd.DataFrame(
            {
                "question_id": self.id,
                "option_index": range(self.n_options),
                "option": list(self.options),
                "position": [float("nan") if p is None else p for p in (self.positions or [None] * self.n_options)],
                "is_refusal": list(self.is_refusal),
                "party": pd.Series(list(self.option_parties or [None] * self.n_options), dtype="str"),
            }
        )


def _as_str_tuple(values: Any, name: str, where: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InputError(f"`{name}` of {where} must be a list of strings; got {type(values).__name__}")
    bad = [v for v in values if not isinstance(v, str) or not v.strip()]
    if bad:
        raise InputError(f"`{name}` of {where} must contain non-empty strings only; got {bad}")
    return tuple(values)


def _check_unique(values: tuple[str, ...], name: str, where: str) -> None:
    seen: set[str] = set()
    duplicates = []
    for v in values:
        key = v.strip().casefold()
        if key in seen:
            duplicates.append(v)
        seen.add(key)
    if duplicates:
        raise InputError(f"`{name}` of {where} must be unique (ignoring case); duplicated: {duplicates}")
