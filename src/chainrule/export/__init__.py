"""Export of trained models to other runtimes: ONNX."""

from chainrule.export.onnx import IR_VERSION, IR_VERSIONS, OPSETS, to_onnx

__all__ = ["IR_VERSION", "IR_VERSIONS", "OPSETS", "to_onnx"]
