"""Tiny classifier-shaped ONNX model whose logits have 7 classes instead of 8
(tests/model_contract.rs). Run with the training venv: python tests/data/make_classifier_7_classes.py"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

w = numpy_helper.from_array(np.full((1, 7), 0.1, np.float32), "w")
nodes = [
    helper.make_node("GlobalAveragePool", ["face"], ["pooled"]),
    helper.make_node("Flatten", ["pooled"], ["flat"]),
    helper.make_node("MatMul", ["flat", "w"], ["logits"]),
]
g = helper.make_graph(
    nodes, "wrong_classes",
    [helper.make_tensor_value_info("face", TensorProto.FLOAT, ["batch", 1, "height", "width"])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 7])],
    [w],
)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="lowres_fer tests")
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, "tests/data/classifier_7_classes.onnx")
