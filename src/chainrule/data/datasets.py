"""Small real datasets that ship with scikit-learn, loaded offline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainrule.backend import Array, np


@dataclass(frozen=True)
class BundledDataset:
    """Features, targets and what they mean."""

    name: str
    x: Array
    y: Array
    task: str  # "classification" or "regression"
    feature_names: list[str]
    target_names: list[str] = field(default_factory=list)
    description: str = ""


def _xor() -> tuple[Array, Array, list[str], list[str], str]:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return x, y, ["x1", "x2"], ["0", "1"], "The four points of exclusive or."


DATASETS = {
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast-cancer": "classification",
    "diabetes": "regression",
    "xor": "classification",
}
"""The bundled datasets by name, with their task."""


def load_dataset(name: str) -> BundledDataset:
    """Load a bundled dataset: digits, iris, wine, breast-cancer, diabetes (scikit-learn's
    copies, read from disk) or xor (the four points).

    Features come as float32, class labels as int64, regression targets as float32.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"load_dataset: expected a dataset name, one of {sorted(DATASETS)}, got "
            f"{type(name).__name__}"
        )
    key = name.replace("_", "-").lower()
    if key not in DATASETS:
        raise ValueError(
            f"load_dataset: unknown dataset {name!r}; expected one of {sorted(DATASETS)}"
        )
    if key == "xor":
        x, y, features, targets, description = _xor()
        return BundledDataset(key, x, y, "classification", features, targets, description)
    from sklearn import datasets as sk

    loaders: dict[str, Any] = {
        "digits": sk.load_digits,
        "iris": sk.load_iris,
        "wine": sk.load_wine,
        "breast-cancer": sk.load_breast_cancer,
        "diabetes": sk.load_diabetes,
    }
    bunch = loaders[key]()
    task = DATASETS[key]
    x = np.asarray(bunch.data, dtype=np.float32)
    y = np.asarray(bunch.target, dtype=np.int64 if task == "classification" else np.float32)
    features = [str(f) for f in getattr(bunch, "feature_names", [])] or [
        f"pixel_{i}" for i in range(x.shape[1])
    ]
    targets = (
        [str(t) for t in getattr(bunch, "target_names", [])] if task == "classification" else []
    )
    # The first line of scikit-learn's description that is neither markup nor an underline.
    titles = [
        line.strip()
        for line in str(getattr(bunch, "DESCR", "")).splitlines()
        if line.strip() and not line.startswith("..") and not set(line.strip()) <= set("-=*")
    ]
    return BundledDataset(key, x, y, task, features, targets, titles[0] if titles else "")
