"""PyTorch's tutorials on modules, training and saving, ported with ``import chainrule as torch``.

Each tutorial's code is written once, as a function of the library (``lib``, ``nn``, ``F``,
``optim``), and run on chainrule and on PyTorch from the same initial weights (copied through
NumPy); the numbers must agree at float32 tolerances. Digits stands in for MNIST and
FashionMNIST, random 3x32x32 images for CIFAR-10.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader, Dataset, TensorDataset

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5


def libraries() -> tuple[SimpleNamespace, SimpleNamespace]:
    """The two libraries under the names the tutorials use."""
    ours = SimpleNamespace(lib=cr, nn=cr.nn, F=cr.nn.functional, optim=cr.optim)
    theirs = SimpleNamespace(lib=torch, nn=torch.nn, F=torch.nn.functional, optim=torch.optim)
    return ours, theirs


def copy_weights(ours: Any, theirs: Any) -> None:
    """Give the PyTorch twin chainrule's initial weights (same names, same layouts)."""
    state = {k: torch.tensor(v.numpy().copy()) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)


def assert_close(ours: Any, theirs: Any) -> None:
    np.testing.assert_allclose(
        np.asarray(ours.numpy() if hasattr(ours, "numpy") else ours),
        theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs),
        rtol=RTOL,
        atol=ATOL,
    )


def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    return (data.images / 16).astype(np.float32), data.target.astype(np.int64)


