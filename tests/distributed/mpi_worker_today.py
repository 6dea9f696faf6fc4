"""What each rank runs in ``test_acceptance_round3_today.py``: ``python mpi_worker_today.py
TASK OUT``, alone or under ``mpiexec -n 2``.

Today's additions used as a user would, in one training script: ``chainrule.manual_seed``,
a custom autograd ``Function`` and new tensor functions in ``forward``, ``ParameterList``,
``register_full_backward_hook``, Keras-style callbacks, ``ModelCheckpoint(filepath=,
save_best_only=, save_weights_only=)``, ``EarlyStopping(restore_best_weights=)``,
``ChainedScheduler`` of ``PolynomialLR`` and ``ExponentialLR``, and ``chainrule.save`` of a
general checkpoint. Every rank writes what it ended with under OUT, named by its rank.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.autograd import Function
from chainrule.data import DataLoader, TensorDataset
from chainrule.distributed import from_environment, is_root, launch_rank
from chainrule.optim import Adam
from chainrule.optim.lr_scheduler import ChainedScheduler, ExponentialLR, PolynomialLR
from chainrule.train import EarlyStopping, ModelCheckpoint, fit


class MyReLU(Function):
    """PyTorch's tutorial ReLU; raises in backward on rank 1 when told to."""

    fail_on_rank = -1

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        if launch_rank() == MyReLU.fail_on_rank:
            raise ValueError("MyReLU.backward: simulated failure")
        (x,) = ctx.saved_tensors
        return grad * (x > 0).type_as(grad)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weights = nn.ParameterList(
            [nn.Parameter(cr.randn(7, 16) * 0.3), nn.Parameter(cr.randn(16, 3) * 0.3)]
        )
        self.hidden = nn.Linear(16, 16)

    def forward(self, x: Any) -> Any:
        h = MyReLU.apply(cr.mm(x, self.weights[0]))
        h = cr.erf(self.hidden(h)) + h.cumsum(1) * 0.01
        return cr.mm(h, self.weights[1])


class KerasLogger:
    """A callback written for Keras: ``on_epoch_end(self, epoch, logs)``."""

    def __init__(self, fail: bool = False) -> None:
        self.seen: list[list[float]] = []
        self.fail = fail

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        assert logs is not None
        if self.fail and launch_rank() == 1 and epoch == 1:
            raise KeyError("KerasLogger: simulated failure")
        self.seen.append([epoch, logs["loss"], logs["val_loss"]])


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 7)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.8)
    return x, y


def today(task: str, out: Path) -> None:
    rank = launch_rank()
    cr.manual_seed(0)  # every rank builds the same model, and fit draws the same seed
    model = Net()
    hooked: list[float] = []
    model.register_full_backward_hook(lambda m, gi, go: hooked.append(float(go[0].sum())))
    x, y = data()
    optimizer = Adam(model.parameters(), lr=0.02)
    scheduler = ChainedScheduler(
        [PolynomialLR(optimizer, total_iters=4, power=2.0), ExponentialLR(optimizer, gamma=0.9)]
    )
    MyReLU.fail_on_rank = 1 if task == "fail-in-function" else -1
    keras = KerasLogger(fail=task == "fail-in-keras-callback")
    history = fit(
        model,
        "cross_entropy",
        optimizer,
        DataLoader(TensorDataset(x[40:], y[40:]), batch_size=24),
        epochs=5,
        validation_data=(x[:40], y[:40]),
        scheduler=scheduler,
        metrics=["accuracy"],
        verbose=2,
        callbacks=[
            keras,  # type: ignore[list-item]
            EarlyStopping(patience=1, restore_best_weights=True),
            ModelCheckpoint(
                filepath=str(out / f"best-rank{rank}-{{epoch}}.safetensors"),
                save_best_only=True,
                save_weights_only=True,
            ),
        ],
    )
    if is_root():  # as docs/distributed.md says: write once
        cr.save(
            {"epoch": len(history.epoch), "model_state_dict": model.state_dict()},
            out / "general.pt",
        )
    (out / f"today-rank{rank}.json").write_text(
        json.dumps(
            {
                "weights": {k: v.data.tolist() for k, v in model.state_dict().items()},
                "logs": {k: v for k, v in history.history.items() if k != "time"},
                "keras": keras.seen,
                "hooked": len(hooked),
                "stop_reason": history.stop_reason,
            }
        )
    )


def shard_with_collate(out: Path) -> None:
    """The rows each rank trains on, from a DataLoader with a collate_fn of its own."""
    context = from_environment()
    assert context is not None
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)

    def collate(samples: list[Any]) -> tuple[Any, Any]:
        xs = np.stack([s[0].numpy() for s in samples])
        ys = np.stack([s[1].numpy() for s in samples])
        return cr.tensor(-xs), cr.tensor(ys)  # marked: negated inputs

    loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=False, collate_fn=collate)
    batches = [[b[0].numpy().tolist(), b[1].numpy().tolist()] for b in context.shard(loader)]
    (out / f"shard-rank{context.rank}.json").write_text(json.dumps(batches))


if __name__ == "__main__":
    task, out = sys.argv[1], Path(sys.argv[2])
    if task == "shard-collate":
        shard_with_collate(out)
    else:
        today(task, out)
