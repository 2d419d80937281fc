"""Build the question banks shipped in personacal/simulate/banks/ from /work/shared/data.

Run from the repository root::

    python scripts/curate_question_banks.py [--shared /work/shared/data] [--n-curated 48]

Writes (overwriting):
  subpop-opinionqa.json        494 OpinionQA questions in SubPOP's refined wording (BSD-3, SubPOP repo)
  subpop-gss2022.json          133 GSS-2022 questions of SubPOP-Eval (BSD-3, SubPOP repo)
  opinionqa-curated.json       a topic-spread subset of OpinionQA with human reference distributions
  opinionqa-curated-reference.csv.gz   tidy reference table for the curated subset

The selection is deterministic: candidates are OpinionQA questions that have group counts for every
attribute below in the OpinionQA human_resp snapshot; within each coarse OpinionQA topic they are
ranked by Democrat-vs-Republican disagreement (Wasserstein distance over the ordinal positions,
divided by the scale's range); nominal questions (OpinionQA gives all their options position 1.0)
are left out; one question per question stem; topics are visited round-robin.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

ATTRIBUTES = ["CREGION", "POLPARTY", "POLIDEOLOGY", "SEX", "AGE", "EDUCATION", "RACE", "INCOME"]
BANKS = Path(__file__).resolve().parents[1] / "personacal" / "simulate" / "banks"
SUBPOP = "SubPOP (Suh et al. 2025, arXiv 2502.16761), github.com/JosephJeesungSuh/subpop@e0569ac, BSD-3-Clause"
OPINIONQA = (
    "OpinionQA (Santurkar et al. 2023, arXiv 2303.17548) human_resp snapshot, "
    "github.com/tatsu-lab/opinions_qa@ed8c4e0; underlying data Pew Research Center American Trends Panel"
)


def _options_and_positions(options: list, ordinal) -> dict:
    """Options past the ordinal list are refusals; ordinal -1 marks a substantive but unordered option."""
    ordinal = [float(v) for v in ordinal]
    positions = [None if v == -1 else v for v in ordinal] + [None] * (len(options) - len(ordinal))
    return {"options": options, "positions": positions, "refusal_options": options[len(ordinal):]}


def opinionqa_question(key: str, entry: dict, topic: str | None, *, text_source: str) -> dict:
    """OpinionQA rule: options[:len(ordinal)] carry the ordinal positions, the rest are refusals."""
    return {
        "id": key,
        "text": entry["refined_qbody"],
        **_options_and_positions(list(entry["options"]), entry["ordinal"]),
        "source": text_source,
        "wave": key.rsplit("_", 1)[1],
        "topic": topic,
        "metadata": {"original_text": entry["original_qbody"]},
    }


def gss_question(key: str, entry: dict) -> dict:
    """SubPOP-Eval rule: ordinal -1 = substantive but unordered option; options past the list are refusals."""
    return {
        "id": key,
        "text": entry["refined_qbody"],
        **_options_and_positions(list(entry["option_list"]), entry["ordinal"]),
        "source": "GSS 2022 via SubPOP-Eval",
        "wave": "GSS2022",
        "topic": None,
        "metadata": {"original_text": entry["original_qbody"]},
    }


def topics_by_key(atp: Path) -> dict[str, str]:
    """OpinionQA's coarse topic per question key (topic_mapping.npy is keyed by 'question [opt/opt/...]')."""
    mapping = np.load(atp / "topic_mapping.npy", allow_pickle=True).item()
    out = {}
    for info_csv in sorted(atp.glob("American_Trends_Panel_W*/info.csv")):
        info = pd.read_csv(info_csv)
        for key, question, refs in zip(info["key"], info["question"], info["references"]):
            label = f"{question} [{'/'.join(ast.literal_eval(refs))}]"
            if label in mapping and mapping[label]["cg"]:
                out[key] = mapping[label]["cg"][0]
    return out


def group_counts(atp: Path, key: str) -> dict[str, dict[str, dict[str, float]]]:
    """{attribute: {group: {option: count}}} for one question, groups restricted to metadata.csv (as OpinionQA)."""
    wave_dir = atp / f"American_Trends_Panel_{key.rsplit('_', 1)[1]}"
    meta = pd.read_csv(wave_dir / "metadata.csv")
    allowed = {k: ast.literal_eval(v) for k, v in zip(meta["key"], meta["options"])}
    out = {}
    for attr in ATTRIBUTES:
        path = wave_dir / f"{attr}_data.json"
        if not path.exists():
            return {}
        data = json.loads(path.read_text())
        if key not in data:
            return {}
        out[attr] = {g: v for g, v in data[key].items() if g in allowed[attr]}
    return out


