"""Training recipes that PyTorch users copy from well-known repositories and tutorials (a
DCGAN step, the VAE example, truncated BPTT, nanoGPT's block and weight tying, gradient
accumulation with param groups, fine-tuning, state-dict surgery, datasets and loaders).

Each recipe is written once as a function of the library and run on chainrule and on PyTorch
from the same initial weights and data; losses, gradients and parameters must agree step by
step (float64 tightly, float32 loosely).
"""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def Generator(device: str = "cpu") -> Any:
    """chainrule's counterpart of ``torch.Generator`` (imported here, where it is used)."""
    from chainrule.tensor import Generator

    return Generator(device)


TOLERANCES = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {"rtol": 1e-4, "atol": 1e-6}}
OURS = SimpleNamespace(
    lib=cr, nn=cr.nn, F=cr.nn.functional, optim=cr.optim, data=cr.utils.data, Generator=Generator
)
THEIRS = SimpleNamespace(
    lib=torch,
    nn=torch.nn,
    F=torch.nn.functional,
    optim=torch.optim,
    data=torch.utils.data,
    Generator=torch.Generator,
)


def as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach()
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def copy_weights(source: Any, target: Any) -> None:
    state = {k: torch.tensor(as_numpy(v).copy()) for k, v in source.state_dict().items()}
    target.load_state_dict(state)


def assert_close(ours: Any, theirs: Any, dtype: str) -> None:
    np.testing.assert_allclose(as_numpy(ours), as_numpy(theirs), **TOLERANCES[dtype])


def assert_same_model(ours: Any, theirs: Any, dtype: str) -> None:
    """Same state dict keys and values, and the same gradients (None where PyTorch's are)."""
    theirs_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(theirs_state)
    for key, value in ours.state_dict().items():
        assert_close(value, theirs_state[key], dtype)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert_close(p.grad, q.grad, dtype)


def assert_same_trace(ours: list[Any], theirs: list[Any], dtype: str) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert_close(a, b, dtype)


def snapshot(x: Any) -> np.ndarray:
    return as_numpy(x).copy()


def seeded(model: Any, seed: int = 0) -> Any:
    """``model`` with its parameters drawn again from ``seed``: the same run every time (a
    float32 Adam step can turn a difference in the last bit of a gradient near 0 into one of
    lr, so a comparison is only meaningful on weights known to keep clear of that)."""
    model.reset_parameters(generator=seed)
    rng = np.random.default_rng(seed)
    own = [p for name, p in model.named_parameters() if "." not in name]
    with cr.no_grad():
        for p in own:  # parameters of the model's own, outside any layer
            p.copy_(cr.tensor(rng.standard_normal(p.shape) * 0.5, dtype=p.dtype))
    return model


# ----------------------------------------------------------------------------- DCGAN step
def gan_models(ns: SimpleNamespace, dtype: str) -> tuple[Any, Any]:
    nn, dt = ns.nn, getattr(ns.lib, dtype)
    generator = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 3), nn.Tanh())
    discriminator = nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    return generator.to(dt), discriminator.to(dt)


def gan_recipe(ns: SimpleNamespace, source: tuple[Any, Any], dtype: str) -> tuple[Any, ...]:
    lib, nn, dt = ns.lib, ns.nn, getattr(ns.lib, dtype)
    G, D = gan_models(ns, dtype)
    copy_weights(source[0], G)
    copy_weights(source[1], D)
    opt_g = ns.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = ns.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    criterion = nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(0)
    trace: list[Any] = []
    for step in range(3):
        real = lib.tensor(rng.standard_normal((6, 3)), dtype=dt)
        z = lib.tensor(rng.standard_normal((6, 4)), dtype=dt)
        ones, zeros = lib.ones(6, 1, dtype=dt), lib.zeros((6, 1), dtype=dt)
        fake = G(z)
        opt_d.zero_grad()
        loss_d = criterion(D(real), ones) + criterion(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        if step == 0:  # detach kept G out of the D step
            assert all(p.grad is None for p in G.parameters())
        for p in D.parameters():
            p.requires_grad_(False)
        opt_g.zero_grad()
        loss_g = criterion(D(fake), lib.ones_like(ones))
        loss_g.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)
        # D's gradients are those of its own step: the frozen D received none from G's loss.
        trace += [loss_d.item(), loss_g.item(), *(snapshot(p.grad) for p in D.parameters())]
    return G, D, trace


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gan_step_with_detach_and_frozen_discriminator_matches_pytorch(dtype: str) -> None:
    source = tuple(seeded(m, k) for k, m in enumerate(gan_models(OURS, dtype)))
    g_ours, d_ours, ours = gan_recipe(OURS, source, dtype)
    g_theirs, d_theirs, theirs = gan_recipe(THEIRS, source, dtype)
    assert_same_trace(ours, theirs, dtype)
    assert_same_model(g_ours, g_theirs, dtype)
    assert_same_model(d_ours, d_theirs, dtype)


