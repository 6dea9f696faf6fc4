"""Round 14 of outside-in testing of ``chainrule.data``: an all-missing column stays 0,
dates match in any unit, Subset's indices, namedtuples through collate, labels NumPy cannot
sort, huge sampler weights, an empty data source and a bad dataset name."""

from __future__ import annotations

import collections
import datetime
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from chainrule.data import (
    RandomSampler,
    Subset,
    TabularPreprocessor,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    load_dataset,
    stratified_split,
)


def test_a_column_empty_when_fitted_is_zero_for_every_row_after_a_round_trip() -> None:
    fitted = TabularPreprocessor().fit({"a": [None, None, None], "b": [1.0, 2.0, 3.0]})
    restored = TabularPreprocessor.from_dict(json.loads(json.dumps(fitted.to_dict())))
    for pre in (fitted, restored):
        out = pre.transform({"a": [1000.0, -5.0, "text"], "b": [2.0, 2.0, 2.0]})
        assert out[:, 0].tolist() == [0.0, 0.0, 0.0]
    assert "empty" not in TabularPreprocessor().fit({"b": [1.0, 2.0]}).to_dict()["columns"][0]


def test_dates_are_one_category_whatever_their_unit() -> None:
    train = pd.DataFrame({"day": pd.to_datetime(["2020-01-01", "2020-02-01"])})
    pre = TabularPreprocessor().fit(train)
    expected = [[1.0, 0.0], [0.0, 1.0]]
    assert pre.transform(train.astype({"day": "datetime64[ns]"})).tolist() == expected
    assert pre.transform(train.astype({"day": "datetime64[s]"})).tolist() == expected
    rows = {"day": [pd.Timestamp("2020-01-01"), datetime.datetime(2020, 2, 1)]}
    assert pre.transform(rows).tolist() == expected


def test_subset_takes_integers_or_a_mask_and_refuses_floats() -> None:
    data = TensorDataset(np.arange(10.0) * 10)
    picked = Subset(data, np.arange(10) > 6)
    assert [picked[i][0].item() for i in range(len(picked))] == [70.0, 80.0, 90.0]
    with pytest.raises(TypeError, match="Subset: expected integer indices, got dtype float64"):
        Subset(data, [2.7])
    with pytest.raises(ValueError, match="boolean mask of the dataset's length 10"):
        Subset(data, np.ones(3, dtype=bool))
    with pytest.raises(IndexError):  # PyTorch's Subset refuses a float index too
        torch.utils.data.Subset(torch.utils.data.TensorDataset(torch.arange(10.0)), [2.7])[0]


def test_collate_keeps_a_namedtuple() -> None:
    point = collections.namedtuple("point", "x y")
    ours = default_collate([point(1, 2.0), point(3, 4.0)])
    theirs = torch.utils.data.default_collate([point(1, 2.0), point(3, 4.0)])
    assert type(ours) is point and type(theirs) is point
    assert ours.x.tolist() == theirs.x.tolist() and ours.y.tolist() == theirs.y.tolist()


def test_stratified_split_groups_labels_numpy_cannot_sort() -> None:
    for labels in (["a", None, "a", None], np.array([1, "a", 1, "a"], dtype=object)):
        kept, held_out = stratified_split(labels, 0.5, generator=0)
        assert sorted([*kept, *held_out]) == [0, 1, 2, 3]
        assert {labels[i] for i in held_out} == {labels[0], labels[1]}  # one of each


def test_samplers_at_the_edges() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sorted(set(WeightedRandomSampler([1e308, 1e308], 50, generator=0))) == [0, 1]
    with pytest.raises(ValueError, match="expected a data source to draw 4 samples from"):
        list(RandomSampler([], num_samples=4))
    assert list(RandomSampler([])) == []


@pytest.mark.parametrize("name", [None, 3])
def test_load_dataset_names_what_it_wants(name: object) -> None:
    with pytest.raises(TypeError, match="load_dataset: expected a dataset name"):
        load_dataset(name)  # type: ignore[arg-type]


def test_dates_in_model_files_of_earlier_versions_still_match() -> None:
    earlier = {
        "format": "chainrule.tabular",
        "version": 1,
        "max_categories": 100,
        "columns": [
            {
                "name": "t",
                "kind": "categorical",
                "categories": ["2020-01-01T00:00:00.000000", "2020-01-02T00:00:00.000000"],
                "missing": False,
            }
        ],
    }
    rows = pd.DataFrame({"t": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    assert TabularPreprocessor.from_dict(earlier).transform(rows).tolist() == [[1, 0], [0, 1]]
