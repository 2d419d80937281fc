"""text_diagnostics(): sentiment, subjectivity and life-experience terms of persona texts, per tier.

The seed paper (arXiv 2503.16527) found that the more of a persona an LLM writes, the more
positive it reads and the further left its simulated opinions lean. This measures the first
half on any set of tiers: every persona text is scored with

* VADER (``vaderSentiment``; Hutto & Gilbert 2014; lexicon bundled with the package):
  ``vader_compound`` of the whole text and ``vader_sentence_mean``, the mean compound of its
  sentences (the whole-text compound saturates towards +-1 on long texts);
* TextBlob's pattern analyzer (lexicon bundled): ``textblob_polarity`` (-1..1) and
  ``textblob_subjectivity`` (0..1);
* the life-experience terms of :mod:`._text_terms`: counts, counts per 1,000 words, and
  ``term_balance`` = (positive - negative) / (positive + negative).

Nothing is downloaded at run time. The same persona described by two tiers is a paired
sample, so tiers are compared by the mean per-persona difference with a paired t interval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib.metadata import version

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from .._validation import Interval, check_param
from ..errors import InputError, MissingValueError
from ._text_result import TextDiagnosticsResult
from ._text_terms import term_rates

__all__ = ["text_diagnostics", "score_texts", "METRICS"]

#: The per-text scores, in the order reports show them.
METRICS = (
    "vader_compound", "vader_sentence_mean", "textblob_polarity", "textblob_subjectivity",
    "positive_per_1k_words", "negative_per_1k_words", "term_balance",
    "positive_terms", "negative_terms", "n_words",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_FUNC = "text_diagnostics"


def score_texts(texts: Sequence[str], *, progress: bool = False) -> pd.DataFrame:
    """The scores of :data:`METRICS` for every text, one row per text, in input order."""
    # imported here, not at module level: TextBlob pulls in NLTK (~2 s), which `import personacal.evaluate` need not pay
    from textblob import TextBlob
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    rows = []
    for text in tqdm(texts, desc="scoring texts", disable=not progress):
        sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
        blob = TextBlob(text)
        rows.append({
            "vader_compound": analyzer.polarity_scores(text)["compound"],
            "vader_sentence_mean": float(np.mean([analyzer.polarity_scores(s)["compound"] for s in sentences]))
            if sentences else np.nan,
            "textblob_polarity": blob.sentiment.polarity,
            "textblob_subjectivity": blob.sentiment.subjectivity,
        })
    frame = pd.DataFrame(rows, columns=list(METRICS[:4]))
    for name, values in term_rates(list(texts)).items():
        frame[name] = values
    return frame[list(METRICS)]


def text_diagnostics(
    texts: pd.DataFrame | Mapping[str, pd.Series | Sequence[str]],
    *,
    baseline: str | None = None,
    by: str | None = None,
    id_column: str = "persona_id",
    tier_column: str = "tier",
    text_column: str = "text",
    level: float = 0.95,
    progress: bool = True,
) -> TextDiagnosticsResult:
    """Score persona texts per tier and compare each tier with a baseline tier, persona by persona.

    Parameters
    ----------
    texts
        Either a long DataFrame with ``id_column``, ``tier_column`` and ``text_column`` (one
        row per persona x tier), or a mapping tier -> texts: a Series indexed by persona id,
        or a list (persona ids are then the positions, so lists must describe the same
        personas in the same order).
    baseline
        The tier the others are compared with (default: the first tier).
    by
        A region column of the long DataFrame: every table is also given per region (rows
        with ``region`` = the region; ``"(all)"`` pools them). Texts are scored once.
    level
        Confidence level of the intervals (t intervals of tier means and of the paired
        per-persona differences).
    """
    check_param(_FUNC, "level", level, Interval("real", 0, 1, closed="neither"))
    long = _as_long(texts, id_column, tier_column, text_column, by)
    tiers = list(dict.fromkeys(long["tier"]))
    if baseline is None:
        baseline = tiers[0]
    elif baseline not in tiers:
        raise InputError(f"`baseline` of {_FUNC} must be one of the tiers {tiers}; got {baseline!r}")
    keys = ["persona_id", "tier"] + (["region"] if by is not None else [])
    scores = pd.concat([long[keys].reset_index(drop=True),
                        score_texts(long["text"].tolist(), progress=progress)], axis=1)
    tables = [_tier_table(scores, tiers, baseline, level).assign(region="(all)")]
    if by is not None:
        for region, part in scores.groupby("region", sort=True):
            tables.append(_tier_table(part, tiers, baseline, level).assign(region=region))
    table = pd.concat(tables, ignore_index=True)
    table = table[["region", *[c for c in table.columns if c != "region"]]]
    return TextDiagnosticsResult(scores=scores, tiers=table, baseline=baseline, level=level,
                                 versions={"vaderSentiment": version("vaderSentiment"),
                                           "textblob": version("textblob")})


def _tier_table(scores: pd.DataFrame, tiers: list[str], baseline: str, level: float) -> pd.DataFrame:
    rows = []
    base = scores[scores["tier"] == baseline].set_index("persona_id")
    for tier in tiers:
        mine = scores[scores["tier"] == tier].set_index("persona_id")
        common = mine.index.intersection(base.index)
        if len(common) == 0:
            raise InputError(f"no persona of tier {tier!r} is also in the baseline tier {baseline!r}; texts are "
                             "compared persona by persona, so the tiers must describe the same personas")
        for metric in METRICS:
            row = {"tier": tier, "metric": metric, **_mean_ci(mine[metric].to_numpy(dtype=float), level)}
            if tier != baseline:
                d = (mine.loc[common, metric] - base.loc[common, metric]).to_numpy(dtype=float)
                row.update(_paired(d, level))
            rows.append(row)
    return pd.DataFrame(rows)


def _t_interval(x: np.ndarray, level: float) -> tuple[float, float, float]:
    """Mean's t interval and the p-value of mean = 0; a constant sample has a zero-width interval, no p-value."""
    mean = float(x.mean())
    if np.ptp(x) == 0:  # scipy would warn about catastrophic cancellation and report p = 0
        return mean, mean, np.nan
    test = stats.ttest_1samp(x, 0.0)
    ci = test.confidence_interval(confidence_level=level)
    return float(ci.low), float(ci.high), float(test.pvalue)


