"""nn.Transformer against PyTorch's (outputs, every gradient, masks, layouts, init, model
files), and nn.utils.rnn.unpad_sequence and unpack_sequence against PyTorch's."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from torch_oracle import assert_close, compare_module

import chainrule as cr
from chainrule import nn
from chainrule.io import describe_model
from chainrule.nn.utils.rnn import (
    pack_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

torch = pytest.importorskip("torch")

F64 = np.float64
E, H, D_FF = 8, 2, 12
S, T, N = 5, 4, 3


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _torch_transformer(*args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        # PyTorch warns when its nested-tensor fast path is off (norm_first, batch_first...).
        warnings.simplefilter("ignore", UserWarning)
        return torch.nn.Transformer(*args, **kwargs)


def _pair(**kwargs: Any) -> tuple[nn.Transformer, Any]:
    """Ours and PyTorch's, ours holding PyTorch's weights."""
    ours = nn.Transformer(E, H, 2, 3, D_FF, dropout=0.0, dtype=F64, generator=0, **kwargs)
    theirs = _torch_transformer(E, H, 2, 3, D_FF, dropout=0.0, dtype=torch.float64, **kwargs)
    state = theirs.state_dict()
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in state.items()})
    return ours, theirs


def _padding(batch: int, length: int, kind: str, seed: int) -> np.ndarray:
    """The last ``b`` positions of sequence b padded (never all of them)."""
    bool_mask = np.arange(length)[None, :] >= length - np.arange(batch)[:, None]
    if kind == "bool":
        return bool_mask
    return np.where(bool_mask, -np.inf, 0.0) + 0.1 * _rng(seed).standard_normal(bool_mask.shape)


def _attention(shape: tuple[int, ...], kind: str, seed: int) -> np.ndarray:
    """A causal-like mask that leaves every query its first key."""
    bool_mask = np.triu(np.ones(shape, dtype=bool), k=1)
    if kind == "bool":
        return bool_mask
    return np.where(bool_mask, -np.inf, 0.0) + 0.1 * _rng(seed).standard_normal(shape)


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(kind: str, norm_first: bool, batch_first: bool) -> None:
    ours, theirs = _pair(batch_first=batch_first, norm_first=norm_first)
    src = _rng(1).standard_normal((N, S, E) if batch_first else (S, N, E))
    tgt = _rng(2).standard_normal((N, T, E) if batch_first else (T, N, E))
    inputs = [
        src,
        tgt,
        _attention((S, S), kind, 3),
        _attention((T, T), kind, 4),
        _attention((T, S), kind, 5),
        _padding(N, S, kind, 6),
        _padding(N, T, kind, 7),
        _padding(N, S, kind, 8),
    ]
    # Every parameter's gradient, and the inputs' and float masks' gradients, to 1e-10.
    compare_module(ours, theirs, inputs, copy=False, rtol=1e-10, atol=1e-10)


def test_transformer_without_masks_gelu_and_no_bias_matches_torch() -> None:
    ours, theirs = _pair(activation="gelu", bias=False, layer_norm_eps=1e-6)
    src, tgt = _rng(1).standard_normal((S, N, E)), _rng(2).standard_normal((T, N, E))
    compare_module(ours, theirs, [src, tgt], copy=False, rtol=1e-10, atol=1e-10)


def test_unbatched_input_matches_torch() -> None:
    ours, theirs = _pair()
    src, tgt = _rng(1).standard_normal((S, E)), _rng(2).standard_normal((T, E))
    mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=F64).numpy()
    compare_module(ours, theirs, [src, tgt], copy=False, rtol=1e-10, atol=1e-10)
    out = ours(cr.tensor(src), cr.tensor(tgt), tgt_mask=mask)
    expected = theirs(torch.tensor(src), torch.tensor(tgt), tgt_mask=torch.tensor(mask))
    assert_close(out.detach().numpy(), expected.detach().numpy(), F64, "unbatched, masked")


def test_causal_flags_match_torch_and_apply_the_causal_mask() -> None:
    ours, theirs = _pair()
    src, tgt = _rng(1).standard_normal((S, N, E)), _rng(2).standard_normal((T, N, E))
    src_mask = torch.nn.Transformer.generate_square_subsequent_mask(S, dtype=torch.float64)
    tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    expected = theirs(
        torch.tensor(src),
        torch.tensor(tgt),
        src_mask=src_mask,
        tgt_mask=tgt_mask,
        src_is_causal=True,
        tgt_is_causal=True,
    )
    x, y = cr.tensor(src), cr.tensor(tgt)
    with_masks = ours(
        x,
        y,
        src_mask=src_mask.numpy(),
        tgt_mask=tgt_mask.numpy(),
        src_is_causal=True,
        tgt_is_causal=True,
    )
    flags_only = ours(x, y, src_is_causal=True, tgt_is_causal=True)
    assert_close(with_masks.detach().numpy(), expected.detach().numpy(), F64, "with masks")
    assert_close(flags_only.detach().numpy(), expected.detach().numpy(), F64, "flags only")


@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_keys_and_shapes_equal_torch(bias: bool) -> None:
    ours = nn.Transformer(E, H, 2, 1, D_FF, bias=bias)
    theirs = _torch_transformer(E, H, 2, 1, D_FF, bias=bias)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
    ]
    assert "encoder.norm.weight" in ours.state_dict() and "decoder.norm.weight" in ours.state_dict()
    assert (ours.d_model, ours.nhead, ours.batch_first) == (E, H, False)


def test_defaults_are_torch() -> None:
    model = nn.Transformer()
    layer = model.encoder.layers[0]
    assert (model.d_model, model.nhead) == (512, 8)
    assert (len(model.encoder.layers), len(model.decoder.layers)) == (6, 6)
    assert layer.linear1.out_features == 2048 and layer.dropout.p == 0.1
    assert layer.norm1.eps == 1e-5 and model.encoder.norm.eps == 1e-5
    assert model.encoder.norm.weight.dtype == np.float32
    assert [type(m).__name__ for m in (model.encoder, model.decoder)] == [
        "TransformerEncoder",
        "TransformerDecoder",
    ]


def test_every_matrix_is_drawn_again_from_glorot_uniform() -> None:
    """As PyTorch's ``_reset_parameters``: each >1-D parameter xavier_uniform_, each drawn
    on its own (the layers' copies no longer start equal); vectors keep their layers' init."""
    width, hidden = 32, 64
    model = nn.Transformer(width, 4, 2, 2, hidden, generator=0)
    for name, p in model.named_parameters():
        values = p.numpy()
        if p.ndim > 1:
            fan_out, fan_in = p.shape
            bound = np.sqrt(6 / (fan_in + fan_out))
            assert np.abs(values).max() <= bound, name
            assert np.abs(values).max() > 0.9 * bound, name
    layers = model.encoder.layers
    assert not np.array_equal(layers[0].linear1.weight.numpy(), layers[1].linear1.weight.numpy())
    assert np.all(layers[0].self_attn.in_proj_bias.numpy() == 0)
    assert np.all(model.decoder.norm.weight.numpy() == 1)
    again = nn.Transformer(width, 4, 2, 2, hidden, generator=0)
    for (name, p), q in zip(model.named_parameters(), again.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)


def test_custom_encoder_and_decoder_are_used_and_reinitialized() -> None:
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, D_FF, dropout=0.0), 1)
    decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, D_FF, dropout=0.0), 1)
    before = encoder.layers[0].linear1.weight.numpy().copy()
    model = nn.Transformer(E, H, custom_encoder=encoder, custom_decoder=decoder, generator=0)
    assert model.encoder is encoder and model.decoder is decoder
    assert not np.array_equal(encoder.layers[0].linear1.weight.numpy(), before)
    src, tgt = cr.randn(S, N, E, generator=1), cr.randn(T, N, E, generator=2)
    expected = decoder(tgt, encoder(src))
    np.testing.assert_allclose(model(src, tgt).numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("size", [0, 1, 6])
@pytest.mark.parametrize("dtype", [None, F64])
def test_generate_square_subsequent_mask_equals_torch(size: int, dtype: Any) -> None:
    mask = nn.Transformer.generate_square_subsequent_mask(size, dtype=dtype)
    torch_dtype = None if dtype is None else torch.float64
    expected = torch.nn.Transformer.generate_square_subsequent_mask(size, dtype=torch_dtype)
    assert mask.dtype == np.dtype(str(expected.dtype).removeprefix("torch."))
    np.testing.assert_array_equal(mask.numpy(), expected.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(size, "cpu").dtype == np.float32


def test_bad_arguments_are_refused_with_the_values() -> None:
    model = nn.Transformer(E, H, 1, 1, D_FF)
    with pytest.raises(ValueError, match=r"same batch size \(axis 1\), got shapes \(5, 3, 8\) "):
        model(np.zeros((S, N, E)), np.zeros((T, N + 1, E)))
    with pytest.raises(ValueError, match=r"last axis 8 \(d_model\), got shapes \(5, 3, 8\) and"):
        model(np.zeros((S, N, E)), np.zeros((T, N, E + 1)))
    with pytest.raises(ValueError, match="Transformer: chainrule runs on the CPU only"):
        nn.Transformer(E, H, device="cuda")
    where = "Transformer.generate_square_subsequent_mask"
    with pytest.raises(ValueError, match=f"{where}: sz must be an integer >= 0, got -1"):
        nn.Transformer.generate_square_subsequent_mask(-1)
    with pytest.raises(ValueError, match=f"{where}: expected a floating point dtype, got int64"):
        nn.Transformer.generate_square_subsequent_mask(3, dtype=np.int64)
    with pytest.raises(ValueError, match=f"{where}: chainrule runs on the CPU only"):
        nn.Transformer.generate_square_subsequent_mask(3, device="cuda")


# --- model files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "activation": "gelu",
            "layer_norm_eps": 1e-6,
            "batch_first": True,
            "norm_first": True,
            "bias": False,
            "dtype": F64,
        },
    ],
    ids=["default", "changed"],
)
def test_transformer_round_trips_through_a_model_file(
    tmp_path: Path, kwargs: dict[str, Any]
) -> None:
    model = nn.Transformer(E, H, 2, 1, D_FF, dropout=0.2, generator=0, **kwargs)
    first = kwargs.get("batch_first", False)
    src = cr.randn(*((N, S, E) if first else (S, N, E)), generator=1, dtype=F64)
    tgt = cr.randn(*((N, T, E) if first else (T, N, E)), generator=2, dtype=F64)
    out = model(src, tgt)
    (out * out).sum().backward()
    cr.optim.SGD(model.parameters(), lr=0.1).step()
    cr.save(model, tmp_path / "transformer.safetensors")
    loaded = cr.load(tmp_path / "transformer.safetensors")
    assert isinstance(loaded, nn.Transformer)
    assert repr(loaded) == repr(model)
    assert list(loaded.state_dict()) == list(model.state_dict())
    for key, value in model.state_dict().items():
        got = loaded.state_dict()[key]
        assert got.dtype == value.dtype, key
        np.testing.assert_array_equal(got.numpy(), value.numpy(), err_msg=key)
    model.eval()
    loaded.eval()
    mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=out.dtype)
    with cr.no_grad():
        expected, got = model(src, tgt, tgt_mask=mask), loaded(src, tgt, tgt_mask=mask)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def _tanh(x: Any) -> Any:
    return x.tanh()


def _changed_decoder_layer() -> nn.Transformer:
    model = nn.Transformer(E, H, 1, 2, D_FF)
    model.decoder.layers[1] = nn.TransformerDecoderLayer(E, H, D_FF, dropout=0.3)
    return model


def _unlike_parts() -> nn.Transformer:
    model = nn.Transformer(E, H, 1, 1, D_FF)
    model.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, 6), 1, nn.LayerNorm(E))
    return model


def _no_final_norm() -> nn.Transformer:
    model = nn.Transformer(E, H, 1, 1, D_FF)
    model.encoder.norm = None
    return model


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: nn.Transformer(
                E, H, custom_encoder=nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H), 1)
            ),
            "Transformer at the top with a custom_encoder or custom_decoder; it is a custom module",
        ),
        (
            lambda: nn.Transformer(E, H, 1, 1, D_FF, custom_decoder=nn.Identity()),
            "with a custom_encoder or custom_decoder",
        ),
        (
            lambda: nn.Transformer(E, H, 1, 1, D_FF, activation=_tanh),
            r"with activation=<function _tanh .*, a callable other than chainrule's relu and "
            r"gelu \(in its encoder\); it is a custom module",
        ),
        (_changed_decoder_layer, r"with layers.1 configured unlike layers.0 \(in its decoder\)"),
        (_unlike_parts, "with decoder layers configured unlike the encoder layers"),
        (_no_final_norm, "with encoder.norm unlike the LayerNorm its arguments build"),
    ],
    ids=["custom encoder", "custom decoder", "activation", "layers", "parts", "norm"],
)
def test_transformers_the_file_cannot_rebuild_are_refused(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        describe_model(make())


# --- unpad_sequence and unpack_sequence -------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence_matches_torch_with_gradients(batch_first: bool) -> None:
    lengths = [3, 5, 1]
    shape = (3, 5, 2) if batch_first else (5, 3, 2)
    x = _rng(1).standard_normal(shape)
    ours = cr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    pieces = unpad_sequence(ours, cr.tensor(lengths), batch_first=batch_first)
    # PyTorch transposes its input in place when not batch_first: give it a copy.
    expected = torch.nn.utils.rnn.unpad_sequence(
        theirs * 1, torch.tensor(lengths), batch_first=batch_first
    )
    assert len(pieces) == len(expected) == 3
    upstream = [_rng(2 + i).standard_normal(tuple(e.shape)) for i, e in enumerate(expected)]
    for piece, e in zip(pieces, expected, strict=True):
        np.testing.assert_array_equal(piece.detach().numpy(), e.detach().numpy())
    sum(
        ((p * cr.tensor(u)).sum() for p, u in zip(pieces, upstream, strict=True)), cr.tensor(0.0)
    ).backward()
    sum((e * torch.tensor(u)).sum() for e, u in zip(expected, upstream, strict=True)).backward()
    assert ours.grad is not None and theirs.grad is not None
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    assert cr.tensor(x).shape == ours.shape  # the input is left as it was


def test_unpad_sequence_inverts_pad_sequence() -> None:
    sequences = [cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0, 4.0], [5.0, 6.0]])]
    pieces = unpad_sequence(pad_sequence(sequences, batch_first=True), [1, 2], batch_first=True)
    assert [p.tolist() for p in pieces] == [s.tolist() for s in sequences]


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_unpack_sequence_matches_torch_with_gradients(enforce_sorted: bool) -> None:
    lengths = [4, 2, 1] if enforce_sorted else [2, 4, 1]
    arrays = [_rng(i).standard_normal((n, 3)) for i, n in enumerate(lengths)]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    pieces = unpack_sequence(pack_sequence(ours, enforce_sorted=enforce_sorted))
    expected = torch.nn.utils.rnn.unpack_sequence(
        torch.nn.utils.rnn.pack_sequence(theirs, enforce_sorted=enforce_sorted)
    )
    assert (
        [p.shape for p in pieces] == [tuple(e.shape) for e in expected] == [(n, 3) for n in lengths]
    )
    upstream = [_rng(10 + i).standard_normal(tuple(e.shape)) for i, e in enumerate(expected)]
    for piece, e in zip(pieces, expected, strict=True):
        np.testing.assert_array_equal(piece.detach().numpy(), e.detach().numpy())
    sum(
        ((p * cr.tensor(u)).sum() for p, u in zip(pieces, upstream, strict=True)), cr.tensor(0.0)
    ).backward()
    sum((e * torch.tensor(u)).sum() for e, u in zip(expected, upstream, strict=True)).backward()
    for a, b in zip(ours, theirs, strict=True):
        assert a.grad is not None and b.grad is not None
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_unpad_and_unpack_refuse_bad_arguments() -> None:
    padded = cr.zeros(4, 2, 3)
    with pytest.raises(ValueError, match=r"unpad_sequence: expected lengths as 2 integers"):
        unpad_sequence(padded, [1, 2, 3])
    with pytest.raises(ValueError, match=r"unpad_sequence: expected every length in \[0, 4\], "):
        unpad_sequence(padded, [5, 1])
    with pytest.raises(ValueError, match=r"expected padded_sequences of shape \(L, B, \*\)"):
        unpad_sequence(cr.zeros(4), [4])
    with pytest.raises(TypeError, match="unpack_sequence: expected a PackedSequence, got list"):
        unpack_sequence([cr.zeros(2)])  # type: ignore[arg-type]
