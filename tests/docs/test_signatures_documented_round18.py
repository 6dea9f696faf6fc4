"""The API reference's Parameters sections match the signatures they document.

For every public class, method and function on the reference pages (docs/reference/*.md)
whose numpydoc docstring has a Parameters section, each parameter of its signature (bar
``self``, ``*args`` and ``**kwargs``) is documented there, and every name documented there
is a parameter: a stray line in the section would show in the reference as a parameter
that does not exist.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HEADER = re.compile(r"^(\S[^\n]*)\n-{3,}$", re.MULTILINE)


def reference_modules() -> list[str]:
    return [
        line.split()[1]
        for page in sorted((ROOT / "docs" / "reference").glob("*.md"))
        for line in page.read_text().splitlines()
        if line.startswith(":::")
    ]


def documented_parameters(doc: str | None) -> list[str] | None:
    """The names a numpydoc Parameters (and Other Parameters) section lists; None without
    one. An entry is a line at the section's indentation: ``name : type``, ``name``, or
    ``a, b : type`` for several."""
    if not doc:
        return None
    doc = inspect.cleandoc(doc)
    headers = list(HEADER.finditer(doc))
    names: list[str] | None = None
    for k, header in enumerate(headers):
        if header.group(1) not in ("Parameters", "Other Parameters"):
            continue
        end = headers[k + 1].start() if k + 1 < len(headers) else len(doc)
        names = names or []
        for line in doc[header.end() : end].splitlines():
            if line.strip() and not line[0].isspace():
                head = line.split(" : ")[0]
                names += [n.strip().lstrip("*") for n in head.split(",") if n.strip()]
    return names


def mismatch(function: Callable[..., Any], doc: str | None) -> str | None:
    documented = documented_parameters(doc)
    if documented is None:
        return None
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    parameters = [p for p in signature.parameters.values() if p.name not in ("self", "cls")]
    named = [p.name for p in parameters if p.kind not in variadic]
    stars = [p.name for p in parameters if p.kind in variadic]
    missing = [n for n in named if n not in documented]
    absent = [n for n in documented if n not in named and n not in stars]
    if not missing and not absent:
        return None
    return f"undocumented {missing}, documented but not parameters {absent}"


def reference_objects() -> Iterator[tuple[str, Any]]:
    """The objects a ``::: identifier`` line puts on a page: a module's public names, or
    the one object it names (``chainrule.explain.graph.graph`` is a function)."""
    for identifier in reference_modules():
        parent, _, last = identifier.rpartition(".")
        try:
            module = importlib.import_module(identifier)
        except ModuleNotFoundError:
            yield identifier, getattr(importlib.import_module(parent), last)
            continue
        names = getattr(module, "__all__", None) or [n for n in dir(module) if n[0] != "_"]
        for name in names:
            yield f"{identifier}.{name}", getattr(module, name, None)


def documented_callables() -> Iterator[tuple[str, Callable[..., Any], str | None]]:
    seen: set[int] = set()
    for where, obj in reference_objects():
        if True:
            if obj is None or id(obj) in seen or inspect.ismodule(obj):
                continue
            if not str(getattr(obj, "__module__", "")).startswith("chainrule"):
                continue
            seen.add(id(obj))
            if inspect.isclass(obj):
                if documented_parameters(obj.__doc__) is not None:
                    yield where, obj, obj.__doc__
                elif "__init__" in vars(obj):
                    yield f"{where}.__init__", obj, vars(obj)["__init__"].__doc__
                for attribute, member in vars(obj).items():
                    if attribute[0] == "_":
                        continue
                    if isinstance(member, staticmethod | classmethod):
                        member = member.__func__
                    if inspect.isfunction(member) and id(member) not in seen:
                        seen.add(id(member))
                        # What help() shows: a method without a docstring of its own has
                        # the one it overrides.
                        bound = getattr(obj, attribute)
                        yield f"{where}.{attribute}", bound, inspect.getdoc(bound)
            elif callable(obj):
                yield where, obj, inspect.getdoc(obj)


def test_the_reference_covers_the_modules() -> None:
    assert "chainrule.nn.padding" in reference_modules()
    assert len(list(documented_callables())) > 300


def test_parameters_sections_match_signatures() -> None:
    wrong = [
        f"{where}: {problem}"
        for where, function, doc in documented_callables()
        if (problem := mismatch(function, doc)) is not None
    ]
    assert not wrong, "\n".join(wrong)
