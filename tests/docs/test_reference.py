"""The API reference names every public object of every public package."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    "chainrule",
    "chainrule.linalg",
    "chainrule.special",
    "chainrule.distributions",
    "chainrule.nn",
    "chainrule.nn.functional",
    "chainrule.nn.utils",
    "chainrule.optim",
    "chainrule.data",
    "chainrule.train",
    "chainrule.io",
    "chainrule.explain",
    "chainrule.export",
    "chainrule.sklearn",
    "chainrule.distributed",
    "chainrule.autograd",
]


def test_reference_covers_the_public_api(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", tmp_path],
        cwd=ROOT,
        check=True,
    )
    ids = set()
    for page in (tmp_path / "reference").rglob("*.html"):
        ids |= set(re.findall(r'id="([\w.]+)"', page.read_text()))
    missing = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            where = getattr(obj, "__module__", None) or ""
            if inspect.ismodule(obj) or not where.startswith("chainrule"):
                continue
            anchors = {f"{package}.{name}", f"{where}.{getattr(obj, '__qualname__', name)}"}
            anchors |= {f"chainrule.{part}.{name}" for part in ("io", "train", "autograd")}
            if not anchors & ids:
                missing.append(f"{package}.{name}")
    assert not missing, f"not in the API reference: {missing}"
