"""Types shared by every stage. Kept tiny on purpose: stages talk through files
(manifests, checkpoints, ONNX models, build directories), not through shared state."""


class MelflowError(Exception):
    """An error the user can act on: bad input file, unsupported node, missing tool.

    The CLI prints its message (which must name the file, node or key at fault) without a
    traceback and exits with status 2.
    """
