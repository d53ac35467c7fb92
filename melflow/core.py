"""Types shared by every stage. Kept tiny on purpose: stages talk through files
(manifests, checkpoints, ONNX models, build directories), not through shared state."""

import contextlib
import os
from pathlib import Path


class MelflowError(Exception):
    """An error the user can act on: bad input file, unsupported node, missing tool.

    The CLI prints its message (which must name the file, node or key at fault) without a
    traceback and exits with status 2.
    """


def chosen_names(choice, known, flag: str) -> list[str]:
    """Some of the `known` names, given as a list or a comma-separated string, in the order
    of `known`; an unknown one is refused with the flag and the choices named. The corpus
    options and the probes that pick voices by name share it."""
    names = [v.strip() for v in choice.split(",")] if isinstance(choice, str) else list(choice)
    unknown = [v for v in names if v not in known]
    if unknown:
        raise MelflowError(f"{flag}: unknown voice(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return [v for v in known if v in names]


def reports_errors(prog: str):
    """Decorator for a command's ``main()``: a MelflowError becomes one line on stderr,
    ``<prog>: error: <message>``, and exit status 2, instead of a traceback."""
    import functools
    import sys

    def wrap(main):
        @functools.wraps(main)
        def run(*args, **kwargs):
            try:
                return main(*args, **kwargs)
            except MelflowError as err:
                print(f"{prog}: error: {err}", file=sys.stderr)
                return 2

        return run

    return wrap


@contextlib.contextmanager
def replacing(path, mode: str = "w", **open_args):
    """Open `path` for writing through a file beside it (`<name>.part`) that takes its place
    only once written whole.

    Why: a writer interrupted half-way leaves the old file or none, never a short one that
    looks done; and a folder copied with hard links (`cp -al`, the cheap way to derive one
    corpus from another: only the changed clips are rendered again) keeps its own files,
    since the new file gets a new inode instead of rewriting the one both folders share.
    Writing `train.csv` in place once rewrote the manifest of the corpus it was copied from."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with open(part, mode, **open_args) as fh:
            yield fh
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
