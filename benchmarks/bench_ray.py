"""Ray scale-out on one machine: answers/s with 1 and 2 engine replicas, and many-region calibration.

Part 1 (LLM): the tiny random model (``build_tiny_model``) with the CPU fast-start
preset, on a private local Ray cluster with 2 CPUs. Workloads, shaped like persona
surveys (persona first, so each persona's description is the prefix its questions
share; prompts from benchmarks/bench_backends.py):

- scoring: ``score_options`` over 4 option letters (one forward pass per prompt);
- sampling: ``generate`` with temperature 0.95 and 32 tokens.

Configurations: ``RayBackend`` with 1 and with 2 replicas (one CPU each: Ray sets
``OMP_NUM_THREADS=1`` in each), and as a reference one in-process ``VLLMBackend``
(all CPUs), in a subprocess of its own. Each configuration is warmed up, then timed
``--repeats`` times on fresh prompts (other personas, so no run reuses another's
prefix cache); the best (fastest) run is reported, with the median.

Part 2 (regions): ``rake(by=)`` and ``reconstruct_joint(method="ipf")`` over
``--regions`` synthetic county-like regions (tests/_synthetic_regions.py), serial and
with ``RayExecutor(workers=1)`` / ``(workers=2)``; each result is checked identical to
the serial one. Ray's first call in a fresh cluster also starts and warms its worker
processes, so each executor configuration runs once untimed first; the cold first
call is reported separately.

The machine's load (``uptime``) is written beside the figures: on a shared 2-core box
other processes slow every configuration, and the ratios are what to read.

    python benchmarks/bench_ray.py [--personas 40 --questions 5 --repeats 3 --regions 3143]
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
ROOT = HERE.parent
RESULTS = HERE / "results" / "ray.md"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

from bench_backends import prompts_for  # noqa: E402  (the same survey-shaped prompts)

OPTIONS = ["A", "B", "C", "D"]


def load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def vllm_env(root: Path) -> dict[str, str]:
    env = {
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
        "VLLM_CACHE_ROOT": str(root / "vllm-cache"), "XDG_CACHE_HOME": str(root / "xdg-cache"),
    }
    for name in ("vllm-cache", "xdg-cache"):
        (root / name).mkdir(exist_ok=True)
    return env


def workloads(args):
    """(name, run(backend, offset) -> answers) pairs; ``offset`` picks personas no other run used."""
    from personacal.backends import SamplingParams

    def scoring(backend, offset):
        prompts = prompts_for(args.personas + offset, args.questions)[offset * args.questions:]
        backend.score_options(prompts, [OPTIONS] * len(prompts), progress=False)
        return len(prompts)

    def sampling(backend, offset):
        prompts = prompts_for(args.sample_personas + offset, args.questions)[offset * args.questions:]
        backend.generate(prompts, SamplingParams(temperature=0.95, max_tokens=32), progress=False)
        return len(prompts)

    return [("scoring", scoring), ("sampling", sampling)]


def time_backend(backend, args) -> dict:
    rows = {}
    for name, run in workloads(args):
        run(backend, 10_000)  # warm-up on personas never timed
        walls, n = [], 0
        for k in range(args.repeats):
            t0 = time.perf_counter()
            n = run(backend, 1000 * (k + 1))
            walls.append(time.perf_counter() - t0)
        rows[name] = {"answers": n, "best_s": min(walls), "median_s": statistics.median(walls),
                      "answers_per_s": n / min(walls), "load": load()}
    return rows


def baseline_worker(args) -> None:
    """Subprocess body: one in-process VLLMBackend, all CPUs."""
    from personacal.backends import VLLMBackend

    t0 = time.perf_counter()
    backend = VLLMBackend(args.model, cpu_fast_start=True, random_state=0, progress=False)
    startup = time.perf_counter() - t0
    import torch

    print(json.dumps({"startup_s": startup, "threads": [torch.get_num_threads()], **time_backend(backend, args)}))


def _tiny_model(path: Path) -> Path:
    try:
        from personacal.testing import build_tiny_model
    except ImportError:  # before the issue-9 refactor the helper lived in backends
        from personacal.backends import build_tiny_model
    return build_tiny_model(path, random_state=0)


def bench_llm_configs(args, work: Path) -> dict:
    import ray

    from personacal._ray import connect
    from personacal.backends import RayBackend

    env = vllm_env(work)
    os.environ.update(env)
    model = str(_tiny_model(work / "tiny"))
    out = {}
    cmd = [sys.executable, __file__, "--baseline-worker", "--model", model, *args.passthrough]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    out["VLLMBackend (in-process, all CPUs)"] = json.loads(done.stdout.strip().splitlines()[-1])
    connect(num_cpus=2, temp_dir=tempfile.mkdtemp(prefix="pcray-", dir="/tmp"))
    for replicas in (1, 2):
        t0 = time.perf_counter()
        backend = RayBackend(model, replicas=replicas, cpu_fast_start=True, random_state=0, progress=False)
        startup = time.perf_counter() - t0
        threads = [r["threads"] for r in backend.replica_info()]
        out[f"RayBackend, {replicas} replica(s) x 1 CPU"] = {"startup_s": startup, "threads": threads,
                                                              **time_backend(backend, args)}
        backend.close()
    ray.shutdown()
    return out


def bench_regions(args) -> dict:
    import pandas as pd
    import ray

    from _synthetic_regions import synthetic_regions, synthetic_seed
    from personacal._ray import connect
    from personacal.calibrate import RayExecutor, rake, reconstruct_joint

    sample, margins = synthetic_regions(args.regions, seed=0)
    seed = synthetic_seed(seed=0)
    jobs = {
        "rake(by=)": lambda ex: rake(sample, margins, by="region", weights="d", progress=False, executor=ex),
        "reconstruct_joint(ipf)": lambda ex: reconstruct_joint(margins, seed=seed, method="ipf", smoothing=0.01,
                                                               progress=False, executor=ex),
    }
    connect(num_cpus=2, temp_dir=tempfile.mkdtemp(prefix="pcray-", dir="/tmp"))
    out = {"regions": args.regions, "rows": len(sample)}
    for name, job in jobs.items():
        serial_walls, reference = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            reference = job(None)
            serial_walls.append(time.perf_counter() - t0)
        rows = {"serial": {"best_s": min(serial_walls), "median_s": statistics.median(serial_walls), "load": load()}}
        for workers in (1, 2):
            executor = RayExecutor(workers=workers)
            t0 = time.perf_counter()
            job(executor)  # cold: also starts and warms Ray's worker processes
            cold = time.perf_counter() - t0
            walls = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                result = job(executor)
                walls.append(time.perf_counter() - t0)
            if name.startswith("rake"):
                pd.testing.assert_series_equal(result.weights, reference.weights, check_exact=True)
            else:
                pd.testing.assert_series_equal(result.table, reference.table, check_exact=True)
            rows[f"ray, {workers} worker(s)"] = {"cold_s": cold, "best_s": min(walls),
                                                 "median_s": statistics.median(walls), "load": load()}
        out[name] = rows
    ray.shutdown()
    return out


def write(results: dict, args) -> None:
    lines = [
        "# Ray scale-out on one machine (benchmarks/bench_ray.py)", "",
        f"Machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}; load average (1, 5, 15 min) before the run: {results['load_before']}, "
        f"after: {results['load_after']}. Shared with other jobs: read the ratios, not the absolute times.", "",
    ]
    if "llm" in results:
        lines += [
            f"## Answers/s, tiny model on vllm-cpu ({args.personas} personas x {args.questions} questions scored, "
            f"{args.sample_personas} x {args.questions} sampled; best of {args.repeats})", "",
            "| configuration | engine threads | startup (s) | scoring answers/s | sampling answers/s | load during |",
            "|---|---|---:|---:|---:|---|",
        ]
        for name, row in results["llm"].items():
            lines.append(f"| {name} | {row['threads']} | {row['startup_s']:.1f} | "
                         f"{row['scoring']['answers_per_s']:.1f} | {row['sampling']['answers_per_s']:.1f} | "
                         f"{row['sampling']['load']} |")
        one = results["llm"]["RayBackend, 1 replica(s) x 1 CPU"]
        two = results["llm"]["RayBackend, 2 replica(s) x 1 CPU"]
        lines += ["", "Ratio 2 replicas / 1 replica: scoring "
                  f"{two['scoring']['answers_per_s'] / one['scoring']['answers_per_s']:.2f}x, sampling "
                  f"{two['sampling']['answers_per_s'] / one['sampling']['answers_per_s']:.2f}x.", ""]
    if "regions" in results:
        r = results["regions"]
        lines += [f"## Many regions: {r['regions']:,} synthetic counties, {r['rows']:,} sample rows "
                  f"(best of {args.repeats}; every Ray result identical to the serial one)", "",
                  "| job | configuration | cold first call (s) | best (s) | median (s) | vs serial | load during |",
                  "|---|---|---:|---:|---:|---:|---|"]
        for job in ("rake(by=)", "reconstruct_joint(ipf)"):
            serial = r[job]["serial"]["best_s"]
            for config, row in r[job].items():
                cold = f"{row['cold_s']:.2f}" if "cold_s" in row else ""
                lines.append(f"| {job} | {config} | {cold} | {row['best_s']:.2f} | {row['median_s']:.2f} | "
                             f"{serial / row['best_s']:.2f}x | {row['load']} |")
        lines.append("")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--personas", type=int, default=40)
    p.add_argument("--sample-personas", type=int, default=12)
    p.add_argument("--questions", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--regions", type=int, default=3143)
    p.add_argument("--skip-llm", action="store_true")
    p.add_argument("--skip-regions", action="store_true")
    p.add_argument("--baseline-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.passthrough = ["--personas", str(args.personas), "--sample-personas", str(args.sample_personas),
                        "--questions", str(args.questions), "--repeats", str(args.repeats)]
    if args.baseline_worker:
        baseline_worker(args)
        return
    results = {"load_before": load()}
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        if not args.skip_regions:
            results["regions"] = bench_regions(args)
        if not args.skip_llm:
            results["llm"] = bench_llm_configs(args, Path(tmp))
    results["load_after"] = load()
    write(results, args)


if __name__ == "__main__":
    main()
