"""The one exception type that reaches users as a plain message."""


class SweepError(Exception):
    """A problem with the user's input: the message names the thing at fault and the fix.

    The command line prints it as one line and exits non-zero, with no traceback.
    """