# ----------------------------------------------------------------------------------- VAE
def vae_model(ns: SimpleNamespace, dtype: str) -> Any:
    nn, F, lib = ns.nn, ns.F, ns.lib

    class VAE(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(6, 5)
            self.fc_mu = nn.Linear(5, 2)
            self.fc_logvar = nn.Linear(5, 2)
            self.fc3 = nn.Linear(2, 5)
            self.fc4 = nn.Linear(5, 6)

        def encode(self, x: Any) -> tuple[Any, Any]:
            h = F.relu(self.fc1(x))
            return self.fc_mu(h), self.fc_logvar(h)

        def decode(self, z: Any) -> Any:
            return lib.sigmoid(self.fc4(F.relu(self.fc3(z))))

        def forward(self, x: Any, eps: Any) -> tuple[Any, Any, Any]:
            mu, logvar = self.encode(x.view(-1, 6))
            z = mu + eps * lib.exp(0.5 * logvar)
            return self.decode(z), mu, logvar

    return VAE().to(getattr(lib, dtype))


def vae_recipe(ns: SimpleNamespace, source: Any, dtype: str) -> tuple[Any, list[Any]]:
    lib, F, dt = ns.lib, ns.F, getattr(ns.lib, dtype)
    model = vae_model(ns, dtype)
    copy_weights(source, model)
    optimizer = ns.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(1)
    trace: list[Any] = []
    model.train()
    for _ in range(3):
        x = lib.tensor(rng.uniform(size=(4, 2, 3)), dtype=dt)
        eps = lib.tensor(rng.standard_normal((4, 2)), dtype=dt)
        optimizer.zero_grad()
        recon, mu, logvar = model(x, eps)
        bce = F.binary_cross_entropy(recon, x.view(-1, 6), reduction="sum")
        kld = -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp())
        (bce + kld).backward()
        optimizer.step()
        trace += [bce.item(), kld.item(), snapshot(model.fc_logvar.weight.grad)]
    model.eval()
    with lib.no_grad():
        sample = model.decode(lib.tensor(rng.standard_normal((3, 2)), dtype=dt))
    assert not sample.requires_grad
    return model, [*trace, sample]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vae_with_reparameterization_and_kl_term_matches_pytorch(dtype: str) -> None:
    source = seeded(vae_model(OURS, dtype), 1)
    model_ours, ours = vae_recipe(OURS, source, dtype)
    model_theirs, theirs = vae_recipe(THEIRS, source, dtype)
    assert_same_trace(ours, theirs, dtype)
    assert_same_model(model_ours, model_theirs, dtype)


# ------------------------------------------------------- hand-unrolled RNN, truncated BPTT
def rnn_model(ns: SimpleNamespace, dtype: str) -> Any:
    nn, lib, dt = ns.nn, ns.lib, getattr(ns.lib, dtype)

    class TinyRNN(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.W = nn.Parameter(lib.randn(3, 4, dtype=dt) * 0.5)
            self.W_h = nn.Parameter(lib.randn(4, 4, dtype=dt) * 0.5)
            self.b = nn.Parameter(lib.zeros(4, dtype=dt))
            self.out = nn.Linear(4, 2, dtype=dt)

        def forward(self, xs: Any, h: Any) -> tuple[Any, Any]:
            outputs = []
            for t in range(xs.shape[1]):
                h = lib.tanh(xs[:, t] @ self.W + h @ self.W_h + self.b)
                outputs.append(self.out(h))
            return lib.stack(outputs, dim=1), h

    return TinyRNN()


def rnn_recipe(ns: SimpleNamespace, source: Any, dtype: str) -> tuple[Any, list[Any]]:
    lib, dt = ns.lib, getattr(ns.lib, dtype)
    model = rnn_model(ns, dtype)
    copy_weights(source, model)
    optimizer = ns.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    rng = np.random.default_rng(2)
    X = lib.tensor(rng.standard_normal((2, 12, 3)), dtype=dt)
    Y = lib.tensor(rng.standard_normal((2, 12, 2)), dtype=dt)
    h = lib.zeros(2, 4, dtype=dt)
    trace: list[Any] = []
    for chunk in range(3):
        h = h.detach()
        window = slice(4 * chunk, 4 * chunk + 4)
        optimizer.zero_grad()
        prediction, h = model(X[:, window], h)
        loss = ns.F.mse_loss(prediction, Y[:, window])
        loss.backward()
        norm = ns.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.1)
        trace += [loss.item(), norm, snapshot(model.W_h.grad)]
        optimizer.step()
    assert h.requires_grad
    return model, [*trace, h]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rnn_with_truncated_bptt_and_norm_clipping_matches_pytorch(dtype: str) -> None:
    source = seeded(rnn_model(OURS, dtype), 2)
    model_ours, ours = rnn_recipe(OURS, source, dtype)
    model_theirs, theirs = rnn_recipe(THEIRS, source, dtype)
    assert_same_trace(ours, theirs, dtype)
    assert_same_model(model_ours, model_theirs, dtype)


