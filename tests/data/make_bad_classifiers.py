"""Tiny classifier-shaped ONNX models that do not fit the node (crates/lowres_fer/tests/model_contract.rs):
classifier_7_classes.onnx (7 logits instead of 8), classifier_batch_1.onnx
(batch dimension fixed at 1) and classifier_batch_2.onnx (fixed at 2: passes
the start-up check, fails at run time on any other number of faces). Run with the training venv:
    python tests/data/make_bad_classifiers.py
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model(name, classes, batch):
    w = numpy_helper.from_array(np.full((1, classes), 0.1, np.float32), "w")
    nodes = [
        helper.make_node("GlobalAveragePool", ["face"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("face", TensorProto.FLOAT, [batch, 1, "height", "width"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes])],
        [w],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="lowres_fer tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, f"tests/data/{name}.onnx")


model("classifier_7_classes", 7, "batch")
model("classifier_batch_1", 8, 1)
model("classifier_batch_2", 8, 2)
