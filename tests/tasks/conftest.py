"""Fixtures for the task suite tests: the real o200k_harmony encoding."""
from __future__ import annotations

import pytest
from openai_harmony import HarmonyEncoding

from harness.models.vocab import harmony_encoding


@pytest.fixture(scope="session")
def enc() -> HarmonyEncoding:
    return harmony_encoding()
