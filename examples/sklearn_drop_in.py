"""chainrule's MLPClassifier in place of scikit-learn's: same parameters, same steps, same
weights; then what scikit-learn's lacks (dropout, batch norm, GELU, validation-loss
curves, a model file that runs no code).

    python examples/sklearn_drop_in.py                 # about a minute
    python examples/sklearn_drop_in.py --max-iter 5    # a smoke run
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as ScikitLearnMLPClassifier

from chainrule import io
from chainrule.sklearn import MLPClassifier


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1, else a one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-iter", type=positive_int, default=200, help="epochs (default: 200)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)

    images, labels = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(images / 16, labels, random_state=0)
    params = {"hidden_layer_sizes": (100,), "max_iter": args.max_iter, "random_state": 0}

    # 1. The same estimator: change the import, keep the code.
    fits = {}
    for name, cls in (("scikit-learn", ScikitLearnMLPClassifier), ("chainrule", MLPClassifier)):
        started = time.perf_counter()
        fits[name] = cls(**params).fit(x_train, y_train)
        seconds = time.perf_counter() - started
        print(f"{name:>12}: test accuracy {fits[name].score(x_test, y_test):.4f}, "
              f"{fits[name].n_iter_} epochs in {seconds:.2f} s")  # fmt: skip
    gap = max(
        float(np.abs(a - b).max())
        for a, b in zip(fits["chainrule"].coefs_, fits["scikit-learn"].coefs_, strict=True)
    )
    print(f"largest difference between the two networks' weights: {gap:.1e}")

    # 2. Beyond scikit-learn.
    model = MLPClassifier(
        activation="gelu",
        dropout=0.2,
        batch_norm=True,
        early_stopping=True,
        n_iter_no_change=20,
        **{**params, "hidden_layer_sizes": (128, 64)},
    ).fit(x_train, y_train)
    print(f"gelu + dropout + batch norm: test accuracy {model.score(x_test, y_test):.4f}")
    curve = ", ".join(f"{v:.3f}" for v in model.validation_loss_curve_[-3:])
    print(f"validation loss, last epochs: {curve}")

    with tempfile.TemporaryDirectory() as folder:  # removed, with the file, at the end
        path = os.path.join(folder, "digits.safetensors")
        model.save(path)
        restored = MLPClassifier.load(path)
        assert (restored.predict(x_test) == model.predict(x_test)).all()
        print("saved and loaded back; chainrule.io.load gives the network itself:")
        print(io.load(path))


if __name__ == "__main__":
    main()
