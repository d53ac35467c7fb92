"""Types shared by every stage. Kept tiny on purpose: stages talk through files
(manifests, checkpoints, ONNX models, build directories), not through shared state."""


class MelflowError(Exception):
    """An error the user can act on: bad input file, unsupported node, missing tool.

    The CLI prints its message (which must name the file, node or key at fault) without a
    traceback and exits with status 2.
    """


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
