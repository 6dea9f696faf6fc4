"""MultiheadAttention and the Transformer layers against PyTorch: outputs, attention weights
and the gradients of inputs and of every parameter, in float64, for each kind of mask."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from torch_oracle import assert_close, compare_module, copy_weights, upstream_for

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

F64 = np.float64
E, H, L, S, N = 8, 2, 4, 5, 3


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def padding_mask(batch: int, length: int, kind: str) -> np.ndarray:
    """(batch, length): the last keys of some rows are padding (never a whole row)."""
    mask = np.zeros((batch, length), dtype=bool)
    mask[0, -2:] = True
    mask[-1, -1] = True
    return mask if kind == "bool" else np.where(mask, -np.inf, 0.0)


def attention_mask(shape: tuple[int, ...], kind: str, seed: int = 1) -> np.ndarray:
    """Random disallowed positions, column 0 always allowed; float masks mix -inf and
    finite biases."""
    mask = rng(seed).random(shape) < 0.3
    mask[..., 0] = False
    if kind == "bool":
        return mask
    return np.where(mask, -np.inf, rng(seed + 1).standard_normal(shape))


def make_pair(**kwargs: Any) -> tuple[nn.MultiheadAttention, Any]:
    ours = nn.MultiheadAttention(E, H, dtype=F64, generator=0, **kwargs)
    theirs = torch.nn.MultiheadAttention(E, H, dtype=torch.float64, **kwargs)
    copy_weights(ours, theirs)
    return ours, theirs


def compare_attention(
    module_kwargs: dict[str, Any],
    shapes: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]],
    masks: dict[str, np.ndarray] | None = None,
    torch_masks: dict[str, np.ndarray] | None = None,
    **forward: Any,
) -> tuple[Any, Any]:
    """Forward both modules, backward a random upstream through the output and the weights,
    and compare the output, the weights, and every input and parameter gradient."""
    ours, theirs = make_pair(**module_kwargs)
    arrays = [rng(k + 10).standard_normal(shape) for k, shape in enumerate(shapes)]
    cr_inputs = [cr.tensor(a, requires_grad=True) for a in arrays]
    torch_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    masks = masks or {}
    torch_masks = masks if torch_masks is None else torch_masks
    out, weights = ours(*cr_inputs, **{k: cr.tensor(m) for k, m in masks.items()}, **forward)
    t_out, t_weights = theirs(
        *torch_inputs, **{k: torch.tensor(m) for k, m in torch_masks.items()}, **forward
    )
    assert_close(out.numpy(), t_out.detach().numpy(), F64, "output")
    total = (out * cr.tensor(upstream_for(out.shape, F64))).sum()
    t_total = (t_out * torch.tensor(upstream_for(out.shape, F64))).sum()
    if t_weights is None:
        assert weights is None
    else:
        assert_close(weights.numpy(), t_weights.detach().numpy(), F64, "attention weights")
        up = upstream_for(weights.shape, F64, seed=8)
        total = total + (weights * cr.tensor(up)).sum()
        t_total = t_total + (t_weights * torch.tensor(up)).sum()
    total.backward()
    t_total.backward()
    for k, (x, tx) in enumerate(zip(cr_inputs, torch_inputs, strict=True)):
        assert_close(x.grad.numpy(), tx.grad.numpy(), F64, f"gradient of input {k}")
    torch_params = dict(theirs.named_parameters())
    params = dict(ours.named_parameters())
    assert sorted(params) == sorted(torch_params)
    for name, p in params.items():
        assert_close(p.grad.numpy(), torch_params[name].grad.numpy(), F64, f"gradient of {name}")
    return out, weights


BATCHED = ((L, N, E), (S, N, E), (S, N, E))
BATCH_FIRST = ((N, L, E), (N, S, E), (N, S, E))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("average", [True, False])
def test_plain_attention_matches_torch(batch_first: bool, average: bool) -> None:
    shapes = BATCH_FIRST if batch_first else BATCHED
    _, weights = compare_attention(
        {"batch_first": batch_first}, shapes, average_attn_weights=average
    )
    assert weights.shape == ((N, L, S) if average else (N, H, L, S))


def test_self_attention_with_one_tensor_matches_torch() -> None:
    ours, theirs = make_pair(batch_first=True)
    x = rng().standard_normal((N, L, E))
    out, weights = ours(cr.tensor(x), cr.tensor(x), cr.tensor(x))
    t_out, t_weights = theirs(*(torch.tensor(x),) * 3)
    assert_close(out.numpy(), t_out.detach().numpy(), F64, "output")
    assert_close(weights.numpy(), t_weights.detach().numpy(), F64, "weights")


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_key_padding_mask_matches_torch(kind: str, need_weights: bool) -> None:
    _, weights = compare_attention(
        {},
        BATCHED,
        {"key_padding_mask": padding_mask(N, S, kind)},
        need_weights=need_weights,
    )
    if need_weights:
        assert np.all(weights.numpy()[0, :, -2:] == 0)  # padding gets no attention


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("shape", [(L, S), (N * H, L, S)], ids=["2d", "3d"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_attn_mask_matches_torch(kind: str, shape: tuple[int, ...], need_weights: bool) -> None:
    compare_attention(
        {"batch_first": True},
        BATCH_FIRST,
        {"attn_mask": attention_mask(shape, kind)},
        need_weights=need_weights,
    )


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_attn_mask_and_key_padding_mask_together_match_torch(kind: str) -> None:
    masks = {
        "attn_mask": attention_mask((L, S), kind),
        "key_padding_mask": padding_mask(N, S, kind),
    }
    compare_attention({}, BATCHED, masks, average_attn_weights=False)


def test_float_attn_mask_receives_its_gradient() -> None:
    ours, theirs = make_pair()
    bias = rng(3).standard_normal((N * H, L, S))
    arrays = [rng(k).standard_normal(s) for k, s in enumerate(BATCHED)]
    mask = cr.tensor(bias, requires_grad=True)
    t_mask = torch.tensor(bias, requires_grad=True)
    out, _ = ours(*[cr.tensor(a) for a in arrays], attn_mask=mask)
    t_out, _ = theirs(*[torch.tensor(a) for a in arrays], attn_mask=t_mask)
    out.sum().backward()
    t_out.sum().backward()
    assert_close(mask.grad.numpy(), t_mask.grad.numpy(), F64, "gradient of attn_mask")


def test_separate_key_and_value_widths_match_torch() -> None:
    ours, _ = make_pair(kdim=3, vdim=6)
    names = {name: tuple(p.shape) for name, p in ours.named_parameters()}
    assert names["q_proj_weight"] == (E, E)
    assert names["k_proj_weight"] == (E, 3)
    assert names["v_proj_weight"] == (E, 6)
    assert "in_proj_weight" not in names
    compare_attention(
        {"kdim": 3, "vdim": 6},
        ((L, N, E), (S, N, 3), (S, N, 6)),
        {"key_padding_mask": padding_mask(N, S, "bool")},
    )


@pytest.mark.parametrize("add_bias_kv", [False, True])
@pytest.mark.parametrize("add_zero_attn", [False, True])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_extra_keys_match_torch(add_bias_kv: bool, add_zero_attn: bool, kind: str) -> None:
    masks = {
        "attn_mask": attention_mask((N * H, L, S), kind),
        "key_padding_mask": padding_mask(N, S, kind),
    }
    _, weights = compare_attention(
        {"add_bias_kv": add_bias_kv, "add_zero_attn": add_zero_attn},
        BATCHED,
        masks,
        average_attn_weights=False,
    )
    assert weights.shape == (N, H, L, S + add_bias_kv + add_zero_attn)


def test_without_bias_matches_torch() -> None:
    ours, theirs = make_pair(bias=False)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    compare_attention({"bias": False}, BATCHED)


@pytest.mark.parametrize(
    "masks",
    [{}, {"key_padding_mask": np.array([False, False, False, True, True])}],
    ids=["plain", "padding"],
)
@pytest.mark.parametrize("average", [True, False])
def test_unbatched_input_matches_torch(masks: dict[str, np.ndarray], average: bool) -> None:
    _, weights = compare_attention(
        {"batch_first": True},
        ((L, E), (S, E), (S, E)),
        masks,
        average_attn_weights=average,
    )
    assert weights.shape == ((L, S) if average else (H, L, S))


def test_unbatched_input_with_per_head_mask_matches_torch() -> None:
    compare_attention(
        {}, ((L, E), (S, E), (S, E)), {"attn_mask": attention_mask((H, L, S), "bool")}
    )


@pytest.mark.parametrize("need_weights", [True, False])
def test_is_causal_masks_later_keys(need_weights: bool) -> None:
    """PyTorch takes is_causal as a hint next to the causal mask; chainrule makes the mask
    when it is not given, and the results agree."""
    causal = np.triu(np.ones((L, L), dtype=bool), k=1)
    _, weights = compare_attention(
        {},
        ((L, N, E), (L, N, E), (L, N, E)),
        {},
        {"attn_mask": causal},
        need_weights=need_weights,
        is_causal=True,
    )
    if need_weights:
        assert np.all(weights.numpy()[:, causal] == 0)


def test_state_dict_keys_and_shapes_match_torch() -> None:
    for kwargs in ({}, {"kdim": 3, "vdim": 5}, {"add_bias_kv": True}, {"bias": False}):
        ours = nn.MultiheadAttention(E, H, **kwargs)
        theirs = torch.nn.MultiheadAttention(E, H, **kwargs)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
        ], kwargs


def test_initialization_follows_torch_scheme() -> None:
    embed = 64
    module = nn.MultiheadAttention(embed, 4, add_bias_kv=True, generator=0)
    weight = module.in_proj_weight.numpy()
    bound = np.sqrt(6 / (embed + 3 * embed))  # Glorot uniform on (3E, E)
    assert np.abs(weight).max() <= bound
    assert np.abs(weight).max() > 0.9 * bound
    assert np.all(module.in_proj_bias.numpy() == 0)
    assert np.all(module.out_proj.bias.numpy() == 0)
    assert module.bias_k.shape == (1, 1, embed)
    assert 0.5 < module.bias_k.numpy().std() / np.sqrt(1 / embed) < 1.5  # Glorot normal
    again = nn.MultiheadAttention(embed, 4, add_bias_kv=True, generator=0)
    np.testing.assert_array_equal(again.in_proj_weight.numpy(), weight)


def test_dropout_acts_in_training_only() -> None:
    ours, theirs = make_pair(dropout=0.5)
    x = cr.tensor(rng().standard_normal((L, N, E)))
    first, w1 = ours(x, x, x)
    second, _ = ours(x, x, x)
    assert not np.allclose(first.numpy(), second.numpy())
    assert np.any(w1.numpy() == 0)
    ours.eval()
    theirs.eval()
    a, wa = ours(x, x, x)
    b, _ = ours(x, x, x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    tx = torch.tensor(x.numpy(), requires_grad=True)
    t_out, t_weights = theirs(tx, tx, tx)
    assert_close(a.numpy(), t_out.detach().numpy(), F64, "eval output")
    assert_close(wa.numpy(), t_weights.detach().numpy(), F64, "eval weights")


def test_float32_stays_float32() -> None:
    module = nn.MultiheadAttention(E, H)
    out, weights = module(*(cr.randn(L, N, E, generator=0),) * 3)
    assert out.dtype == np.float32 and weights.dtype == np.float32


def test_bad_construction_is_refused_with_the_values() -> None:
    with pytest.raises(
        ValueError, match=r"divisible by num_heads, got embed_dim=10 and num_heads=3"
    ):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match=r"num_heads must be a positive integer, got num_heads=0"):
        nn.MultiheadAttention(8, 0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\], got 1.5"):
        nn.MultiheadAttention(8, 2, dropout=1.5)
    with pytest.raises(ValueError, match=r"activation must be 'relu', 'gelu' or a callable"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_bad_inputs_are_refused_naming_expected_and_received() -> None:
    module = nn.MultiheadAttention(E, H, kdim=3)
    q, k, v = cr.randn(L, N, E), cr.randn(S, N, 3), cr.randn(S, N, E)
    with pytest.raises(
        ValueError, match=r"expected key with last axis 3 \(kdim\), got shape \(5, 3, 8\)"
    ):
        module(q, v, v)
    with pytest.raises(ValueError, match=r"expected query of shape \(L, E\) or batched"):
        module(cr.randn(E), k, v)
    with pytest.raises(ValueError, match=r"expected key and value with 3 dimensions"):
        module(q, cr.randn(S, 3), v)
    with pytest.raises(ValueError, match=r"query's batch size"):
        module(q, cr.randn(S, 2, 3), cr.randn(S, 2, E))
    with pytest.raises(
        ValueError, match=r"expected key_padding_mask of shape \(3, 5\) .*, got shape \(5, 3\)"
    ):
        module(q, k, v, key_padding_mask=np.zeros((S, N), dtype=bool))
    with pytest.raises(
        ValueError,
        match=r"expected attn_mask of shape \(L, S\) = \(4, 5\) or \(N \* num_heads, L, S\) = "
        r"\(6, 4, 5\), got shape \(5, 4\)",
    ):
        module(q, k, v, attn_mask=np.zeros((S, L), dtype=bool))
    with pytest.raises(ValueError, match=r"attn_mask of dtype bool .* got dtype int64"):
        module(q, k, v, attn_mask=np.zeros((L, S), dtype=np.int64))


# --- Transformer layers ---------------------------------------------------------------

D_FF = 16


def encoder_pair(**kwargs: Any) -> tuple[nn.TransformerEncoderLayer, Any]:
    torch_kwargs = dict(kwargs)
    if callable(kwargs.get("activation")):
        torch_kwargs["activation"] = torch.nn.functional.gelu
    ours = nn.TransformerEncoderLayer(E, H, D_FF, dropout=0.0, dtype=F64, generator=0, **kwargs)
    theirs = torch.nn.TransformerEncoderLayer(
        E, H, D_FF, dropout=0.0, dtype=torch.float64, **torch_kwargs
    )
    return ours, theirs


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", nn.functional.gelu], ids=str)
def test_encoder_layer_matches_torch(norm_first: bool, batch_first: bool, activation: Any) -> None:
    ours, theirs = encoder_pair(
        norm_first=norm_first, batch_first=batch_first, activation=activation
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    shape = (N, L, E) if batch_first else (L, N, E)
    x = rng().standard_normal(shape)
    compare_module(ours, theirs, [x, attention_mask((L, L), "bool"), padding_mask(N, L, "bool")])


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_encoder_layer_masks_and_no_bias_match_torch(kind: str) -> None:
    ours, theirs = encoder_pair(bias=False)
    x = rng().standard_normal((L, N, E))
    compare_module(ours, theirs, [x, attention_mask((N * H, L, L), kind)], input_grads=False)
    no_mask = np.zeros((L, L), dtype=bool) if kind == "bool" else np.zeros((L, L))
    compare_module(ours, theirs, [x, no_mask, padding_mask(N, L, kind)], copy=False)


def test_encoder_layer_unbatched_and_causal_match_torch() -> None:
    ours, theirs = encoder_pair()
    copy_weights(ours, theirs)
    x = rng().standard_normal((L, E))
    causal = torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    out = ours(cr.tensor(x), is_causal=True)
    expected = theirs(torch.tensor(x), src_mask=causal, is_causal=True)
    assert_close(out.numpy(), expected.detach().numpy(), F64, "causal unbatched output")


def test_encoder_matches_torch_and_keeps_its_keys() -> None:
    layer, t_layer = encoder_pair(batch_first=True)
    ours = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E, dtype=F64))
    theirs = torch.nn.TransformerEncoder(
        t_layer, 2, norm=torch.nn.LayerNorm(E, dtype=torch.float64), enable_nested_tensor=False
    )
    keys = list(ours.state_dict())
    assert keys == list(theirs.state_dict())
    assert "layers.1.self_attn.in_proj_weight" in keys and "norm.weight" in keys
    # The copies start equal, as PyTorch's; give them different weights before comparing.
    ours.layers[1].reset_parameters(5)
    x = rng().standard_normal((N, L, E))
    compare_module(ours, theirs, [x, attention_mask((L, L), "float"), padding_mask(N, L, "float")])


def test_encoder_copies_draw_their_own_dropout_masks() -> None:
    layer = nn.TransformerEncoderLayer(E, H, D_FF, dropout=0.5, generator=0)
    encoder = nn.TransformerEncoder(layer, 2)
    first, second = encoder.layers[0], encoder.layers[1]
    np.testing.assert_array_equal(first.linear1.weight.numpy(), second.linear1.weight.numpy())
    assert first.dropout.generator.random() != second.dropout.generator.random()
    assert first.self_attn.generator.random() != second.self_attn.generator.random()


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_matches_torch(norm_first: bool) -> None:
    kwargs = {"dropout": 0.0, "norm_first": norm_first}
    layer = nn.TransformerDecoderLayer(E, H, D_FF, dtype=F64, generator=0, **kwargs)
    ours = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(E, dtype=F64))
    theirs = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(E, H, D_FF, dtype=torch.float64, **kwargs),
        2,
        norm=torch.nn.LayerNorm(E, dtype=torch.float64),
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.layers[1].reset_parameters(5)
    tgt = rng(1).standard_normal((L, N, E))
    memory = rng(2).standard_normal((S, N, E))
    causal = np.triu(np.ones((L, L), dtype=bool), k=1)
    inputs = [
        tgt,
        memory,
        causal,
        attention_mask((L, S), "bool"),
        padding_mask(N, L, "bool"),
        padding_mask(N, S, "bool"),
    ]
    compare_module(ours, theirs, inputs)


def test_encoder_learns_a_tiny_task() -> None:
    """Each position learns to output the mean of the sequence: a job for attention."""
    cr.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, H, D_FF, dropout=0.0, batch_first=True, generator=0)
    model = nn.Sequential(nn.TransformerEncoder(layer, 2), nn.Linear(E, 1, generator=1))
    optimizer = cr.optim.Adam(model.parameters(), lr=1e-2)
    x = rng().standard_normal((16, 6, E)).astype(np.float32)
    target = np.broadcast_to(x[..., :1].mean(axis=1, keepdims=True), (16, 6, 1))
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(cr.tensor(x)), cr.tensor(target.copy()))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_query_with_every_key_masked_gets_zero_weights() -> None:
    """PyTorch's need_weights path gives NaN here; chainrule gives weights of 0, so the
    output is out_proj's bias and the gradients stay finite."""
    module = nn.MultiheadAttention(E, H, dtype=F64, generator=0)
    mask = np.zeros((N, S), dtype=bool)
    mask[1] = True
    x = cr.tensor(rng().standard_normal((S, N, E)), requires_grad=True)
    out, weights = module(x, x, x, key_padding_mask=mask)
    assert np.all(weights.numpy()[1] == 0)
    np.testing.assert_allclose(
        out.numpy()[:, 1], np.broadcast_to(module.out_proj.bias.numpy(), (S, E))
    )
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert np.isfinite(module.in_proj_weight.grad.numpy()).all()
