"""``chainrule.data`` under PyTorch's name ``torch.utils.data``: the same objects."""

from chainrule.data import *  # noqa: F403 - the same names, on purpose
from chainrule.data import __all__ as __all__
