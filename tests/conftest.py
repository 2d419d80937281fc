"""Shared pytest configuration.

LLM fixtures (a tiny local model, the real vLLM engine and server) live in
``tests/_llm_fixtures.py`` and are loaded here as a plugin.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

TESTS_DIR = Path(__file__).resolve().parent
# The committed R reference results and their loader live in tests/results/.
sys.path.insert(0, str(TESTS_DIR / "results"))

# Property tests draw the same examples on every run (CI included): a failure found once is
# found again, and a green run is not luck. Set HYPOTHESIS_PROFILE=explore to search afresh.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

pytest_plugins = [p for p in ("_llm_fixtures", "_ray_fixtures") if (TESTS_DIR / f"{p}.py").exists()]
sys.path.insert(0, str(TESTS_DIR))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261126)
