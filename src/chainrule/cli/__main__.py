"""``python -m chainrule.cli``: the ``chainrule`` command."""

import sys

from chainrule.cli.main import main

sys.exit(main())
