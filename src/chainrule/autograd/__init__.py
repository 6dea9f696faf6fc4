"""Reverse-mode automatic differentiation: ops, the backward engine, grad mode, gradcheck."""

from chainrule.autograd import functional, ops
from chainrule.autograd.anomaly import (
    AnomalyError,
    detect_anomaly,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from chainrule.autograd.engine import backward, grad
from chainrule.autograd.function import (
    REGISTRY,
    AccumulateGrad,
    Context,
    Function,
    FunctionCtx,
    once_differentiable,
    register,
    unbroadcast,
)
from chainrule.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.autograd.gradcheck import GradcheckReport, InputCheck, gradcheck

__all__ = [
    "AccumulateGrad",
    "AnomalyError",
    "detect_anomaly",
    "is_anomaly_enabled",
    "set_detect_anomaly",
    "REGISTRY",
    "Context",
    "Function",
    "FunctionCtx",
    "GradcheckReport",
    "InputCheck",
    "backward",
    "enable_grad",
    "functional",
    "grad",
    "gradcheck",
    "inference_mode",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "ops",
    "register",
    "set_grad_enabled",
    "unbroadcast",
]
