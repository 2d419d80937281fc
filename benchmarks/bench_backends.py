"""Throughput of the vLLM backend on CPU: option scoring vs sampled replies, with and without prefix caching.

Workload (shaped like persona surveys): P personas x Q questions, persona first,
so each persona's long description is the prefix its Q prompts share.

- scoring:  ``score_options`` (one forward pass, ``max_tokens=1``, exact logprobs of
  the option letters) -- the "logprobs" simulation method;
- sampling: ``generate`` with temperature 0.95 and up to 100 tokens -- the
  "sample a reply and parse it" method.

Each configuration (prefix caching on / off) runs in its own subprocess with a
fresh engine on the tiny random model (``build_tiny_model``), started with the
CPU fast-start preset. Each workload is warmed up on unrelated prompts, the
prefix cache is reset before each timed run, and the best (fastest) of
``--repeats`` runs is reported -- on a shared 2-core box other processes only
ever slow a run down, so the minimum is the least noisy estimate; the median
and every wall time are in the table too. Writes benchmarks/results/backends.md.

    python benchmarks/bench_backends.py [--personas 40 --questions 5 --repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "backends.md"

_TRAITS = [
    "works as a nurse in a rural county hospital", "drives a delivery truck at night", "teaches middle school science",
    "runs a family farm with three siblings", "is a retired army mechanic", "studies accounting at a state college",
    "owns a small bakery downtown", "cares for two children and an elderly parent", "volunteers at the local church",
    "commutes two hours a day to an office job", "rents an apartment with roommates", "votes in every local election",
    "follows the news on television every evening", "distrusts large companies", "saves money for a house",
]  # fmt: skip
_QUESTIONS = [
    "How much do you trust the federal government?\nA) A lot B) Some C) Not much D) Not at all",
    "How often do you attend religious services?\nA) Weekly B) Monthly C) Yearly D) Never",
    "Is the economy getting better or worse?\nA) Better B) Same C) Worse",
    "Should taxes on high incomes rise?\nA) Yes B) No C) Unsure",
    "How worried are you about climate change?\nA) Very B) Somewhat C) Not very D) Not at all",
    "Do you own or rent your home?\nA) Own B) Rent C) Other",
]


def persona_text(i: int) -> str:
    """A long, persona-specific description (~300 tokens): the prefix its questions share."""
    traits = [_TRAITS[(i * 7 + k * 3) % len(_TRAITS)] for k in range(10)]
    lines = [f"You are respondent number {i}, aged {20 + (i * 13) % 60}, living in state {i % 50}."]
    lines += [f"Fact {k + 1}: this person {t}." for k, t in enumerate(traits)]
    lines.append("Answer every survey question as this person would, with the letter of one option.")
    return "\n".join(lines)


def prompts_for(personas: int, questions: int) -> list[str]:
    return [
        f"{persona_text(p)}\n\nQuestion: {_QUESTIONS[q % len(_QUESTIONS)]}\nAnswer:"
        for p in range(personas)
        for q in range(questions)
    ]


def worker(args) -> dict:
    from personacal.backends import SamplingParams, VLLMBackend

    t0 = time.perf_counter()
    backend = VLLMBackend(args.model, cpu_fast_start=True, enable_prefix_caching=args.prefix, random_state=0, progress=False)
    startup = time.perf_counter() - t0
    prompts = prompts_for(args.personas, args.questions)
    options = [["A", "B", "C", "D"]] * len(prompts)
    sample = SamplingParams(temperature=0.95, max_tokens=100)
    warm = [f"Warm-up prompt {i}: unrelated text." for i in range(8)]
    backend.score_options(warm, [["A", "B"]] * len(warm))
    backend.generate(warm, SamplingParams(temperature=0.95, max_tokens=20))

    out = {"prefix_caching": args.prefix, "startup_s": startup, "n_answers": len(prompts)}
    for name in ("scoring", "sampling"):
        walls, gen_tokens, prompt_tokens = [], [], []
        for r in range(args.repeats):
            backend.llm.reset_prefix_cache()
            t = time.perf_counter()
            if name == "scoring":
                res = backend.score_options(prompts, options)
                gen_tokens.append(1.0)
                prompt_tokens.append(statistics.mean(s.meta["n_prompt_tokens"] for s in res))
            else:
                # a fresh run seed per repeat, so no repeat can reuse another's exact requests
                backend.run_seed = r
                res = backend.generate(prompts, sample)
                gen_tokens.append(statistics.mean(o.n_generated_tokens for o in res))
                prompt_tokens.append(statistics.mean(o.n_prompt_tokens for o in res))
            walls.append(time.perf_counter() - t)
        out[name] = {
            "wall_s": min(walls),
            "median_wall_s": statistics.median(walls),
            "answers_per_s": len(prompts) / min(walls),
            "gen_tokens_per_answer": statistics.mean(gen_tokens),
            "prompt_tokens_per_answer": statistics.mean(prompt_tokens),
            "walls": walls,
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--personas", type=int, default=40)
    ap.add_argument("--questions", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--prefix", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args)))
        return 0

    from personacal.testing import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    env = {
        **os.environ,
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "HF_HUB_OFFLINE": "1",
        "VLLM_CACHE_ROOT": str(work / "vllm-cache"),
        "XDG_CACHE_HOME": str(work / "xdg-cache"),
        "TMPDIR": str(work / "tmp"),
    }
    (work / "tmp").mkdir()
    model = build_tiny_model(work / "tiny", random_state=0)
    runs = []
    for prefix in (1, 0):
        cmd = [sys.executable, __file__, "--worker", "--model", str(model), "--prefix", str(prefix),
               "--personas", str(args.personas), "--questions", str(args.questions), "--repeats", str(args.repeats)]  # fmt: skip
        load_before = os.getloadavg()[0]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            sys.stderr.write(proc.stderr[-5000:])
            raise SystemExit(f"worker (prefix={prefix}) failed with code {proc.returncode}")
        res = json.loads(line[len("RESULT "):])
        res["load_before"] = load_before
        runs.append(res)
        print(json.dumps(res, indent=1))
    write_markdown(runs, args, Path(args.out))
    return 0


def write_markdown(runs: list[dict], args, path: Path) -> None:
    import vllm  # noqa: F401  # version for the record

    from importlib.metadata import version

    rows = []
    for r in runs:
        for name, label in (("scoring", "option logprobs (max_tokens=1)"), ("sampling", "sampled reply (T=0.95, <=100 tok)")):
            m = r[name]
            rows.append(
                f"| {label} | {'on' if r['prefix_caching'] else 'off'} | {m['answers_per_s']:.1f} | "
                f"{m['gen_tokens_per_answer']:.1f} | {m['prompt_tokens_per_answer']:.0f} | {m['wall_s']:.2f} | "
                f"{m['median_wall_s']:.2f} | "
                f"{', '.join(f'{w:.2f}' for w in m['walls'])} |"
            )
    by = {(r["prefix_caching"]): r for r in runs}
    speed = {n: by[True][n]["answers_per_s"] / by[False][n]["answers_per_s"] for n in ("scoring", "sampling")}
    ratio_on = by[True]["scoring"]["answers_per_s"] / by[True]["sampling"]["answers_per_s"]
    text = f"""# LLM backend throughput (vLLM CPU build, tiny random model)

