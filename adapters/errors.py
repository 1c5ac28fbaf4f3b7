"""The one exception type that reaches users as a plain message."""


class SweepError(Exception):
    """A problem with the user's input: the message names the thing at fault and the fix.

    The command line prints it as one line and exits non-zero, with no traceback.
    """


def export_file(path):
    """``path`` (a :class:`pathlib.Path`) when it is a regular file to read a sweep export from;
    else a :class:`SweepError` naming it (a folder, ``/dev/zero`` or a FIFO would block or never
    end). Light on purpose: the command line calls it before pandas is imported."""
    if not path.exists():
        raise SweepError(f"file {path} not found; pass the path of a CSV, Parquet or JSON-lines "
                         "export.")
    if not path.is_file():
        raise SweepError(f"{path} is not a regular file (a folder, device or pipe); pass the path "
                         "of a CSV, Parquet or JSON-lines export.")
    return path
