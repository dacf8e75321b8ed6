"""The one error type the command lines print as a single line (exit status 2)."""


class CLIError(Exception):
    """A user error: bad option, missing model or dependency. The message says what to change."""