# ---------------------------------------------- nanoGPT: attention by hand, weight tying
def gpt_model(ns: SimpleNamespace, dtype: str) -> Any:
    nn, F, lib = ns.nn, ns.F, ns.lib

    class Block(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self, d: int, heads: int) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d, bias=False)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
            self.heads = heads

        def forward(self, x: Any) -> Any:
            B, T, C = x.size()
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            mask = lib.triu(lib.ones(T, T, dtype=lib.bool), diagonal=1)
            att = F.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            x = x + self.proj(y)
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self, vocab: int = 11, d: int = 8, block_size: int = 5) -> None:
            super().__init__()
            self.wte = nn.Embedding(vocab, d)
            self.wpe = nn.Embedding(block_size, d)
            self.blocks = nn.ModuleList([Block(d, 2) for _ in range(2)])
            self.ln_f = nn.LayerNorm(d)
            self.lm_head = nn.Linear(d, vocab, bias=False)
            self.wte.weight = self.lm_head.weight
            self.apply(self._init_weights)

        def _init_weights(self, module: Any) -> None:
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx: Any, targets: Any) -> tuple[Any, Any]:
            _, t = idx.size()
            x = self.wte(idx) + self.wpe(lib.arange(0, t, dtype=lib.long))
            for block in self.blocks:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            loss = F.cross_entropy(
                logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1
            )
            return logits, loss

    return GPT().to(getattr(lib, dtype))


def gpt_recipe(ns: SimpleNamespace, source: Any, dtype: str) -> tuple[Any, list[Any]]:
    lib = ns.lib
    model = gpt_model(ns, dtype)
    copy_weights(source, model)
    assert model.wte.weight is model.lm_head.weight
    named = dict(model.named_parameters())
    assert "lm_head.weight" not in named  # the tied weight is listed once, under its first name
    decay = [p for p in named.values() if p.dim() >= 2]
    no_decay = [p for p in named.values() if p.dim() < 2]
    optimizer = ns.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-2,
        betas=(0.9, 0.95),
    )
    rng = np.random.default_rng(3)
    trace: list[Any] = [sum(p.numel() for p in model.parameters())]
    for _ in range(3):
        idx = lib.tensor(rng.integers(0, 11, (2, 5)))
        targets = lib.tensor(rng.integers(0, 11, (2, 5)))
        targets[0, 0] = -1
        logits, loss = model(idx, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ns.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        trace += [loss.item(), logits, snapshot(model.lm_head.weight.grad)]
    return model, trace


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tiny_gpt_with_causal_attention_and_tied_weights_matches_pytorch(dtype: str) -> None:
    source = seeded(gpt_model(OURS, dtype), 3)
    model_ours, ours = gpt_recipe(OURS, source, dtype)
    model_theirs, theirs = gpt_recipe(THEIRS, source, dtype)
    assert_same_trace(ours, theirs, dtype)
    assert_same_model(model_ours, model_theirs, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mask", ["causal", "bool", "float", None])
def test_scaled_dot_product_attention_matches_pytorch(mask: str | None, dtype: str) -> None:
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2))]
    allowed = rng.random((4, 6)) > 0.3
    allowed[:, 0] = True
    bias = rng.standard_normal((1, 4, 6))
    results = []
    for ns in (OURS, THEIRS):
        lib, dt = ns.lib, getattr(ns.lib, dtype)
        q, k, v = (lib.tensor(a, dtype=dt, requires_grad=True) for a in arrays)
        options: dict[str, Any] = {
            "causal": {"is_causal": True},
            "bool": {"attn_mask": lib.tensor(allowed)},
            "float": {"attn_mask": lib.tensor(bias, dtype=dt), "scale": 0.3},
            None: {},
        }[mask]
        out = ns.F.scaled_dot_product_attention(q, k, v, **options)
        weights = lib.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape), dtype=dt)
        (out * weights).sum().backward()
        assert str(out.dtype).endswith(dtype)
        results.append([out, q.grad, k.grad, v.grad])
    assert_same_trace(results[0], results[1], dtype)


