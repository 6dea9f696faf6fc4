"""Tabular preprocessing: what a table becomes, what comes back out, and what a file's JSON
may not smuggle in."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from chainrule.data import (
    CategoricalColumn,
    NumericColumn,
    TabularPreprocessor,
    TargetEncoder,
    infer_task,
)

TABLE = {
    "age": [20.0, None, 40.0, 60.0],
    "city": ["Paris", "Oslo", None, "Paris"],
    "score": ["1.5", "2.5", "", " 3.5 "],  # numbers written as text, as read from a CSV
}


def roundtrip_json(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


# --- features --------------------------------------------------------------------------------


def test_numbers_are_imputed_with_the_median_then_standardized() -> None:
    pre = TabularPreprocessor().fit(TABLE)
    age = pre.columns[0]
    assert age == NumericColumn("age", median=40.0, mean=40.0, std=float(np.std([20, 40, 60])))
    x = pre.transform(TABLE)
    assert x.dtype == np.float32
    expected = (np.array([20, 40, 40, 60]) - 40) / np.std([20, 40, 60])
    np.testing.assert_allclose(x[:, 0], expected, rtol=1e-6)


def test_text_that_reads_as_numbers_is_numeric() -> None:
    pre = TabularPreprocessor().fit(TABLE)
    assert isinstance(pre.columns[2], NumericColumn)
    assert pre.columns[2].median == 2.5


def test_categories_are_one_hot_with_missing_as_a_category_of_its_own() -> None:
    pre = TabularPreprocessor().fit(TABLE, columns=["city"])
    assert pre.columns == [CategoricalColumn("city", ("Oslo", "Paris"), missing=True)]
    assert pre.feature_names_out == ["city=Oslo", "city=Paris", "city=<missing>"]
    np.testing.assert_array_equal(
        pre.transform(TABLE), [[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]]
    )


def test_an_unseen_category_maps_to_all_zeros() -> None:
    pre = TabularPreprocessor().fit(TABLE, columns=["city"])
    np.testing.assert_array_equal(
        pre.transform({"city": ["Rome", "  Oslo "]}), [[0, 0, 0], [1, 0, 0]]
    )


def test_missing_values_without_a_missing_category_map_to_all_zeros() -> None:
    pre = TabularPreprocessor().fit({"color": ["red", "blue"]})
    assert pre.n_features_out == 2
    np.testing.assert_array_equal(pre.transform({"color": [None, float("nan")]}), np.zeros((2, 2)))


def test_columns_may_come_in_any_order_and_extra_ones_are_ignored() -> None:
    pre = TabularPreprocessor().fit(TABLE)
    shuffled = {"unused": [0, 0, 0, 0], "score": TABLE["score"], "city": TABLE["city"]}
    shuffled["age"] = TABLE["age"]
    np.testing.assert_array_equal(pre.transform(shuffled), pre.transform(TABLE))


def test_a_missing_feature_column_is_named() -> None:
    pre = TabularPreprocessor().fit(TABLE)
    with pytest.raises(ValueError, match=r"expected the feature columns 'age', 'score', got a"):
        pre.transform({"city": ["Oslo"]})
    with pytest.raises(ValueError, match=r"expected the feature column 'city', got a table with"):
        pre.transform({"age": [1.0], "score": [1.0]})


def test_text_in_a_numeric_column_at_prediction_names_column_and_row() -> None:
    pre = TabularPreprocessor().fit(TABLE)
    table = dict(TABLE, age=["30", "n/a?", "1", "2"])
    with pytest.raises(ValueError, match=r"expected numbers in column 'age', got 'n/a\?' in row 2"):
        pre.transform(table)


def test_a_dataframe_with_pandas_missing_values() -> None:
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="Int64"),
            "s": pd.array(["a", pd.NA, "b"], dtype="string"),
        }
    )
    pre = TabularPreprocessor().fit(frame)
    assert [type(c) for c in pre.columns] == [NumericColumn, CategoricalColumn]
    np.testing.assert_allclose(pre.transform(frame)[:, 0], [-1, 0, 1])
    np.testing.assert_array_equal(pre.transform(frame)[:, 1:], [[1, 0, 0], [0, 0, 1], [0, 1, 0]])


def test_booleans_are_categories_that_match_their_text() -> None:
    pre = TabularPreprocessor().fit({"flag": np.array([True, False, True])})
    assert pre.columns == [CategoricalColumn("flag", ("False", "True"), missing=False)]
    np.testing.assert_array_equal(pre.transform({"flag": ["True", "False"]}), [[0, 1], [1, 0]])


def test_constant_and_empty_columns_become_zeros() -> None:
    pre = TabularPreprocessor().fit({"same": [5, 5, 5], "empty": [None, None, None]})
    assert pre.columns[0] == NumericColumn("same", 5.0, 5.0, 1.0, constant=True)
    assert pre.columns[1] == NumericColumn("empty", 0.0, 0.0, 1.0, empty=True)
    # A column that held nothing when fitted taught the model nothing: 0 whatever comes.
    np.testing.assert_array_equal(
        pre.transform({"same": [5, 5], "empty": [None, 2]}), [[0, 0], [0, 0]]
    )


def test_infinities_count_as_missing() -> None:
    pre = TabularPreprocessor().fit({"x": [1.0, 3.0, float("inf")]})
    assert pre.columns[0].median == 2.0  # type: ignore[union-attr]


def test_max_categories_keeps_the_most_frequent() -> None:
    pre = TabularPreprocessor(max_categories=2).fit({"c": ["a", "b", "b", "c", "c", "c", "d"]})
    assert pre.columns == [CategoricalColumn("c", ("b", "c"), missing=False)]
    np.testing.assert_array_equal(pre.transform({"c": ["a", "c"]}), [[0, 0], [0, 1]])


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (0, ValueError, r"max_categories must be >= 1, got 0"),
        (2.5, TypeError, r"max_categories must be an int, got float"),
    ],
)
def test_max_categories_is_checked(value: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        TabularPreprocessor(max_categories=value)


def test_fit_refuses_empty_or_ragged_tables() -> None:
    with pytest.raises(ValueError, match=r"fit: expected at least one row, got none"):
        TabularPreprocessor().fit({"a": []})
    with pytest.raises(ValueError, match=r"fit: expected columns of one length, got lengths"):
        TabularPreprocessor().fit({"a": [1, 2], "b": [1]})
    with pytest.raises(ValueError, match=r"fit: expected a column 'zz', got none"):
        TabularPreprocessor().fit({"a": [1]}, columns=["zz"])
    with pytest.raises(TypeError, match=r"fit: expected a table .* got list"):
        TabularPreprocessor().fit([[1, 2]])


def test_transform_before_fit() -> None:
    with pytest.raises(RuntimeError, match=r"transform: not fitted; call fit\(table\) first"):
        TabularPreprocessor().transform(TABLE)


def test_to_dict_from_dict_through_json_transforms_the_same() -> None:
    pre = TabularPreprocessor(max_categories=7).fit(TABLE)
    again = TabularPreprocessor.from_dict(roundtrip_json(pre.to_dict()))
    assert again.columns == pre.columns and again.max_categories == 7
    np.testing.assert_array_equal(again.transform(TABLE), pre.transform(TABLE))
    assert repr(again) == "TabularPreprocessor(2 numeric, 1 categorical columns -> 5 features)"


def _state(**changes: Any) -> dict[str, Any]:
    state = TabularPreprocessor().fit(TABLE).to_dict()
    state.update(changes)
    return state


def _column(index: int, **changes: Any) -> dict[str, Any]:
    state = _state()
    state["columns"][index].update(changes)
    return state


@pytest.mark.parametrize(
    ("state", "match"),
    [
        ([], r"expected a dict, got \[\]"),
        (_state(format="pickle"), r"expected format 'chainrule.tabular', got 'pickle'"),
        (_state(version=2), r"expected version 1, got 2"),
        (_state(max_categories="9"), r"expected an int max_categories, got '9'"),
        (_state(columns=[]), r"expected a list of columns, got \[\]"),
        (_column(0, kind="code"), r"expected kind 'numeric' or 'categorical', got 'code'"),
        (_column(0, name=3), r"expected a column name, got 3"),
        (_column(0, std=0.0), r"expected a positive std for 'age', got 0.0"),
        (_column(0, mean=None), r"expected finite statistics for 'age'"),
        (_column(0, median=float("inf")), r"expected finite statistics for 'age'"),
        (_column(1, categories=["a", 1]), r"expected a list of distinct category names"),
        (_column(1, categories=["a", "a"]), r"expected a list of distinct category names"),
        (_column(1, missing="yes"), r"expected a boolean 'missing' for 'city'"),
        (_column(1, categories=[], missing=False), r"expected at least one category for 'city'"),
        (_column(1, name="age"), r"expected distinct column names, got 'age'"),
    ],
)
def test_from_dict_refuses_malformed_state(state: Any, match: str) -> None:
    with pytest.raises(ValueError, match=r"^TabularPreprocessor.from_dict: " + match):
        TabularPreprocessor.from_dict(state)


# --- target ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["cat", "dog", "cat"], "classification"),
        ([True, False], "classification"),
        ([0, 1, 2, 1], "classification"),
        (["0", "1", "1"], "classification"),
        ([1.0, 2.0, None], "classification"),
        ([0.5, 1.25, 2.0], "regression"),
        (list(range(21)), "regression"),
    ],
)
def test_infer_task(values: list[Any], task: str) -> None:
    assert infer_task(values) == task


def test_string_classes_stay_strings() -> None:
    encoder = TargetEncoder().fit(["yes", "no", None, "yes"])
    assert (encoder.task, encoder.classes, encoder.n_outputs) == (
        "classification",
        ["no", "yes"],
        2,
    )
    np.testing.assert_array_equal(encoder.encode(["no", "yes"]), [0, 1])
    decoded = encoder.decode(np.array([[0.1, 0.9], [2.0, -1.0]]))
    assert decoded.tolist() == ["yes", "no"]
    assert repr(encoder) == "TargetEncoder(classification, 2 classes)"


def test_numeric_classes_come_back_as_numbers_whether_read_as_text_or_not() -> None:
    encoder = TargetEncoder().fit(["3", "1", "2", "1"])
    assert encoder.classes == [1, 2, 3]
    assert all(type(c) is int for c in encoder.classes)
    np.testing.assert_array_equal(encoder.encode([1, 2.0, "3"]), [0, 1, 2])
    assert encoder.decode(np.array([2, 0])).tolist() == [3, 1]


def test_unknown_labels_raise_or_take_the_given_index() -> None:
    encoder = TargetEncoder().fit(["a", "b"])
    with pytest.raises(
        ValueError, match=r"expected one of the classes \['a', 'b'\], got 'c' in row 2"
    ):
        encoder.encode(["a", "c"])
    np.testing.assert_array_equal(encoder.encode(["a", "c", None], unknown=-1), [0, -1, -1])


def test_one_class_is_not_a_classification() -> None:
    with pytest.raises(
        ValueError, match=r"expected at least 2 classes to tell apart, got 1 \('x'\)"
    ):
        TargetEncoder().fit(["x", "x", None])
    with pytest.raises(ValueError, match=r"expected target values, got only missing ones"):
        TargetEncoder().fit([None, ""])


def test_regression_standardizes_and_decodes_in_the_original_units() -> None:
    encoder = TargetEncoder("regression").fit([10.0, 20.0, None, 30.0])
    assert (encoder.mean, encoder.std) == (20.0, float(np.std([10, 20, 30])))
    y = encoder.encode([10.0, 30.0])
    assert y.dtype == np.float32 and y.shape == (2, 1)
    np.testing.assert_allclose(encoder.decode(y), [10.0, 30.0], rtol=1e-6)
    np.testing.assert_array_equal(encoder.missing([1.0, None, float("nan")]), [False, True, True])


def test_a_regression_target_must_be_numbers() -> None:
    with pytest.raises(ValueError, match=r"expected numbers for a regression target, got text"):
        TargetEncoder("regression").fit(["a", "b"])
    encoder = TargetEncoder("regression").fit([1.0, 2.0])
    with pytest.raises(ValueError, match=r"expected numbers, got a missing value in row 2"):
        encoder.encode([1.0, None])
    with pytest.raises(ValueError, match=r"expected numbers, got 'many' in row 3"):
        encoder.encode(["1", "2", "many"])


def test_task_is_checked_and_encode_needs_fit() -> None:
    with pytest.raises(ValueError, match=r"task must be 'auto', 'classification' or 'regression'"):
        TargetEncoder("clustering")
    with pytest.raises(RuntimeError, match=r"encode: not fitted"):
        TargetEncoder().encode([1])


@pytest.mark.parametrize("values", [["b", "a"], [1, 0, 2], [True, False], [0.5, 1.5]], ids=str)
def test_target_to_dict_from_dict_through_json(values: list[Any]) -> None:
    task = "classification" if not isinstance(values[0], float) else "regression"
    encoder = TargetEncoder(task).fit(values)
    again = TargetEncoder.from_dict(roundtrip_json(encoder.to_dict()))
    assert again.task == encoder.task and again.classes == encoder.classes
    np.testing.assert_array_equal(again.encode(values), encoder.encode(values))


@pytest.mark.parametrize(
    ("state", "match"),
    [
        ("classes", r"expected a dict"),
        ({"task": "ranking"}, r"expected task 'classification' or 'regression', got 'ranking'"),
        ({"task": "classification", "classes": ["a"]}, r"expected a list of at least 2 class"),
        ({"task": "classification", "classes": ["a", None]}, r"expected a list of at least 2"),
        ({"task": "classification", "classes": [1, 1]}, r"expected distinct class labels"),
        ({"task": "regression", "mean": 0.0, "std": 0.0}, r"expected finite mean and std > 0"),
        ({"task": "regression", "mean": "0", "std": 1.0}, r"expected finite mean and std > 0"),
    ],
)
def test_target_from_dict_refuses_malformed_state(state: Any, match: str) -> None:
    with pytest.raises(ValueError, match=r"^TargetEncoder.from_dict: " + match):
        TargetEncoder.from_dict(state)


@pytest.mark.parametrize(
    "labels",
    [
        ["007", "012", "100"],
        ["1.0", "2.0", "3.0"],
        ["+3", "5", "1e3"],
        ["-0", "1"],
        ["12345678901234567890", "1"],  # beyond float64's integers
    ],
    ids=str,
)
def test_text_labels_that_numbers_would_not_give_back_stay_as_written(labels: list[str]) -> None:
    """Codes read from a file keep their form: ``"007"`` is not 7, ``"1.0"`` is not 1."""
    values = [*labels, None, labels[0]]
    encoder = TargetEncoder().fit(values)
    assert encoder.task == "classification"
    assert encoder.classes == sorted(labels)
    assert all(type(c) is str for c in encoder.classes)
    codes = encoder.encode(labels)
    assert encoder.decode(codes).tolist() == labels
    again = TargetEncoder.from_dict(roundtrip_json(encoder.to_dict()))
    assert again.classes == encoder.classes
    np.testing.assert_array_equal(again.encode(labels), codes)


def test_text_labels_are_stripped_as_written_numbers_or_not() -> None:
    encoder = TargetEncoder().fit([" 007", "012 ", "007"])
    assert encoder.classes == ["007", "012"]
    assert TargetEncoder().fit([" 5", "6"]).classes == [5, 6]  # "5" gives back "5"


def test_text_that_numbers_give_back_becomes_numbers() -> None:
    encoder = TargetEncoder("classification").fit(["-2", "10", "0.5", "", "10"])
    assert encoder.classes == [-2, 0.5, 10]
    assert [type(c) for c in encoder.classes] == [int, float, int]


def test_a_few_rows_of_text_labels_find_their_classes() -> None:
    """At evaluation a table may hold only some of the labels; those that alone read as
    numbers still find the text classes, and other spellings of a code are not it."""
    encoder = TargetEncoder().fit(["007", "012", "100"])
    np.testing.assert_array_equal(encoder.encode(["100"]), [2])
    np.testing.assert_array_equal(encoder.encode([100, "012"]), [2, 1])
    np.testing.assert_array_equal(encoder.encode(["7", "12", "0100"], unknown=-1), [-1, -1, -1])
    with pytest.raises(ValueError, match=r"expected one of the classes .*, got '7' in row 1"):
        encoder.encode(["7"])


def test_a_model_file_from_before_text_labels_kept_their_form_reads_them_as_numbers() -> None:
    """Files written while text like "007" became 7 stored the classes as numbers: that
    text still finds them, and the predictions are the numbers, as they were."""
    encoder = TargetEncoder.from_dict({"task": "classification", "classes": [7, 12, 100]})
    np.testing.assert_array_equal(encoder.encode(["007", "012", "100", 12]), [0, 1, 2, 1])
    np.testing.assert_array_equal(encoder.encode(["7.0", "0012"]), [0, 1])
    assert encoder.decode(np.array([2, 0])).tolist() == [100, 7]
    floats = TargetEncoder.from_dict({"task": "classification", "classes": [1, 2]})
    np.testing.assert_array_equal(floats.encode(["1.0", "2.0", "2"]), [0, 1, 1])


def test_text_numbers_are_a_regression_target_in_their_units() -> None:
    encoder = TargetEncoder().fit(["1.50", "2.25", "+3.10", "0010.5"])
    assert encoder.task == "regression"
    values = encoder.decode(encoder.encode(["1.50", "0010.5"]))
    np.testing.assert_allclose(values, [1.5, 10.5], rtol=1e-6)
