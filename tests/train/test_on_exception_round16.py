"""Round 16: when ``fit`` stops on an exception, every callback's ``on_exception(state,
error)`` runs (PyTorch Lightning's hook) and ``on_train_end`` does not (as in Keras); the
exception reaches the caller unchanged. The estimators' ``fit`` does the same."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.train import fit
from chainrule.train.callbacks import Callback

X = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
Y = X.sum(axis=1, keepdims=True)


class Recorder(Callback):
    def __init__(self, fail_in: str | None = None) -> None:
        self.calls: list[str] = []
        self.errors: list[BaseException] = []
        self.fail_in = fail_in

    def _hook(self, name: str) -> None:
        self.calls.append(name)
        if name == self.fail_in:
            raise RuntimeError(f"failed in {name}")

    def on_train_begin(self, state):
        self._hook("on_train_begin")

    def on_batch_end(self, state, logs):
        self._hook("on_batch_end")

    def on_epoch_end(self, state, logs):
        self._hook("on_epoch_end")

    def on_train_end(self, state):
        self._hook("on_train_end")

    def on_exception(self, state, error):
        self.calls.append("on_exception")
        self.errors.append(error)


def run(callbacks, loss=None):
    model = nn.Sequential(nn.Linear(3, 1))
    opt = optim.SGD(model.parameters(), 0.01)
    return fit(model, loss or nn.MSELoss(), opt, (X, Y), epochs=2, verbose=0, callbacks=callbacks)


@pytest.mark.parametrize("hook", ["on_train_begin", "on_batch_end", "on_epoch_end", "on_train_end"])
def test_every_callback_hears_of_an_exception_raised_in_a_hook(hook):
    failing, other = Recorder(fail_in=hook), Recorder()
    with pytest.raises(RuntimeError, match=f"failed in {hook}"):
        run([other, failing])
    for recorder in (failing, other):
        assert recorder.calls[-1] == "on_exception"
        assert recorder.calls.count("on_exception") == 1
        assert str(recorder.errors[0]) == f"failed in {hook}"
    if hook != "on_train_end":
        assert "on_train_end" not in other.calls


def test_an_exception_from_the_loss_reaches_on_exception_and_the_caller():
    def broken_loss(output, target):
        raise ValueError("loss: bad target")

    recorder = Recorder()
    with pytest.raises(ValueError, match="loss: bad target") as raised:
        run([recorder], loss=broken_loss)
    assert recorder.calls == ["on_train_begin", "on_exception"]
    assert recorder.errors == [raised.value]


def test_a_keras_style_callback_with_on_exception_is_called_too():
    class KerasStyle:
        def __init__(self) -> None:
            self.seen: list[object] = []

        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("keras callback failed")

        def on_exception(self, state, error):
            self.seen.append(error)

    callback = KerasStyle()
    with pytest.raises(RuntimeError, match="keras callback failed"):
        run([callback])
    assert [str(e) for e in callback.seen] == ["keras callback failed"]


def test_a_successful_fit_calls_on_train_end_and_not_on_exception():
    recorder = Recorder()
    run([recorder])
    assert recorder.calls[-1] == "on_train_end" and "on_exception" not in recorder.calls


def test_an_estimator_fit_calls_on_exception_too():
    from chainrule.sklearn import MLPRegressor

    recorder = Recorder(fail_in="on_epoch_end")
    estimator = MLPRegressor(
        hidden_layer_sizes=(3,), max_iter=3, random_state=0, callbacks=[recorder]
    )
    with pytest.raises(RuntimeError, match="failed in on_epoch_end"):
        estimator.fit(X, Y.ravel())
    assert recorder.calls[-1] == "on_exception" and "on_train_end" not in recorder.calls