def test_scaled_dot_product_attention_refuses_a_mask_and_is_causal_together() -> None:
    q = cr.ones(1, 3, 2)
    with pytest.raises(ValueError, match="expected attn_mask or is_causal, got both"):
        cr.nn.functional.scaled_dot_product_attention(
            q, q, q, attn_mask=cr.ones(3, 3, dtype=cr.bool), is_causal=True
        )


def test_scaled_dot_product_attention_dropout_follows_its_generator() -> None:
    q = cr.randn(2, 4, 3, generator=0)
    F = cr.nn.functional
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, generator=1)
    b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, generator=1)
    plain = F.scaled_dot_product_attention(q, q, q)
    assert cr.equal(a, b)
    assert not cr.allclose(a, plain)


# ------------- gradient accumulation, param groups, init, fine-tuning, eval, state dicts
def trunk_model(ns: SimpleNamespace, dtype: str) -> Any:
    nn = ns.nn

    class Net(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.trunk = nn.Sequential(
                nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 8), nn.LayerNorm(8)
            )
            self.head = nn.Linear(8, 3)

        def forward(self, x: Any) -> Any:
            return self.head(ns.F.relu(self.trunk(x)))

    return Net().to(getattr(ns.lib, dtype))


def init_weights(ns: SimpleNamespace) -> Any:
    nn = ns.nn

    def init(module: Any) -> None:
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.constant_(module.bias, 0.01)
        elif isinstance(module, nn.BatchNorm1d | nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    return init


def fine_tuning_recipe(ns: SimpleNamespace, source: Any, dtype: str) -> tuple[Any, list[Any]]:
    lib, nn, F, dt = ns.lib, ns.nn, ns.F, getattr(ns.lib, dtype)
    model = trunk_model(ns, dtype)
    assert model.apply(init_weights(ns)) is model
    assert_close(model.head.bias, np.full(3, 0.01), "float32")
    assert_close(model.trunk[1].weight, np.ones(8), "float32")
    copy_weights(source, model)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.ndim == 1 or name.endswith(".bias"):
            no_decay.append(p)
        else:
            decay.append(p)
    optimizer = ns.optim.SGD(
        [
            {"params": decay, "weight_decay": 1e-2},
            {"params": no_decay, "weight_decay": 0.0, "lr": 0.05},
        ],
        lr=0.1,
        momentum=0.9,
        nesterov=True,
    )
    rng = np.random.default_rng(5)
    X = lib.tensor(rng.standard_normal((24, 5)), dtype=dt)
    Y = lib.tensor(rng.integers(0, 3, 24))
    trace: list[Any] = []
    accumulation = 3
    model.train()
    optimizer.zero_grad(set_to_none=True)
    for i in range(6):
        batch = slice(4 * i, 4 * i + 4)
        loss = F.cross_entropy(model(X[batch]), Y[batch]) / accumulation
        loss.backward()
        trace.append(loss.item())
        if (i + 1) % accumulation == 0:
            trace.append(snapshot(model.trunk[0].weight.grad))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            assert model.head.weight.grad is None

    # Freeze the trunk, replace the head, fine-tune it alone.
    for p in model.trunk.parameters():
        p.requires_grad = False
    model.head = nn.Linear(8, 2).to(dt)
    with lib.no_grad():
        model.head.weight.copy_(lib.tensor(np.linspace(-1, 1, 16).reshape(2, 8), dtype=dt))
        model.head.bias.fill_(0.1)
    head_optimizer = ns.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=0.01)
    Y2 = lib.tensor(rng.integers(0, 2, 24))
    for _ in range(3):
        head_optimizer.zero_grad()
        loss = F.cross_entropy(model(X), Y2)
        loss.backward()
        head_optimizer.step()
        trace.append(loss.item())
        assert model.trunk[0].weight.grad is None

    model.eval()
    with lib.no_grad():
        logits = model(X)
        accuracy = (logits.argmax(dim=1) == Y2).float().mean().item()
    assert not logits.requires_grad
    batch_norm = model.trunk[1]
    trace += [logits, accuracy, batch_norm.running_mean, batch_norm.running_var]
    trace.append(int(batch_norm.num_batches_tracked))
    return model, trace


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_accumulation_param_groups_fine_tuning_and_eval_match_pytorch(dtype: str) -> None:
    source = seeded(trunk_model(OURS, dtype), 4)
    model_ours, ours = fine_tuning_recipe(OURS, source, dtype)
    model_theirs, theirs = fine_tuning_recipe(THEIRS, source, dtype)
    assert_same_trace(ours, theirs, dtype)
    assert_same_model(model_ours, model_theirs, dtype)


