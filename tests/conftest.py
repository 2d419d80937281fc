"""Shared pytest configuration.

LLM fixtures (a tiny local model, the real vLLM engine and server) live in
``tests/_llm_fixtures.py`` and are loaded here as a plugin.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent
# The committed R reference results and their loader live in tests/results/.
sys.path.insert(0, str(TESTS_DIR / "results"))

pytest_plugins = [p for p in ("_llm_fixtures", "_ray_fixtures") if (TESTS_DIR / f"{p}.py").exists()]
sys.path.insert(0, str(TESTS_DIR))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261126)
