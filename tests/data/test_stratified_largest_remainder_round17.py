"""``stratified_split`` holds out the share asked of the whole data, shared among classes
by the largest remainder as scikit-learn's ``StratifiedShuffleSplit``, and groups rows in
one pass however many classes there are."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import stratified_split


def test_many_small_classes_hold_out_the_share_asked() -> None:
    labels = np.repeat(np.arange(50), 4)
    kept, held = stratified_split(labels, 0.1, generator=0)
    assert len(held) == 20 and len(kept) == 180  # not 50, one of every class
    per_class = np.bincount(labels[held], minlength=50)
    assert per_class.max() == 1 and np.count_nonzero(per_class) == 20
    assert sorted([*kept, *held]) == list(range(200))


@pytest.mark.parametrize(
    ("sizes", "fraction"), [((47, 33, 20), 0.15), ((60, 27, 13), 0.3), ((10, 10, 5), 0.2)]
)
def test_each_class_gives_what_scikit_learn_s_shuffle_split_takes(
    sizes: tuple[int, ...], fraction: float
) -> None:
    model_selection = pytest.importorskip("sklearn.model_selection")
    labels = np.repeat(np.arange(len(sizes)), sizes)
    _, held = stratified_split(labels, fraction, generator=0)
    splitter = model_selection.StratifiedShuffleSplit(1, test_size=fraction, random_state=0)
    _, theirs = next(splitter.split(np.zeros(len(labels)), labels))
    assert list(np.bincount(labels[held])) == list(np.bincount(labels[theirs]))


def test_a_seed_gives_the_same_split_and_another_seed_another() -> None:
    labels = np.repeat(np.arange(7), [3, 9, 4, 12, 5, 5, 2])
    first = stratified_split(labels, 0.3, generator=3)
    again = stratified_split(labels, 0.3, generator=3)
    other = stratified_split(labels, 0.3, generator=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[1], other[1])
    assert len(first[1]) == round(0.3 * len(labels))


def test_every_class_keeps_a_sample_for_training() -> None:
    labels = np.array([0] * 10 + [1, 2, 3])  # three classes of one sample
    for seed in range(20):
        kept, held = stratified_split(labels, 0.3, generator=seed)
        assert len(held) == 4 and set(labels[kept]) == {0, 1, 2, 3}
    kept, held = stratified_split(np.arange(6), 0.5, generator=0)  # nothing to share
    assert len(held) == 0 and len(kept) == 6


def test_many_classes_are_grouped_in_one_pass() -> None:
    labels = np.arange(4 * 16000) % 16000
    started = time.perf_counter()
    _, held = stratified_split(labels, 0.2, generator=0)
    assert time.perf_counter() - started < 2.0  # a scan per class took about a minute
    assert len(held) == round(0.2 * len(labels))


def test_fit_validation_split_holds_out_the_share_asked_of_many_small_classes() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(50), 4)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    validated: list[int] = []

    def rows(y_true: Any, y_pred: Any) -> float:
        validated.append(len(y_true))
        return 0.0

    cr.fit(
        nn.Linear(4, 50), "cross_entropy", "sgd", x, y, epochs=1, batch_size=1000,
        validation_split=0.1, metrics=[rows], verbose=0,
    )  # fmt: skip
    assert validated == [180, 20]  # the training epoch's rows, then the validation's
