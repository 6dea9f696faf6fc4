"""LambdaCallback takes Keras 3's names of the batch hooks, on_train_batch_begin and
on_train_batch_end, as well as the older on_batch_begin and on_batch_end."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import LambdaCallback


def test_keras_3_batch_hook_names() -> None:
    seen: list[tuple[str, int]] = []
    note = LambdaCallback(
        on_train_batch_begin=lambda batch, logs: seen.append(("begin", batch)),
        on_train_batch_end=lambda batch, logs: seen.append(("end", batch)),
    )
    x, y = np.zeros((8, 2), np.float32), np.zeros(8, np.float32)
    cr.fit(cr.nn.Linear(2, 1), "mse", "sgd", x, y, epochs=1, batch_size=4, callbacks=note,
           verbose=0)  # fmt: skip
    assert seen == [("begin", 0), ("end", 0), ("begin", 1), ("end", 1)]


def test_both_names_of_one_hook_are_refused() -> None:
    with pytest.raises(TypeError, match="expected on_batch_end or on_train_batch_end, got both"):
        LambdaCallback(on_batch_end=print, on_train_batch_end=print)
