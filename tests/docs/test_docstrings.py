"""Every public name has a docstring of its own: the API reference is built from them."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = [
    "chainrule",
    "chainrule.linalg",
    "chainrule.special",
    "chainrule.distributions",
    "chainrule.autograd",
    "chainrule.nn",
    "chainrule.nn.functional",
    "chainrule.nn.init",
    "chainrule.nn.utils",
    "chainrule.optim",
    "chainrule.optim.lr_scheduler",
    "chainrule.data",
    "chainrule.train",
    "chainrule.train.metrics",
    "chainrule.io",
    "chainrule.export",
    "chainrule.explain",
]


def _public(package: str) -> list[tuple[str, object]]:
    module = importlib.import_module(package)
    names = getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])
    return [(f"{package}.{n}", getattr(module, n)) for n in names]


@pytest.mark.parametrize("package", PACKAGES)
def test_public_names_have_docstrings(package: str) -> None:
    missing = []
    for name, obj in _public(package):
        if inspect.ismodule(obj) or not (inspect.isclass(obj) or callable(obj)):
            continue
        if not getattr(obj, "__module__", "").startswith("chainrule"):
            continue  # imported from elsewhere (typing, NumPy)
        doc = obj.__doc__ if inspect.isclass(obj) else inspect.getdoc(obj)
        if inspect.isclass(obj) and "__doc__" not in vars(obj):
            doc = None  # inherited from a base class: not its own
        if not doc or not doc.strip():
            missing.append(name)
    assert not missing, f"public names without a docstring: {missing}"