def state_dict_surgery(ns: SimpleNamespace, source: Any) -> tuple[Any, ...]:
    nn, lib = ns.nn, ns.lib

    class Backboned(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.backbone = trunk_model(ns, "float32").trunk
            self.fc = nn.Linear(8, 4)

    model = trunk_model(ns, "float32")
    copy_weights(source, model)
    state = {
        "module." + k.replace("trunk.", "backbone."): v
        for k, v in model.state_dict().items()
        if not k.startswith("head.")
    }
    state = {k.removeprefix("module."): v for k, v in state.items()}
    state["extra.weight"] = lib.zeros(3)
    target = Backboned()
    result = target.load_state_dict(state, strict=False)
    missing, unexpected = result
    assert (missing, unexpected) == (result.missing_keys, result.unexpected_keys)
    with pytest.raises(RuntimeError, match=r"fc\.weight"):
        Backboned().load_state_dict(state)
    target.eval()
    with lib.no_grad():
        features = target.backbone(
            lib.tensor(np.linspace(-2, 2, 15).reshape(3, 5), dtype=lib.float32)
        )
    return sorted(missing), sorted(unexpected), features


def test_state_dict_surgery_with_renamed_keys_and_strict_false_matches_pytorch() -> None:
    source = seeded(trunk_model(OURS, "float32"), 5)
    *keys_ours, features_ours = state_dict_surgery(OURS, source)
    *keys_theirs, features_theirs = state_dict_surgery(THEIRS, source)
    assert keys_ours == keys_theirs == [["fc.bias", "fc.weight"], ["extra.weight"]]
    assert_close(features_ours, features_theirs, "float32")


def test_lerp_moving_average_of_weights_matches_pytorch() -> None:
    results = []
    for ns in (OURS, THEIRS):
        lib, nn = ns.lib, ns.nn
        model = nn.Linear(3, 2)
        with lib.no_grad():
            model.weight.copy_(lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=lib.float32))
            model.bias.fill_(0.5)
        ema = copy.deepcopy(model).requires_grad_(False)
        with lib.no_grad():
            for p in model.parameters():
                p.mul_(3.0)
            for e, p in zip(ema.parameters(), model.parameters(), strict=True):
                e.lerp_(p, 0.1)  # timm's ModelEmaV3 update
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        w = lib.tensor([0.25, 0.75], requires_grad=True)
        y = x.lerp(lib.tensor([[0.0, 1.0], [1.0, 0.0]]), w)
        (y * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
        assert str(ema.weight.dtype).endswith("float32")
        results.append([ema.weight, ema.bias, y, x.grad, w.grad])
    assert_same_trace(results[0], results[1], "float32")


def test_lerp_in_place_is_recorded_on_a_tensor_in_the_graph() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    acc = w * 1.0
    acc.lerp_(cr.tensor([3.0, 3.0]), 0.25)
    acc.sum().backward()
    assert acc.tolist() == [1.5, 2.25]
    assert w.grad.tolist() == [0.75, 0.75]


# ---------------------------------------------------------------------- datasets, loaders
def dataset_recipe(ns: SimpleNamespace) -> list[Any]:
    lib, D = ns.lib, ns.data

    class Records(D.Dataset):  # type: ignore[name-defined,misc]
        def __init__(self, n: int) -> None:
            self.x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
            self.y = np.arange(n) % 2

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"x": lib.tensor(self.x[i]), "y": int(self.y[i]), "name": f"r{i}"}

    class Pairs(D.Dataset[tuple[Any, Any]]):  # type: ignore[name-defined,misc]
        def __len__(self) -> int:
            return 7

        def __getitem__(self, i: int) -> tuple[Any, Any]:
            return lib.tensor([float(i), 2.0 * i]), lib.tensor(i % 3)

    trace: list[Any] = []
    loader = D.DataLoader(Records(10), batch_size=4, shuffle=False, drop_last=True, num_workers=0)
    trace.append(len(loader))
    for batch in loader:
        trace += [sorted(batch), batch["x"], batch["y"], batch["name"]]
    for x, y in D.DataLoader(Pairs(), batch_size=3):
        trace += [x, y, str(y.dtype)[-5:]]
    tensors = D.TensorDataset(lib.arange(10.0).view(5, 2), lib.arange(5))
    both = D.ConcatDataset([tensors, Pairs()])
    trace += [len(both), both[4], both[5], both[-1], both.cumulative_sizes]
    train, valid = D.random_split(tensors, [3, 2], generator=ns.Generator().manual_seed(42))
    trace += [len(train), len(valid), sorted([*train.indices, *valid.indices])]
    shuffled = D.DataLoader(
        train, batch_size=2, shuffle=True, drop_last=False, generator=ns.Generator().manual_seed(0)
    )
    for _ in range(2):
        seen = []
        for x, y in shuffled:
            seen += y.tolist()
            trace.append(tuple(x.shape))
        trace.append(sorted(seen) == sorted(int(i) for i in train.indices))
    return trace


