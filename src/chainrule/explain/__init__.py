"""See backpropagation happen: a step-by-step trace of the chain rule, the computational
graph, and gradient health during training."""

from chainrule.explain.graph import graph
from chainrule.explain.health import Flag, GradientHealth, HealthReport, LayerHealth
from chainrule.explain.trace import (
    ModuleStep,
    ParameterGrad,
    ParameterUpdate,
    Quantity,
    StepTrace,
    trace_step,
)

__all__ = [
    "Flag",
    "GradientHealth",
    "HealthReport",
    "LayerHealth",
    "ModuleStep",
    "ParameterGrad",
    "ParameterUpdate",
    "Quantity",
    "StepTrace",
    "graph",
    "trace_step",
]
