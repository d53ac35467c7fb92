"""Shared fixtures: one tiny keyword corpus per test session, and the shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = REPO / "models" / "kws_cnn.pt"


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    from melflow.data.kws import generate_kws_corpus

    out = tmp_path_factory.mktemp("kws-tiny")
    generate_kws_corpus(out, size="tiny", seed=1, progress=False)
    return out


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    assert SHIPPED_MODEL.exists(), f"{SHIPPED_MODEL} is missing: train it with `melflow train --config models/kws_cnn.yaml`"
    return SHIPPED_MODEL


@pytest.fixture(scope="session")
def load_script():
    """The globals of a file under scripts/ (its `main`, helpers), run as a module not named
    __main__, since scripts/ is not a package."""
    import runpy

    return lambda name: runpy.run_path(str(REPO / "scripts" / name), run_name=Path(name).stem)