def test_datasets_loaders_and_splits_of_pytorch_tutorials_match_pytorch() -> None:
    ours, theirs = dataset_recipe(OURS), dataset_recipe(THEIRS)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        if isinstance(a, tuple) and a and hasattr(a[0], "shape"):
            assert_same_trace(list(a), list(b), "float32")
        elif hasattr(a, "shape"):
            assert_close(a, b, "float32")
        else:
            assert a == b


def test_generator_manual_seed_repeats_splits_and_shuffles() -> None:
    data = cr.utils.data.TensorDataset(np.arange(10.0))
    first, _ = cr.utils.data.random_split(data, [0.8, 0.2], generator=Generator().manual_seed(7))
    again, _ = cr.utils.data.random_split(data, [0.8, 0.2], generator=Generator().manual_seed(7))
    assert list(first.indices) == list(again.indices)
    generator = Generator()
    assert generator.manual_seed(3) is generator and generator.initial_seed() == 3
    assert isinstance(generator, np.random.Generator)
    assert isinstance(generator, type(Generator()))
    with pytest.raises(TypeError, match=r"Generator.manual_seed: expected an int seed, got 1.5"):
        generator.manual_seed(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Generator: chainrule runs on the CPU only, got device"):
        Generator(device="cuda")


def test_concat_dataset_refuses_an_index_out_of_range() -> None:
    both = cr.utils.data.ConcatDataset([np.arange(3), np.arange(2)])
    assert [int(both[i]) for i in range(len(both))] == [0, 1, 2, 0, 1]
    with pytest.raises(IndexError, match=r"ConcatDataset: expected an index in \[-5, 5\), got 5"):
        both[5]
    with pytest.raises(ValueError, match="ConcatDataset: expected at least one dataset, got none"):
        cr.utils.data.ConcatDataset([])


def test_dataset_takes_its_sample_type_as_typed_pytorch_code_writes_it() -> None:
    class Squares(cr.utils.data.Dataset[tuple[int, int]]):
        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int) -> tuple[int, int]:
            return i, i * i

    x, y = next(iter(cr.utils.data.DataLoader(Squares(), batch_size=3)))
    assert (x.tolist(), y.tolist()) == ([0, 1, 2], [0, 1, 4])
    assert isinstance(Squares(), cr.utils.data.Dataset)


# ------------------------------------------------- PyTorch's DCGAN tutorial, literally
def dcgan_weights_init(ns: SimpleNamespace) -> Any:
    nn = ns.nn

    def weights_init(m: Any) -> None:
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    return weights_init


def dcgan_discriminator(ns: SimpleNamespace) -> Any:
    nn = ns.nn
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, bias=False),
        nn.BatchNorm2d(2),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(8, 1),
        nn.Sigmoid(),
    )