def _mean_ci(x: np.ndarray, level: float) -> dict[str, float]:
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return {"n": len(x), "mean": float(x.mean()) if len(x) else np.nan, "ci_low": np.nan, "ci_high": np.nan}
    low, high, _ = _t_interval(x, level)
    return {"n": len(x), "mean": float(x.mean()), "ci_low": low, "ci_high": high}


def _paired(d: np.ndarray, level: float) -> dict[str, float]:
    d = d[np.isfinite(d)]  # a persona whose score is undefined in either tier (no terms at all) drops out
    if len(d) < 2:
        return {"n_pairs": len(d), "diff": float(d.mean()) if len(d) else np.nan,
                "diff_ci_low": np.nan, "diff_ci_high": np.nan, "p_value": np.nan}
    low, high, p = _t_interval(d, level)
    return {"n_pairs": len(d), "diff": float(d.mean()), "diff_ci_low": low, "diff_ci_high": high, "p_value": p}


def _as_long(texts, id_column: str, tier_column: str, text_column: str, by: str | None) -> pd.DataFrame:
    if isinstance(texts, pd.DataFrame):
        wanted = [id_column, tier_column, text_column] + ([by] if by is not None else [])
        missing = [c for c in wanted if c not in texts.columns]
        if missing:
            raise InputError(f"`texts` of {_FUNC} lacks the columns {missing}; it has {list(texts.columns)}")
        long = texts[wanted].set_axis(["persona_id", "tier", "text"] + (["region"] if by else []), axis=1)
        if by is not None and long["region"].isna().any():
            raise MissingValueError(f"column {by!r} (`by` of {_FUNC}) has missing values; fill or drop them")
    elif by is not None:
        raise InputError(f"`by` of {_FUNC} needs `texts` as a long DataFrame with a {by!r} column; got a mapping")
    elif isinstance(texts, Mapping):
        parts = []
        for tier, values in texts.items():
            series = values if isinstance(values, pd.Series) else pd.Series(list(values))
            parts.append(pd.DataFrame({"persona_id": series.index, "tier": tier, "text": series.to_numpy()}))
        long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["persona_id", "tier", "text"])
    else:
        raise InputError(f"`texts` of {_FUNC} must be a DataFrame or a mapping tier -> texts; "
                         f"got {type(texts).__name__}")
    if long.empty:
        raise InputError(f"`texts` of {_FUNC} must hold at least one text")
    bad = long["text"].map(lambda t: not isinstance(t, str) or not t.strip())
    if bad.any():
        where = long.loc[bad, ["tier", "persona_id"]].head(5).to_dict("records")
        raise MissingValueError(f"`texts` of {_FUNC} has {int(bad.sum())} missing or empty text(s), e.g. {where}; "
                                "drop them or fill them in")
    dupes = long.duplicated(["tier", "persona_id"])
    if dupes.any():
        raise InputError(f"`texts` of {_FUNC} has several texts for one persona in one tier: "
                         f"{long.loc[dupes, ['tier', 'persona_id']].head(5).to_dict('records')}")
    return long.reset_index(drop=True)
