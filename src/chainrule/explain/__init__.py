"""See backpropagation happen: a step-by-step trace of the chain rule, the computational
graph, and gradient health during training."""

from chainrule.explain.graph import graph
from chainrule.explain.health import Flag, GradientHealth, HealthReport, LayerHealth
from chainrule.explain.trace import (
    LayerBackward,
    LayerForward,
    ParameterUpdate,
    StepTrace,
    trace_step,
)

__all__ = [
    "Flag",
    "GradientHealth",
    "HealthReport",
    "LayerBackward",
    "LayerForward",
    "LayerHealth",
    "ParameterUpdate",
    "StepTrace",
    "graph",
    "trace_step",
]
