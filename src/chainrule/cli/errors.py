"""The command line's one kind of error, and the rewording of library errors for it."""

from __future__ import annotations

import re


class UsageError(Exception):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


class RunInterruptedError(Exception):
    """Ctrl-C stopped the command; the message says what was (not) written. Exit status 130."""


_PREFIX = re.compile(r"^[\w.]+: ")


def reword(error: BaseException, where: str) -> UsageError:
    """``error``'s message with its library prefix (``load: ``, ``TargetEncoder.fit: ``)
    replaced by ``where``, the command's own, as a ``UsageError``.

    >>> str(reword(ValueError("load: expected a file, got none"), "predict"))
    'predict: expected a file, got none'
    """
    return UsageError(f"{where}: {_PREFIX.sub('', str(error), count=1)}")
