"""Make finn-plus usable without Vivado.

finn-plus reads its settings (build dir, finn-rtllib location) from a settings object that
normally comes from a Vivado-aware config; `initialize_dummy_settings` gives it defaults.
Importing `finn.builder.build_dataflow_steps` would pull in `finn.xsi` (Vivado's simulator),
so melflow calls the transformations directly (see flow.py).
"""

from __future__ import annotations

import os
from pathlib import Path

_READY = False


def init_finn(build_dir: str | os.PathLike | None = None) -> Path:
    """Point FINN at `build_dir` (for its generated code) and initialise its settings once."""
    global _READY
    if build_dir is not None:
        os.environ["FINN_BUILD_DIR"] = str(Path(build_dir).resolve())
    os.environ.setdefault("FINN_BUILD_DIR", str(Path("build/finn").resolve()))
    Path(os.environ["FINN_BUILD_DIR"]).mkdir(parents=True, exist_ok=True)
    if not _READY:
        from finn.util.settings import initialize_dummy_settings

        initialize_dummy_settings()
        from melflow.compiler.lstm_hw import register_lstm_ops

        register_lstm_ops()  # melflow's LSTM layer in FINN's op registry
        _READY = True
    return Path(os.environ["FINN_BUILD_DIR"])


def finn_rtllib() -> Path:
    """The finn-rtllib folder of the installed finn-plus package (read, never copied into the repo)."""
    import finn

    return Path(finn.__file__).parent / "finn-rtllib"
