"""The ``chainrule`` command line."""

from chainrule.cli.main import main

__all__ = ["main"]
