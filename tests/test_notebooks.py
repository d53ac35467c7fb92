"""The notebooks run top to bottom with tiny settings (papermill sets their `parameters`
cell): the frontend tour, low-bit training and the accelerator build. Each ends with
assertions on what it showed (SNR, one result per bit width, bit-exact RTL)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_with_tiny_settings(notebook, tiny_corpus, tmp_path):
    import papermill

    papermill.execute_notebook(str(notebook), str(tmp_path / notebook.name), cwd=str(REPO), kernel_name="python3",
                               parameters={"tiny": True, "data": str(tiny_corpus), "corpus_size": "tiny"}, progress_bar=False)


def test_every_notebook_takes_the_tiny_parameter():
    import nbformat

    assert len(NOTEBOOKS) == 3
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1 and "tiny = False" in cells[0].source, path.name
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name} is saved with outputs"