# ------------------------------------------------------- Build the Neural Network / Optimization
def neural_network(ns: SimpleNamespace) -> Any:
    nn_ = ns.nn

    class NeuralNetwork(nn_.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.flatten = nn_.Flatten()
            self.linear_relu_stack = nn_.Sequential(
                nn_.Linear(8 * 8, 512),
                nn_.ReLU(),
                nn_.Linear(512, 512),
                nn_.ReLU(),
                nn_.Linear(512, 10),
            )

        def forward(self, x: Any) -> Any:
            x = self.flatten(x)
            return self.linear_relu_stack(x)

    return NeuralNetwork()


def optimization_tutorial(ns: SimpleNamespace, model: Any, loader: Any, test: Any) -> list[float]:
    """The tutorial's train_loop and test_loop, one epoch; returns what they print."""
    lib = ns.lib
    loss_fn = ns.nn.CrossEntropyLoss()
    optimizer = ns.optim.SGD(model.parameters(), lr=1e-1)
    printed = []
    model.train()
    for X, y in loader:
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        printed.append(loss.item())
    model.eval()
    test_loss, correct = 0.0, 0.0
    with lib.no_grad():
        for X, y in test:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(lib.float).sum().item()
    printed += [test_loss / len(test), correct / len(test.dataset)]
    return printed


def test_build_and_optimization_tutorials_match_pytorch() -> None:
    ours_ns, theirs_ns = libraries()
    ours, theirs = neural_network(ours_ns), neural_network(theirs_ns)
    copy_weights(ours, theirs)
    # print(model) and named_parameters read as in PyTorch
    assert repr(ours).replace("cr.", "") == repr(theirs)
    names = [(n, tuple(p.size())) for n, p in ours.named_parameters()]
    assert names == [(n, tuple(p.size())) for n, p in theirs.named_parameters()]
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert_close(p[:2], q[:2])
    X = np.random.default_rng(0).random((1, 8, 8), dtype=np.float32)
    ours_pred = nn.Softmax(dim=1)(ours(cr.tensor(X))).argmax(1)
    theirs_pred = torch.nn.Softmax(dim=1)(theirs(torch.tensor(X))).argmax(1)
    assert ours_pred.tolist() == theirs_pred.tolist()

    images, labels = digits()
    ours_loader = DataLoader(TensorDataset(cr.tensor(images[:640]), cr.tensor(labels[:640])), 64)
    ours_test = DataLoader(TensorDataset(cr.tensor(images[1500:]), cr.tensor(labels[1500:])), 64)
    t_data = torch.utils.data
    theirs_loader = t_data.DataLoader(
        t_data.TensorDataset(torch.tensor(images[:640]), torch.tensor(labels[:640])), 64
    )
    theirs_test = t_data.DataLoader(
        t_data.TensorDataset(torch.tensor(images[1500:]), torch.tensor(labels[1500:])), 64
    )
    ours_printed = optimization_tutorial(ours_ns, ours, ours_loader, ours_test)
    theirs_printed = optimization_tutorial(theirs_ns, theirs, theirs_loader, theirs_test)
    np.testing.assert_allclose(ours_printed, theirs_printed, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ Datasets & DataLoaders
class DigitsDataset(Dataset):
    """The tutorial's CustomImageDataset over digits: one image (1, 8, 8) and an int label."""

    def __init__(self) -> None:
        self.images, self.labels = digits()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> tuple[Any, int]:
        return cr.tensor(self.images[idx]).unsqueeze(0), int(self.labels[idx])


def test_custom_dataset_and_dataloader_tutorial() -> None:
    dataset = DigitsDataset()
    loader = DataLoader(dataset, batch_size=64, shuffle=True, generator=0)
    features, labels = next(iter(loader))
    assert tuple(features.size()) == (64, 1, 8, 8) and tuple(labels.size()) == (64,)
    image = features[0].squeeze()
    matches = [i for i in range(len(dataset)) if np.array_equal(dataset.images[i], image.numpy())]
    assert labels[0].item() in {int(dataset.labels[i]) for i in matches}
    assert sum(len(x) for x, _ in loader) == len(loader.dataset) == 1797
    assert len(loader) == math.ceil(1797 / 64)


def test_dataloader_takes_num_workers_and_pin_memory() -> None:
    # "Training a classifier": DataLoader(trainset, batch_size=4, shuffle=True, num_workers=2)
    dataset = TensorDataset(cr.arange(10), cr.arange(10) * 2)
    plain = [x.tolist() for x, _ in DataLoader(dataset, batch_size=4)]
    workers = DataLoader(dataset, batch_size=4, num_workers=2, pin_memory=True)
    assert [x.tolist() for x, _ in workers] == plain == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert workers.num_workers == 2
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match=r"DataLoader: num_workers must be an integer >= 0"):
            DataLoader(dataset, num_workers=bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ Save and Load
def test_save_and_load_a_state_dict_as_in_the_tutorial(tmp_path: Path) -> None:
    ours_ns, theirs_ns = libraries()
    model = neural_network(ours_ns)
    path = tmp_path / "model_weights.pth"
    cr.save(model.state_dict(), path)
    restored = neural_network(ours_ns)
    result = restored.load_state_dict(cr.load(path, weights_only=True))
    assert repr(result) == "<All keys matched successfully>"
    restored.eval()
    x = cr.tensor(digits()[0][:5])
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())
    loaded = cr.load(path, map_location="cpu")
    assert list(loaded) == list(model.state_dict())  # in the order saved, as torch.load gives
    assert all(isinstance(v, cr.Tensor) for v in loaded.values())
    # the file is plain safetensors: PyTorch's twin takes it as it is
    from safetensors.torch import load_file

    twin = neural_network(theirs_ns)
    twin.load_state_dict(load_file(path))
    assert_close(model(x), twin(torch.tensor(x.numpy())))


def test_save_state_dict_keeps_metadata_and_buffers(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model(cr.randn(8, 3))  # running statistics move away from their start
    path = tmp_path / "sd.safetensors"
    cr.save(model.state_dict(), path, metadata={"epoch": 3})
    state, info = cr.load(path, with_metadata=True)
    assert info == {"epoch": 3} and cr.io.read_metadata(path) == {"epoch": 3}
    for key, value in model.state_dict().items():
        assert state[key].dtype == value.dtype
        np.testing.assert_array_equal(state[key].numpy(), value.numpy())
    # the other readers take it too
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    cr.load_state_dict_file(fresh, path)
    np.testing.assert_array_equal(fresh[1].running_mean.numpy(), model[1].running_mean.numpy())


def test_save_refuses_what_it_cannot_store(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=r"save: expected .* got Linear at model; save takes"):
        cr.save({"model": nn.Linear(2, 2)}, path)
    with pytest.raises(
        TypeError, match=r"save: expected a chainrule Module, a state dict, .*got int"
    ):
        cr.save(3, path)
    assert not path.exists()


def test_load_refuses_a_device_other_than_the_cpu(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    cr.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ValueError, match=r"load: chainrule runs on the CPU only, got device"):
        cr.load(path, map_location="cuda")


def test_load_state_dict_result_reads_as_in_pytorch() -> None:
    ours, theirs = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    assert repr(ours.load_state_dict(ours.state_dict())) == repr(
        theirs.load_state_dict(theirs.state_dict())
    )
    partial = ours.load_state_dict({"weight": ours.weight}, strict=False)
    assert partial.missing_keys == ["bias"] and partial.unexpected_keys == []
    assert "missing_keys=['bias']" in repr(partial)


# ---------------------------------------------------------------------- Neural Networks (LeNet)
def lenet(ns: SimpleNamespace) -> Any:
    nn_, F, lib = ns.nn, ns.F, ns.lib

    class Net(nn_.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn_.Conv2d(1, 6, 5)
            self.conv2 = nn_.Conv2d(6, 16, 5)
            self.fc1 = nn_.Linear(16 * 5 * 5, 120)
            self.fc2 = nn_.Linear(120, 84)
            self.fc3 = nn_.Linear(84, 10)

        def forward(self, input: Any) -> Any:
            c1 = F.relu(self.conv1(input))
            s2 = F.max_pool2d(c1, (2, 2))
            c3 = F.relu(self.conv2(s2))
            s4 = lib.flatten(F.max_pool2d(c3, 2), 1)
            f5 = F.relu(self.fc1(s4))
            f6 = F.relu(self.fc2(f5))
            return self.fc3(f6)

    return Net()


def test_neural_networks_tutorial_matches_pytorch() -> None:
    ours_ns, theirs_ns = libraries()
    ours, theirs = lenet(ours_ns), lenet(theirs_ns)
    copy_weights(ours, theirs)
    assert len(list(ours.parameters())) == 10
    params = list(ours.parameters())
    assert tuple(params[0].size()) == (6, 1, 5, 5)
    rng = np.random.default_rng(1)
    x, g, target = (
        rng.standard_normal(s).astype(np.float32) for s in ((1, 1, 32, 32), (1, 10), 10)
    )
    for model, lib in ((ours, cr), (theirs, torch)):
        model.zero_grad()
        model(lib.tensor(x)).backward(lib.tensor(g))
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert_close(p.grad, q.grad)
    losses = []
    for model, ns in ((ours, ours_ns), (theirs, theirs_ns)):
        optimizer = ns.optim.SGD(model.parameters(), lr=0.01)
        criterion = ns.nn.MSELoss()
        for _ in range(3):
            optimizer.zero_grad()
            loss = criterion(model(ns.lib.tensor(x)), ns.lib.tensor(target).view(1, -1))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    np.testing.assert_allclose(losses[:3], losses[3:], rtol=1e-4)
    assert_close(ours.conv1.bias, theirs.conv1.bias)


# ------------------------------------------------------------------ What is torch.nn really?
def test_nn_really_from_scratch_matches_pytorch() -> None:
    images, labels = digits()
    x_train, y_train = images[:640].reshape(-1, 64), labels[:640]
    start = (np.random.default_rng(2).standard_normal((64, 10)) / math.sqrt(64)).astype(np.float32)
    results = []
    for lib in (cr, torch):
        weights = lib.tensor(start.copy())
        weights.requires_grad_()
        bias = lib.zeros(10, requires_grad=True)

        def log_softmax(x: Any) -> Any:
            return x - x.exp().sum(-1).log().unsqueeze(-1)

        def nll(input: Any, target: Any) -> Any:
            return -input[range(target.shape[0]), target].mean()

        xs, ys = lib.tensor(x_train), lib.tensor(y_train)
        trace = []
        for i in range(10):
            xb, yb = xs[i * 64 : (i + 1) * 64], ys[i * 64 : (i + 1) * 64]
            loss = nll(log_softmax(xb @ weights + bias), yb)
            loss.backward()
            with lib.no_grad():
                weights -= weights.grad * 0.5
                bias -= bias.grad * 0.5
                weights.grad.zero_()
                bias.grad.zero_()
            trace.append(loss.item())
        out = xs @ weights + bias
        trace.append(lib.nn.functional.cross_entropy(out, ys).item())
        trace.append((lib.argmax(out, dim=1) == ys).float().mean().item())
        results.append(trace)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-6)


def nn_really_cnn(ns: SimpleNamespace) -> Any:
    nn_ = ns.nn

    class Lambda(nn_.Module):  # type: ignore[name-defined]
        def __init__(self, func: Any) -> None:
            super().__init__()
            self.func = func

        def forward(self, x: Any) -> Any:
            return self.func(x)

    return nn_.Sequential(
        Lambda(lambda x: x.view(-1, 1, 8, 8)),
        nn_.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
        nn_.ReLU(),
        nn_.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
        nn_.ReLU(),
        nn_.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn_.ReLU(),
        nn_.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )


def test_nn_really_cnn_with_dataloaders_matches_pytorch() -> None:
    images, labels = digits()
    flat = images.reshape(-1, 64)
    ours_ns, theirs_ns = libraries()
    ours, theirs = nn_really_cnn(ours_ns), nn_really_cnn(theirs_ns)
    copy_weights(ours, theirs)
    results = []
    for model, ns, data in ((ours, ours_ns, cr.data), (theirs, theirs_ns, torch.utils.data)):
        lib = ns.lib
        train_dl = data.DataLoader(
            data.TensorDataset(lib.tensor(flat[:512]), lib.tensor(labels[:512])), batch_size=64
        )
        valid_dl = data.DataLoader(
            data.TensorDataset(lib.tensor(flat[1500:]), lib.tensor(labels[1500:])), batch_size=128
        )
        opt = ns.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_func = ns.F.cross_entropy
        trace = []
        for _ in range(2):
            model.train()
            for xb, yb in train_dl:
                loss = loss_func(model(xb), yb)
                loss.backward()
                opt.step()
                opt.zero_grad()
                trace.append(loss.item())
            model.eval()
            with lib.no_grad():
                pairs = [(loss_func(model(xb), yb).item(), len(xb)) for xb, yb in valid_dl]
            losses, nums = zip(*pairs, strict=True)
            trace.append(np.sum(np.multiply(losses, nums)) / np.sum(nums))
        results.append(trace)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-3, atol=1e-5)


# ------------------------------------------------------------------- Training a classifier
def cifar_net(ns: SimpleNamespace) -> Any:
    nn_, F, lib = ns.nn, ns.F, ns.lib

    class Net(nn_.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn_.Conv2d(3, 6, 5)
            self.pool = nn_.MaxPool2d(2, 2)
            self.conv2 = nn_.Conv2d(6, 16, 5)
            self.fc1 = nn_.Linear(16 * 5 * 5, 120)
            self.fc2 = nn_.Linear(120, 84)
            self.fc3 = nn_.Linear(84, 10)

        def forward(self, x: Any) -> Any:
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = lib.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    return Net()


def test_training_a_classifier_matches_pytorch() -> None:
    rng = np.random.default_rng(3)
    images = rng.standard_normal((24, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, 24)
    ours_ns, theirs_ns = libraries()
    ours, theirs = cifar_net(ours_ns), cifar_net(theirs_ns)
    copy_weights(ours, theirs)
    results = []
    for net, ns, data in ((ours, ours_ns, cr.data), (theirs, theirs_ns, torch.utils.data)):
        lib = ns.lib
        dataset = data.TensorDataset(lib.tensor(images), lib.tensor(labels))
        trainloader = data.DataLoader(dataset, batch_size=4, shuffle=False, num_workers=0)
        criterion = ns.nn.CrossEntropyLoss()
        optimizer = ns.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
        trace: list[Any] = []
        for inputs, targets in trainloader:
            optimizer.zero_grad()
            loss = criterion(net(inputs), targets)
            loss.backward()
            optimizer.step()
            trace.append(loss.item())
        correct_pred = dict.fromkeys(range(10), 0)
        with lib.no_grad():
            for inputs, targets in trainloader:
                values, predicted = lib.max(net(inputs).data, 1)
                trace += values.tolist()
                for label, prediction in zip(targets, predicted, strict=True):
                    if label == prediction:
                        correct_pred[int(label)] += 1
        results.append((trace, correct_pred))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-4, atol=1e-5)
    assert results[0][1] == results[1][1]
