"""The errors the command lines print as a single line (exit status 2); dataset errors are
:class:`videossr.train.data.DataError`."""


class CLIError(Exception):
    """A user error: bad option, missing model or dependency. The message says what to change."""


class TRLVersionError(RuntimeError):
    """The installed TRL is not the version ``VideoGRPOTrainer`` is written for."""
