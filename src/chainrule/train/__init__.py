"""Training: ``fit``, ``evaluate``, ``predict``, metrics, callbacks and ``History``."""

from chainrule.train import metrics
from chainrule.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from chainrule.train.history import History
from chainrule.train.loop import (
    LOSSES,
    OPTIMIZERS,
    DivergenceWarning,
    FitState,
    evaluate,
    fit,
    predict,
)
from chainrule.train.metrics import METRICS, Metric

__all__ = [
    "CSVLogger",
    "Callback",
    "DivergenceWarning",
    "EarlyStopping",
    "FitState",
    "History",
    "LOSSES",
    "LambdaCallback",
    "LearningRateScheduler",
    "METRICS",
    "Metric",
    "ModelCheckpoint",
    "OPTIMIZERS",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "evaluate",
    "fit",
    "metrics",
    "predict",
]