Generated by `python benchmarks/bench_backends.py --personas {args.personas} --questions {args.questions} --repeats {args.repeats}`
on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), no GPU,
vllm-cpu {version('vllm-cpu')}, torch {version('torch')}. Engine: `VLLMBackend(..., cpu_fast_start=True)`
(bfloat16, eager, single process); model: `build_tiny_model` (2 layers, hidden 128, vocab 2048, ~0.85M params).
Workload: {args.personas} personas x {args.questions} questions = {args.personas * args.questions} answers, persona
description first (~{by[True]['scoring']['prompt_tokens_per_answer']:.0f} prompt tokens per answer, of which the
persona part is shared by that persona's {args.questions} questions). Best of {args.repeats} timed runs after a warm-up;
prefix cache reset before each run. Load average before each configuration: {', '.join(f"{r['load_before']:.1f}" for r in runs)}
(the box is shared with other jobs, so wall times are noisy; compare the best runs).

| workload | prefix caching | answers/s (best run) | generated tokens/answer | prompt tokens/answer | best wall s | median wall s | all walls s |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

- Scoring gives {ratio_on:.1f}x the answers/s of sampling a reply (prefix caching on): one forward pass
  and 1 generated token versus ~{by[True]['sampling']['gen_tokens_per_answer']:.0f} decode steps.
- Answers/s with prefix caching on / off: scoring {speed['scoring']:.2f}, sampling {speed['sampling']:.2f}
  (persona-first prompts let each persona's questions reuse its KV blocks, which saves prefill only). The tiny model makes prefill cheap
  relative to per-step engine overhead; with a real model, where prefill dominates scoring, expect a larger gain.
- Engine start (cpu_fast_start): {by[True]['startup_s']:.1f} s / {by[False]['startup_s']:.1f} s.
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