def reference_rows(question: dict, counts: dict) -> list[dict]:
    options = question["options"]
    refusals = set(question["refusal_options"])
    by_group = {("Overall", "Overall"): defaultdict(float)}
    for group, dist in counts["SEX"].items():  # NONE_data.json is a copy of POLPARTY; Overall = sum over SEX
        for option, c in dist.items():
            by_group[("Overall", "Overall")][option] += c
    for attr, groups in counts.items():
        for group, dist in groups.items():
            by_group[(attr, group)] = dist
    rows = []
    for (attr, group), dist in by_group.items():
        unknown = set(dist) - set(options)
        if unknown:
            raise ValueError(f"{question['id']}: answer labels {unknown} are not options {options}")
        n = float(sum(dist.values()))
        if n == 0:
            continue
        for option, pos in zip(options, question["positions"]):
            c = float(dist.get(option, 0.0))
            rows.append(
                {
                    "question_id": question["id"],
                    "group_variable": attr,
                    "group": group,
                    "option": option,
                    "position": np.nan if pos is None else pos,
                    "is_refusal": option in refusals,
                    "count": c,
                    "n": n,
                    "share": c / n,
                }
            )
    return rows


def party_disagreement(question: dict, counts: dict) -> float:
    ordinal = [(o, p) for o, p in zip(question["options"], question["positions"]) if p is not None]
    pos = np.array([p for _, p in ordinal])
    if np.ptp(pos) == 0:  # OpinionQA marks nominal questions by giving every option position 1.0
        return float("nan")
    dists = []
    for party in ("Democrat", "Republican"):
        dist = counts["POLPARTY"].get(party, {})
        w = np.array([dist.get(o, 0.0) for o, _ in ordinal])
        if w.sum() == 0:
            return float("nan")
        dists.append(w)
    return wasserstein_distance(pos, pos, dists[0], dists[1]) / (pos.max() - pos.min())


def stem(key: str) -> str:
    return re.sub(r"_?[A-Za-z]?\d*[a-z]?_W\d+$", "", key)


def bank(name: str, description: str, source: str, licence: str, questions: list[dict]) -> dict:
    return {"name": name, "description": description, "source": source, "licence": licence, "questions": questions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--n-curated", type=int, default=48)
    parser.add_argument("--max-per-topic", type=int, default=3)
    args = parser.parse_args()
    subpop, atp = args.shared / "subpop_question_banks", args.shared / "opinionqa_atp"

    topics = topics_by_key(atp)
    refined = json.loads((subpop / "opinionqa_refined_qkey_dict.json").read_text())
    opinionqa = [opinionqa_question(k, v, topics.get(k), text_source="OpinionQA via SubPOP") for k, v in refined.items()]
    gss = json.loads((subpop / "subpop-eval_refined_qkey_dict.json").read_text())
    gss_questions = [gss_question(k, v) for k, v in gss.items()]

    candidates = []
    for q in opinionqa:
        counts = group_counts(atp, q["id"])
        if counts and q["topic"]:
            disagreement = party_disagreement(q, counts)
            if np.isfinite(disagreement):
                candidates.append((q, counts, disagreement))
    by_topic: dict[str, list] = defaultdict(list)
    for item in sorted(candidates, key=lambda t: (-t[2], t[0]["id"])):
        by_topic[item[0]["topic"]].append(item)
    chosen, stems = [], set()
    for round_ in range(args.max_per_topic):
        for topic in sorted(by_topic):
            picked = [it for it in chosen if it[0]["topic"] == topic]
            if len(picked) > round_:
                continue
            for item in by_topic[topic]:
                if stem(item[0]["id"]) not in stems and len(chosen) < args.n_curated:
                    chosen.append(item)
                    stems.add(stem(item[0]["id"]))
                    break
    chosen.sort(key=lambda t: (t[0]["topic"], t[0]["id"]))
    curated = [dict(q, metadata=dict(q["metadata"], party_disagreement=round(d, 4))) for q, _, d in chosen]
    reference = pd.DataFrame([row for q, counts, _ in chosen for row in reference_rows(q, counts)])

    BANKS.mkdir(parents=True, exist_ok=True)
    subpop_licence = "BSD-3-Clause (SubPOP); question wording from Pew Research Center ATP questionnaires"
    outputs = {
        "subpop-opinionqa.json": bank(
            "subpop-opinionqa", "OpinionQA questions (Pew ATP waves 26-92) in SubPOP's refined wording", SUBPOP,
            subpop_licence, opinionqa),
        "subpop-gss2022.json": bank(
            "subpop-gss2022", "SubPOP-Eval: GSS 2022 questions in SubPOP's refined wording", SUBPOP,
            "BSD-3-Clause (SubPOP); question wording from the NORC General Social Survey", gss_questions),
        "opinionqa-curated.json": bank(
            "opinionqa-curated",
            f"{len(curated)} OpinionQA questions across {len({q['topic'] for q in curated})} topics with "
            "Pew ATP reference distributions (see opinionqa-curated-reference.csv.gz)",
            f"{SUBPOP}; topics and groups from {OPINIONQA}", subpop_licence, curated),
    }
    for name, payload in outputs.items():
        (BANKS / name).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    reference.to_csv(BANKS / "opinionqa-curated-reference.csv.gz", index=False, float_format="%.10g",
                     compression={"method": "gzip", "mtime": 0})  # mtime 0: identical bytes on every run
    print(f"opinionqa {len(opinionqa)}, gss {len(gss_questions)}, candidates {len(candidates)}, "
          f"curated {len(curated)} over {len(by_topic)} topics, reference rows {len(reference)}")


if __name__ == "__main__":
    main()