def test_dcgan_weights_init_fills_the_data_arrays_in_place() -> None:
    netD = dcgan_discriminator(OURS)
    before = netD[4].weight.numpy().copy()
    netD.apply(dcgan_weights_init(OURS))
    conv, norm = netD[0].weight.numpy(), netD[1].weight.numpy()
    assert 0 < conv.std() < 0.05 and np.all(np.abs(norm - 1) < 0.2) and norm.std() > 0
    assert netD[1].bias.tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(netD[4].weight.numpy(), before)  # Linear: not matched


def dcgan_step(ns: SimpleNamespace, source: Any) -> list[Any]:
    lib, nn = ns.lib, ns.nn
    netD = dcgan_discriminator(ns)
    copy_weights(source, netD)
    optimizerD = ns.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    criterion = nn.BCELoss()
    rng = np.random.default_rng(6)
    trace: list[Any] = []
    for _ in range(2):
        real = lib.tensor(rng.standard_normal((4, 1, 4, 4)), dtype=lib.float32)
        fake = lib.tensor(rng.standard_normal((4, 1, 4, 4)), dtype=lib.float32)
        netD.zero_grad()
        label = lib.full((4,), 1.0, dtype=lib.float)
        output = netD(real).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        label.fill_(0.0)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        optimizerD.step()
        trace += [D_x, errD.item(), snapshot(netD[0].weight.grad), netD[1].running_var]
    return trace


def test_dcgan_discriminator_step_matches_pytorch() -> None:
    source = seeded(dcgan_discriminator(OURS), 6)
    assert_same_trace(dcgan_step(OURS, source), dcgan_step(THEIRS, source), "float32")


# ----------------------------------------------------------- nanoGPT's generate loop
def generate(ns: SimpleNamespace, logits_of: Any, idx: Any, top_k: int) -> Any:
    lib, F = ns.lib, ns.F
    for _ in range(3):
        logits = logits_of(idx)[:, -1, :] / 0.8
        v, _ = lib.topk(logits, min(top_k, logits.size(-1)))
        logits[logits < v[:, [-1]]] = -float("Inf")
        probs = F.softmax(logits, dim=-1)
        idx_next = lib.multinomial(probs, num_samples=1)
        idx = lib.cat((idx, idx_next), dim=1)
    return idx


def test_generate_loop_samples_with_multinomial_like_pytorch() -> None:
    scores = np.random.default_rng(7).standard_normal((2, 1, 6))
    ours_lib = SimpleNamespace(lib=cr, F=OURS.F)
    results = []
    for ns, top_k in ((ours_lib, 1), (THEIRS, 1), (ours_lib, 3)):
        lib = ns.lib

        def logits_of(idx: Any, lib: Any = lib) -> Any:
            return lib.tensor(scores).repeat(1, idx.shape[1], 1)

        results.append(generate(ns, logits_of, lib.zeros(2, 1, dtype=lib.long), top_k))
    greedy_ours, greedy_theirs, sampled = results
    assert greedy_ours.dtype == cr.int64 and greedy_ours.shape == (2, 4)
    assert greedy_ours.tolist() == greedy_theirs.tolist()  # top-1 leaves one choice
    top3 = np.argsort(-scores[:, 0], axis=1)[:, :3]
    assert all(set(row[1:]) <= set(top) for row, top in zip(sampled.tolist(), top3, strict=True))


