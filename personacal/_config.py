"""``personacal run config.toml``: the main job on a user's own margins, personas, questions and backend.

The file is TOML, checked by pydantic (unknown keys are errors, so a typo
never silently falls back to a default). Paths are relative to the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError

__all__ = ["RunConfig", "load_config"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Population(_Section):
    states: list[str] | Literal["all"] | None = Field(None, description="shipped ACS/PEP margins of these states")
    margins: Path | None = Field(None, description="your margins file (long format, with a region column)")
    region_column: str = "region"
    seed: Path | None = Field(None, description="microdata carrying joint structure (for method ipf/bayes)")
    seed_weights: str | None = None
    method: Literal["ipf", "bayes", "independent"] = "ipf"
    smoothing: float = Field(0.01, ge=0, lt=1)
    n_per_region: int = Field(200, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> "Population":
        if (self.states is None) == (self.margins is None):
            raise ValueError("give exactly one of [population] states (shipped margins) or margins (your file)")
        if self.seed is not None and self.margins is None:
            raise ValueError("[population] seed goes with your own margins; shipped states use the ACS 2012 seed")
        return self


class Personas(_Section):
    file: Path = Field(..., description="your persona pool: a region column plus one column per margin variable")
    weights: str | None = Field(None, description="column of design weights in the pool")


class Questions(_Section):
    bank: str = Field("election-2024", description="election-2016|2020|2024, a shipped bank name, or a file")
    limit: int | None = Field(None, ge=1, description="ask only the first N questions of the bank")


#: The [backend] keys that only kind = "ray" takes.
RAY_KEYS = ("replicas", "resources_per_replica", "address", "replica_set")


class Backend(_Section):
    kind: Literal["openai", "vllm", "ray"]
    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    cache: Path | None = None
    method: Literal["logprobs", "sample"] = "logprobs"
    cpu_fast_start: bool = Field(False, description="vllm on a CPU: eager engine, chunked prefill off")
    n_per_region: int = Field(20, ge=1, description="personas per region that answer (and, for Meta, get tiers)")
    # kind = "ray": vLLM engine replicas on a Ray cluster (personacal.backends.RayBackend)
    replicas: int | None = Field(None, ge=1, description="ray: engine replicas (default 1)")
    resources_per_replica: dict[str, float] | None = Field(None, description='ray: e.g. {GPU = 1}')
    address: str | None = Field(None, description="ray: cluster address; default a private local cluster")
    replica_set: str | None = Field(None, description="ray: name the replicas so later runs reuse them")

    @model_validator(mode="after")
    def _url(self) -> "Backend":
        if self.kind == "openai" and not self.base_url:
            raise ValueError("[backend] kind = 'openai' needs base_url, e.g. 'http://127.0.0.1:8000/v1'")
        stray = [k for k in RAY_KEYS if getattr(self, k) is not None]
        if self.kind != "ray" and stray:
            raise ValueError(f"[backend] {', '.join(stray)} apply to kind = 'ray' only; got kind = {self.kind!r}")
        return self


class Output(_Section):
    folder: Path = Path("personacal-report")
    seed: int = 0


class RunConfig(_Section):
    population: Population
    personas: Personas | None = None
    questions: Questions = Questions()
    backend: Backend | None = None
    output: Output = Output()


def _resolve(config: RunConfig, base: Path) -> RunConfig:
    def fix(path):
        return None if path is None or path.is_absolute() else base / path

    pop = config.population
    updates = {"population": pop.model_copy(update={k: fix(getattr(pop, k)) or getattr(pop, k)
                                                   for k in ("margins", "seed")})}
    if config.personas is not None:
        updates["personas"] = config.personas.model_copy(update={"file": fix(config.personas.file) or config.personas.file})
    if config.backend is not None and config.backend.cache is not None:
        updates["backend"] = config.backend.model_copy(update={"cache": fix(config.backend.cache) or config.backend.cache})
    updates["output"] = config.output.model_copy(update={"folder": fix(config.output.folder) or config.output.folder})
    bank = Path(config.questions.bank)
    if bank.suffix and not bank.is_absolute():
        updates["questions"] = config.questions.model_copy(update={"bank": str(base / bank)})
    return config.model_copy(update=updates)


def load_config(path) -> RunConfig:
    """Read and validate a run configuration; errors name the key and say what is expected."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"config file {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"[{'.'.join(map(str, e['loc']))}] {e['msg']}" if e["loc"] else e["msg"] for e in exc.errors()
        )
        raise InputError(f"config file {str(path)!r}: {problems}") from None
    return _resolve(config, path.parent)
