"""Optimizers (the update rules of training) and learning-rate schedules, in PyTorch's words.

>>> import chainrule as cr
>>> from chainrule.optim import SGD
>>> w = cr.tensor([4.0], requires_grad=True)
>>> opt = SGD([w], lr=0.25)
>>> for _ in range(3):
...     opt.zero_grad()
...     loss = (w ** 2).sum()           # dL/dw = 2w, so each step halves w
...     loss.backward()
...     opt.step()
>>> w
tensor([0.5000], requires_grad=True)
"""

from chainrule.optim import lr_scheduler, swa_utils
from chainrule.optim.adadelta import Adadelta
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.adamax import Adamax
from chainrule.optim.asgd import ASGD
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.nadam import NAdam
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.radam import RAdam
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.rprop import Rprop
from chainrule.optim.sgd import SGD

__all__ = [
    "ASGD",
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "lr_scheduler",
    "swa_utils",
]
