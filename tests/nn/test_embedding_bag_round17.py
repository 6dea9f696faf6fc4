"""``nn.EmbeddingBag`` and ``F.embedding_bag`` against PyTorch: values and gradients of
every mode and option (float64 and float32), initialization, state dicts, a save/load round
trip, and the errors on bad inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

ROWS, DIM = 7, 4
TOL = {np.float64: 1e-12, np.float32: 1e-5}

# (indices, offsets): 1-D with offsets (an empty bag in the middle and at the end, repeated
# rows, the padding row 2) and 2-D without.
LAYOUTS = {
    "offsets": (np.array([1, 2, 3, 3, 0, 6, 2, 5, 1]), np.array([0, 3, 3, 8, 9])),
    "fixed_length": (np.array([[1, 2, 2], [3, 3, 3], [6, 0, 2], [2, 2, 2]]), None),
    "one_bag": (np.array([4, 4, 5]), np.array([0])),
}


def _pair(layout: str, mode: str, dtype: Any, **options: Any) -> tuple[Any, Any]:
    """chainrule's and PyTorch's (output, weight grad, per-sample-weight grad)."""
    indices, offsets = LAYOUTS[layout]
    rng = np.random.default_rng(0)
    table = rng.standard_normal((ROWS, DIM)).astype(dtype)
    upstream_shape = (indices.shape[0] if offsets is None else offsets.size, DIM)
    if options.get("include_last_offset"):
        upstream_shape = (upstream_shape[0] - 1, DIM)
    upstream = rng.standard_normal(upstream_shape).astype(dtype)
    psw = options.pop("psw", False)
    weights = rng.standard_normal(indices.shape).astype(dtype) if psw else None

    w = cr.tensor(table, requires_grad=True)
    s = cr.tensor(weights, requires_grad=True) if psw else None
    out = F.embedding_bag(indices, w, offsets, mode=mode, per_sample_weights=s, **options)
    (out * cr.tensor(upstream)).sum().backward()

    tw = torch.tensor(table, requires_grad=True)
    ts = torch.tensor(weights, requires_grad=True) if psw else None
    t_off = None if offsets is None else torch.tensor(offsets)
    if options.get("scale_grad_by_freq"):
        expected = _by_frequency(torch.tensor(indices), tw, t_off, mode, **options)
    else:
        expected = TF.embedding_bag(
            torch.tensor(indices), tw, t_off, mode=mode, per_sample_weights=ts, **options
        )
    (expected * torch.tensor(upstream)).sum().backward()
    got = (out.numpy(), w.grad.numpy(), None if s is None else s.grad.numpy())
    want = (
        expected.detach().numpy(),
        tw.grad.numpy(),
        None if ts is None else ts.grad.numpy(),
    )
    return got, want


def _by_frequency(
    indices: Any, weight: Any, offsets: Any, mode: str, padding_idx: Any = None, **_: Any
) -> Any:
    """PyTorch's documented ``scale_grad_by_freq`` for bags: ``F.embedding`` with it, then
    the bag sums. (PyTorch 2.13's CPU ``embedding_bag`` kernel scales some rows by another
    row's count, e.g. indices [5, 6, 5] in one bag give row 6 half its gradient; we follow
    the documentation and ``F.embedding``.)"""
    flat = indices.reshape(-1)
    if offsets is None:
        offsets = torch.arange(indices.shape[0]) * indices.shape[1]
    bags = torch.searchsorted(offsets, torch.arange(flat.numel()), right=True) - 1
    rows = TF.embedding(flat, weight, padding_idx, scale_grad_by_freq=True)
    if padding_idx is not None:
        keep = (flat != padding_idx % weight.shape[0]).to(weight.dtype)[:, None]
        rows = rows * keep
    else:
        keep = torch.ones(flat.numel(), 1, dtype=weight.dtype)
    out = torch.zeros(offsets.numel(), weight.shape[1], dtype=weight.dtype)
    out = out.index_add(0, bags, rows)
    if mode == "mean":
        counts = torch.zeros(offsets.numel(), 1, dtype=weight.dtype).index_add(0, bags, keep)
        out = out / counts.clamp(min=1)
    return out


def _check(got: Any, want: Any, dtype: Any) -> None:
    for a, b in zip(got, want, strict=True):
        if b is None:
            assert a is None
            continue
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype])


OPTIONS = [
    {},
    {"padding_idx": 2},
    {"padding_idx": -5},
    {"scale_grad_by_freq": True},
    {"scale_grad_by_freq": True, "padding_idx": 2},
    {"max_norm": 1.0},
    {"max_norm": 1.5, "norm_type": 1.0, "padding_idx": 3},
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_values_and_gradients_match_pytorch(
    dtype: Any, layout: str, mode: str, options: dict[str, Any]
) -> None:
    if mode == "max" and options.get("scale_grad_by_freq"):
        with pytest.raises(ValueError, match="max mode does not support scaling the gradient"):
            _pair(layout, mode, dtype, **options)
        return
    _check(*_pair(layout, mode, dtype, **options), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_per_sample_weights_match_pytorch(dtype: Any, layout: str, padding_idx: Any) -> None:
    _check(*_pair(layout, "sum", dtype, psw=True, padding_idx=padding_idx), dtype)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_include_last_offset_matches_pytorch(mode: str) -> None:
    # the last offset closes the last bag, which (as in PyTorch) runs to the input's end
    _check(*_pair("offsets", mode, np.float64, include_last_offset=True), np.float64)


def test_max_ties_send_the_gradient_to_one_row_as_pytorch() -> None:
    table = np.array([[1.0, 2.0], [3.0, 0.0], [3.0, 5.0], [1.0, 2.0]])
    indices, offsets = np.array([0, 3, 1, 2, 1, 1, 0]), np.array([0, 4, 6])
    w = cr.tensor(table, requires_grad=True)
    out = F.embedding_bag(indices, w, offsets, mode="max")
    out.sum().backward()
    tw = torch.tensor(table, requires_grad=True)
    expected = TF.embedding_bag(torch.tensor(indices), tw, torch.tensor(offsets), mode="max")
    expected.sum().backward()
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())


def test_module_init_state_dict_and_training_match_pytorch() -> None:
    layer = nn.EmbeddingBag(1000, 8, mode="sum", padding_idx=3, generator=0)
    data = layer.weight.numpy()
    assert data.dtype == np.float32 and not data[3].any()
    assert abs(data.mean()) < 0.02 and abs(data.std() - 1) < 0.02  # N(0, 1), as PyTorch
    again = nn.EmbeddingBag(1000, 8, mode="sum", padding_idx=3, generator=0)
    np.testing.assert_array_equal(again.weight.numpy(), data)
    reference = torch.nn.EmbeddingBag(10, 3, mode="mean", padding_idx=-1, dtype=torch.float64)
    ours = nn.EmbeddingBag(10, 3, mode="mean", padding_idx=-1, dtype=np.float64)
    assert repr(ours) == repr(reference)
    ours.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    assert list(ours.state_dict()) == ["weight"]
    optimizer = cr.optim.SGD(ours.parameters(), lr=0.5)
    t_optimizer = torch.optim.SGD(reference.parameters(), lr=0.5)
    indices, offsets = np.array([1, 9, 2, 2, 5, 9]), np.array([0, 2, 2])
    for step in range(3):
        target = np.full((3, 3), float(step))
        optimizer.zero_grad()
        loss = ((ours(indices, offsets) - cr.tensor(target)) ** 2).sum()
        loss.backward()
        optimizer.step()
        t_optimizer.zero_grad()
        t_out = reference(torch.tensor(indices), torch.tensor(offsets))
        ((t_out - torch.tensor(target)) ** 2).sum().backward()
        t_optimizer.step()
        np.testing.assert_allclose(loss.item(), ((t_out - torch.tensor(target)) ** 2).sum().item())
    np.testing.assert_allclose(ours.weight.numpy(), reference.weight.detach().numpy(), atol=1e-12)


def test_from_pretrained_and_weight_argument() -> None:
    table = np.arange(12.0).reshape(4, 3)
    frozen = nn.EmbeddingBag.from_pretrained(table, mode="sum")
    assert not frozen.weight.requires_grad
    assert frozen(np.array([[0, 3]])).tolist() == [[9.0, 11.0, 13.0]]
    given = nn.EmbeddingBag(4, 3, _weight=table, mode="max")
    assert given(np.array([[0, 3]])).tolist() == [[9.0, 10.0, 11.0]]
    with pytest.raises(ValueError, match=r"expected _weight of shape \(5, 3\), got shape"):
        nn.EmbeddingBag(5, 3, _weight=table)


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = nn.Sequential(
        nn.EmbeddingBag(9, 4, mode="max", padding_idx=0, include_last_offset=True, generator=1),
        nn.Linear(4, 2, generator=1),
    )
    cr.save(model, tmp_path / "bag.safetensors")
    loaded = cr.load(tmp_path / "bag.safetensors")
    assert repr(loaded) == repr(model)
    indices = np.array([[1, 0, 8], [3, 3, 2]])
    np.testing.assert_array_equal(loaded(indices).numpy(), model(indices).numpy())


W = cr.tensor(np.ones((5, 3)))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: F.embedding_bag(np.array([1, 2]), W, np.array([1])),
            RuntimeError,
            r"offsets\[0\] has to be 0.*got 1",
        ),
        (
            lambda: F.embedding_bag(np.array([1, 2]), W, np.array([0, 3])),
            RuntimeError,
            r"offsets\[-1\] can not be greater than the input's length 2, got offsets\[-1\] of 3",
        ),
        (
            lambda: F.embedding_bag(np.array([1, 2, 3]), W, np.array([0, 2, 1])),
            ValueError,
            r"expected non-decreasing offsets, got \[0, 2, 1\]",
        ),
        (
            lambda: F.embedding_bag(np.array([1, 2]), W, np.array([[0]])),
            ValueError,
            r"offsets has to be 1-D, got shape \(1, 1\)",
        ),
        (
            lambda: F.embedding_bag(np.array([1, 2]), W),
            ValueError,
            "with a 1-D input, offsets has to be a 1-D array, got None",
        ),
        (
            lambda: F.embedding_bag(np.array([[1, 2]]), W, np.array([0])),
            ValueError,
            "with a 2-D input .* offsets has to be None",
        ),
        (
            lambda: F.embedding_bag(np.zeros((1, 1, 1), dtype=int), W),
            ValueError,
            r"input has to be 1-D or 2-D, got shape \(1, 1, 1\)",
        ),
        (
            lambda: F.embedding_bag(np.array([1]), W, np.array([], dtype=int)),
            ValueError,
            "expected at least one offset",
        ),
        (
            lambda: F.embedding_bag(np.array([1]), W, np.array([0]), include_last_offset=True),
            ValueError,
            r"at least 2 entries \(bags \+ 1\), got \[0\]",
        ),
        (
            lambda: F.embedding_bag(np.array([1, 5]), W, np.array([0])),
            IndexError,
            r"index 5 is out of range for 5 embeddings \(expected 0..4\)",
        ),
        (
            lambda: F.embedding_bag(np.array([1.0]), W, np.array([0])),
            TypeError,
            "expected integer indices, got dtype float64",
        ),
        (
            lambda: F.embedding_bag(np.array([1]), W, np.array([0.0])),
            TypeError,
            "expected integer offsets, got dtype float64",
        ),
        (
            lambda: F.embedding_bag(np.array([1]), W, np.array([0]), mode="min"),
            ValueError,
            "mode has to be one of sum, mean or max, got mode='min'",
        ),
        (
            lambda: F.embedding_bag(np.array([1]), W, np.array([0]), per_sample_weights=np.ones(1)),
            NotImplementedError,
            "only supported for mode='sum', got mode='mean'",
        ),
        (
            lambda: F.embedding_bag(
                np.array([1, 2]), W, np.array([0]), mode="sum", per_sample_weights=np.ones(3)
            ),
            ValueError,
            r"per_sample_weights of the input's shape \(2,\), got shape \(3,\)",
        ),
        (
            lambda: F.embedding_bag(
                np.array([1]), W, np.array([0]), mode="max", scale_grad_by_freq=True
            ),
            ValueError,
            "max mode does not support scaling the gradient by the frequency",
        ),
        (
            lambda: F.embedding_bag(np.array([1]), W, np.array([0]), sparse=True),
            ValueError,
            "sparse gradients are not supported",
        ),
        (
            lambda: F.embedding_bag(np.array([1]), W, np.array([0]), padding_idx=5),
            ValueError,
            r"padding_idx must be in \[-5, 4\], got padding_idx=5",
        ),
        (
            lambda: nn.EmbeddingBag(5, 3, mode="median"),
            ValueError,
            "EmbeddingBag: mode has to be one of sum, mean or max, got mode='median'",
        ),
        (
            lambda: nn.EmbeddingBag(5, 3, sparse=True),
            ValueError,
            "EmbeddingBag: sparse gradients are not supported",
        ),
        (
            lambda: nn.EmbeddingBag(5, 3, padding_idx=-6),
            ValueError,
            r"EmbeddingBag: padding_idx must be in \[-5, 4\], got padding_idx=-6",
        ),
        (
            lambda: nn.EmbeddingBag(-1, 3),
            ValueError,
            "EmbeddingBag: num_embeddings must be a non-negative integer, got num_embeddings=-1",
        ),
        (
            lambda: nn.EmbeddingBag(5, 3, max_norm=-1.0),
            ValueError,
            "EmbeddingBag: max_norm must be a number > 0 or None, got -1.0",
        ),
        (
            lambda: nn.EmbeddingBag(5, 3, mode="max", scale_grad_by_freq=True),
            ValueError,
            "EmbeddingBag: max mode does not support scaling",
        ),
        (
            lambda: nn.EmbeddingBag.from_pretrained(np.ones(3)),
            ValueError,
            r"expected a 2-D array of embeddings, got shape \(3,\)",
        ),
    ],
)
def test_bad_inputs_are_refused(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()