def test_multinomial_draws_in_proportion_and_refuses_bad_weights() -> None:
    from chainrule.tensor import multinomial

    weights = cr.tensor([[1.0, 3.0, 0.0], [0.0, 0.0, 2.0]])
    counts = [np.bincount(r, minlength=3) for r in multinomial(weights, 4000, True, generator=1)]
    np.testing.assert_allclose(counts[0] / 4000, [0.25, 0.75, 0.0], atol=0.03)
    assert counts[1].tolist() == [0, 0, 4000]
    no_repeats = weights[0].multinomial(2, generator=2).tolist()
    assert sorted(no_repeats) == [0, 1]
    with pytest.raises(ValueError, match="multinomial: expected num_samples <= the number of"):
        multinomial(weights, 2)
    with pytest.raises(ValueError, match="multinomial: expected finite weights >= 0"):
        multinomial(cr.tensor([1.0, -1.0]), 1)
    with pytest.raises(ValueError, match="multinomial: expected each row to have a weight"):
        multinomial(cr.zeros(2), 1)
    with pytest.raises(ValueError, match=r"multinomial: expected weights of shape \(n,\)"):
        multinomial(cr.ones(2, 2, 2), 1)
    with pytest.raises(ValueError, match="multinomial: expected num_samples >= 1, got 0"):
        multinomial(cr.ones(2), 0)
    with pytest.raises(TypeError, match=r"multinomial: expected an int num_samples, got 1\.0"):
        multinomial(cr.ones(2), 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("other", [None, "causal"])
def test_comparing_a_tensor_with_none_or_a_string_is_false_as_in_pytorch(other: Any) -> None:
    for lib in (cr, torch):
        mask = lib.tensor([True, False])
        assert (mask == other) is False and (mask != other) is True
        assert (other == mask) is False


# ------------------------------------- variable-length sequences padded in a collate_fn
def padded_batches(ns: SimpleNamespace) -> list[Any]:
    lib, F, D = ns.lib, ns.F, ns.data

    class Sentences(D.Dataset):  # type: ignore[name-defined,misc]
        lengths = (3, 1, 4, 2, 2)

        def __len__(self) -> int:
            return len(self.lengths)

        def __getitem__(self, i: int) -> tuple[Any, int]:
            return lib.arange(1, self.lengths[i] + 1), i % 2

    def collate(batch: list[tuple[Any, int]]) -> tuple[Any, Any, Any]:
        longest = max(len(tokens) for tokens, _ in batch)
        tokens = lib.stack([F.pad(t, (0, longest - len(t)), value=0) for t, _ in batch])
        lengths = lib.tensor([len(t) for t, _ in batch])
        return tokens, lengths, lib.tensor([label for _, label in batch])

    loader = D.DataLoader(Sentences(), batch_size=2, collate_fn=collate)
    embedding = ns.nn.Embedding(5, 2, padding_idx=0)
    with lib.no_grad():
        embedding.weight.copy_(lib.tensor(np.linspace(-1, 1, 10).reshape(5, 2), dtype=lib.float32))
    trace: list[Any] = []
    for tokens, lengths, labels in loader:
        mask = (tokens != 0).unsqueeze(-1).float()
        mean = (embedding(tokens) * mask).sum(1) / lengths.unsqueeze(-1)
        mean.sum().backward()
        trace += [tokens, lengths, labels, mean]
    return [*trace, embedding.weight.grad]


def test_padding_collate_fn_for_variable_length_sequences_matches_pytorch() -> None:
    assert_same_trace(padded_batches(OURS), padded_batches(THEIRS), "float32")


def test_pad_matches_pytorch_and_refuses_what_it_does_not_support() -> None:
    results = []
    for lib in (cr, torch):
        x = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        y = lib.nn.functional.pad(x, (1, 2, 0, 1), value=-1.0)
        (y * lib.tensor(np.arange(18.0).reshape(3, 6))).sum().backward()
        results.append([y, x.grad, lib.nn.functional.pad(lib.ones(2, 2, 2), (1, 1))])
    assert_same_trace(results[0], results[1], "float64")
    F = cr.nn.functional
    with pytest.raises(ValueError, match="pad: expected mode 'constant', 'reflect', 'replic"):
        F.pad(cr.ones(2, 2), (1, 1), mode="symmetric")
    with pytest.raises(ValueError, match=r"pad: expected an even number of widths.*got \(1,\)"):
        F.pad(cr.ones(2, 2), (1,))
    with pytest.raises(ValueError, match=r"pad: the widths \(-1, -1\) leave axis 1 \(size 2\)"):
        F.pad(cr.ones(2, 2), (-1, -1), mode="reflect")


def test_generator_and_multinomial_are_reached_from_the_package_as_from_torch() -> None:
    from chainrule.utils.data import TensorDataset, random_split

    data = TensorDataset(cr.arange(10))
    first = [
        list(s.indices) for s in random_split(data, [6, 4], generator=cr.Generator().manual_seed(7))
    ]
    again = [
        list(s.indices) for s in random_split(data, [6, 4], generator=cr.Generator().manual_seed(7))
    ]
    assert first == again and sorted(first[0] + first[1]) == list(range(10))
    cr.manual_seed(0)
    draws = cr.multinomial(cr.tensor([0.0, 1.0, 0.0]), 4, replacement=True)
    assert draws.dtype == np.int64 and draws.tolist() == [1, 1, 1, 1]
