#!/usr/bin/env python3
"""Writes models as users export them (PyTorch's torch.onnx.export, scikit-learn graphs as
skl2onnx writes them) into a model repository with NO config files, each as <name>/1/model.onnx,
plus <name>.inputs.npz (sample inputs of 4 rows, or the fixed shape) beside the repository for
bench/exported_check.py. Run it through bench/make_exported_models.sh (a venv from the local
index); the models are generated, never committed (bench/models/exported is gitignored).

  torch_mlp            torch.onnx.export (TorchScript), dynamic_axes batch: FP32 [N,16] -> [N,4]
  torch_mlp_dynamo     the same MLP through the dynamo exporter (dynamo=True), if it works offline
  torch_text           int64 input_ids + attention_mask [batch, sequence] -> logits [batch, 3]
                       (embedding, one masked self-attention, masked mean pooling)
  torch_bool_mask      FP32 x [N,8] + BOOL mask [N,8] -> FP32 [N,1]
  torch_int32          INT32 ids [N,4] -> FP32 [N,2]
  torch_fp16           model.half(): FP16 [N,8] -> FP16 [N,3]
  torch_two_outputs    FP32 [N,8] -> FP32 probabilities [N,3] + INT64 label [N]
  torch_external_data  the MLP saved with save_as_external_data (model.onnx + model.onnx.data)
  skl_linear_zipmap    LinearClassifier + Normalizer + ZipMap: label INT64 [N], probabilities
                       seq(map(int64, float)) (skl2onnx's default)
  skl_linear_nozipmap  the same with zipmap=False: probabilities FP32 [N,3]
  skl_tree_strings     TreeEnsembleClassifier with string class labels: label STRING [N] +
                       probabilities FP32 [N,2] (zipmap=False)
  skl_tree_strings_zipmap  the same with ZipMap seq(map(string, float))
  skl_pipeline_strings a pipeline: STRING city [N,1] (OneHotEncoder), STRING plan [N,1]
                       (LabelEncoder), FP32 num [N,2] (Scaler) -> LinearClassifier
  init_as_input        an old exporter's graph (IR 3): its weights are initializers AND inputs
  optional_input       IR 8: an input with an initializer default (an overridable initializer)
  batch_named          batch dimension named 'batch_size' (dim_param)
  batch_unknown        batch dimension with neither dim_param nor dim_value (shape [?, 4])
  batch_fixed1         batch dimension fixed to 1 (dim_value 1)

  python bench/make_exported_models.py [DIR]   (default bench/models/exported)
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

DIR = sys.argv[1] if len(sys.argv) > 1 else "bench/models/exported"
torch.manual_seed(7)
rng = np.random.default_rng(7)
made = []


def path(name):
    d = os.path.join(DIR, name, "1")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, "model.onnx")


def samples(name, **inputs):
    np.savez(os.path.join(DIR, name + ".inputs.npz"), **inputs)
    made.append(name)


def export(name, model, args, input_names, output_names, dynamic_axes, **kw):
    model.eval()
    torch.onnx.export(model, args, path(name), input_names=input_names,
                      output_names=output_names, dynamic_axes=dynamic_axes, opset_version=17,
                      dynamo=False, **kw)


class Mlp(torch.nn.Module):
    def __init__(self, i=16, h=32, o=4):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(i, h), torch.nn.ReLU(), torch.nn.Linear(h, o))

    def forward(self, x):
        return torch.softmax(self.net(x), dim=-1)


x16 = rng.standard_normal((4, 16)).astype(np.float32)
mlp = Mlp()
export("torch_mlp", mlp, (torch.from_numpy(x16),), ["input"], ["output"],
       {"input": {0: "batch"}, "output": {0: "batch"}})
samples("torch_mlp", input=x16)

try:
    prog = torch.onnx.export(mlp.eval(), (torch.from_numpy(x16),), input_names=["input"],
                             output_names=["output"], dynamo=True,
                             dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},))
    prog.save(path("torch_mlp_dynamo"))
    samples("torch_mlp_dynamo", input=x16)
except Exception as e:  # the dynamo exporter needs onnxscript; report, never stop the others
    print(f"torch_mlp_dynamo: the dynamo exporter failed: {type(e).__name__}: {e}"[:400],
          file=sys.stderr)


class TextClassifier(torch.nn.Module):
    def __init__(self, vocab=100, d=16, classes=3):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, d)
        self.q = torch.nn.Linear(d, d)
        self.k = torch.nn.Linear(d, d)
        self.v = torch.nn.Linear(d, d)
        self.out = torch.nn.Linear(d, classes)

    def forward(self, input_ids, attention_mask):
        h = self.emb(input_ids)
        scores = self.q(h) @ self.k(h).transpose(1, 2) / 4.0
        m = attention_mask[:, None, :].to(torch.float32)
        scores = scores + (1.0 - m) * -10000.0
        h = torch.softmax(scores, dim=-1) @ self.v(h)
        w = attention_mask.to(torch.float32).unsqueeze(-1)
        pooled = (h * w).sum(1) / w.sum(1).clamp(min=1.0)
        return self.out(pooled)


ids = rng.integers(1, 100, size=(4, 7)).astype(np.int64)
mask = np.ones((4, 7), dtype=np.int64)
mask[1, 5:] = 0
mask[3, 3:] = 0
ids[mask == 0] = 0
export("torch_text", TextClassifier(), (torch.from_numpy(ids), torch.from_numpy(mask)),
       ["input_ids", "attention_mask"], ["logits"],
       {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
        "logits": {0: "batch"}})
samples("torch_text", input_ids=ids, attention_mask=mask)


class BoolMask(torch.nn.Module):
    def forward(self, x, mask):
        return torch.where(mask, x, torch.zeros_like(x)).sum(dim=1, keepdim=True)


x8 = rng.standard_normal((4, 8)).astype(np.float32)
bmask = rng.random((4, 8)) > 0.5
export("torch_bool_mask", BoolMask(), (torch.from_numpy(x8), torch.from_numpy(bmask)),
       ["x", "mask"], ["masked_sum"], {"x": {0: "batch"}, "mask": {0: "batch"},
                                       "masked_sum": {0: "batch"}})
samples("torch_bool_mask", x=x8, mask=bmask)


class Int32Ids(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(50, 2)

    def forward(self, ids):
        return self.emb(ids.to(torch.int64)).mean(dim=1)


ids32 = rng.integers(0, 50, size=(4, 4)).astype(np.int32)
export("torch_int32", Int32Ids(), (torch.from_numpy(ids32),), ["ids"], ["mean_embedding"],
       {"ids": {0: "batch"}, "mean_embedding": {0: "batch"}})
samples("torch_int32", ids=ids32)

half = Mlp(8, 16, 3).half()
xh = rng.standard_normal((4, 8)).astype(np.float16)
export("torch_fp16", half, (torch.from_numpy(xh),), ["input"], ["output"],
       {"input": {0: "batch"}, "output": {0: "batch"}})
samples("torch_fp16", input=xh)


class TwoOutputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 3)

    def forward(self, x):
        p = torch.softmax(self.lin(x), dim=-1)
        return p, p.argmax(dim=-1)


export("torch_two_outputs", TwoOutputs(), (torch.from_numpy(x8),), ["x"],
       ["probabilities", "label"], {"x": {0: "batch"}, "probabilities": {0: "batch"},
                                    "label": {0: "batch"}})
samples("torch_two_outputs", x=x8)

# External data: exported, then re-saved with every initializer in model.onnx.data beside it.
p = path("torch_external_data")
export("torch_external_data", Mlp(16, 64, 4), (torch.from_numpy(x16),), ["input"], ["output"],
       {"input": {0: "batch"}, "output": {0: "batch"}})
m = onnx.load(p)
onnx.save_model(m, p, save_as_external_data=True, all_tensors_to_one_file=True,
                location="model.onnx.data", size_threshold=0)
samples("torch_external_data", input=x16)

# --- scikit-learn graphs as skl2onnx writes them (ai.onnx.ml ops; skl2onnx is not installable
# here, so the nodes are written with onnx.helper the way skl2onnx emits them) ---
ML = helper.make_opsetid("ai.onnx.ml", 3)
OPS = [helper.make_opsetid("", 15), ML]
xf = rng.standard_normal((4, 4)).astype(np.float32)
coef = rng.standard_normal((3, 4)).astype(np.float32)
icpt = rng.standard_normal(3).astype(np.float32)


def save(name, nodes, inputs, outputs, initializers=(), ir=8, opsets=OPS):
    g = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    m = helper.make_model(g, opset_imports=opsets, producer_name="skl2onnx",
                          producer_version="1.17.0")
    m.ir_version = ir
    onnx.checker.check_model(m)
    onnx.save(m, path(name))


def linear(zipmap):
    nodes = [
        helper.make_node("LinearClassifier", ["float_input"], ["label", "probability_tensor"],
                         domain="ai.onnx.ml", classlabels_ints=[0, 1, 2],
                         coefficients=coef.flatten().tolist(), intercepts=icpt.tolist(),
                         multi_class=1, post_transform="LOGISTIC", name="LinearClassifier"),
        helper.make_node("Normalizer", ["probability_tensor"],
                         ["probabilities"] if not zipmap else ["probabilities_n"],
                         domain="ai.onnx.ml", norm="L1", name="Normalizer"),
        helper.make_node("Cast", ["label"], ["output_label"], to=TensorProto.INT64, name="Cast"),
    ]
    outs = [helper.make_tensor_value_info("output_label", TensorProto.INT64, [None])]
    if zipmap:
        nodes.append(helper.make_node("ZipMap", ["probabilities_n"], ["output_probability"],
                                      domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2],
                                      name="ZipMap"))
        outs.append(helper.make_value_info(
            "output_probability",
            helper.make_sequence_type_proto(
                helper.make_map_type_proto(TensorProto.INT64,
                                           helper.make_tensor_type_proto(TensorProto.FLOAT, [])))))
    else:
        outs.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 3]))
    return nodes, [helper.make_tensor_value_info("float_input", TensorProto.FLOAT, [None, 4])], outs


save("skl_linear_zipmap", *linear(True))
samples("skl_linear_zipmap", float_input=xf)
save("skl_linear_nozipmap", *linear(False))
samples("skl_linear_nozipmap", float_input=xf)


def tree(zipmap):
    # One depth-2 tree per class weight, as skl2onnx writes a DecisionTreeClassifier.
    nodes = [helper.make_node(
        "TreeEnsembleClassifier", ["float_input"], ["label", "probabilities" if not zipmap else "p"],
        domain="ai.onnx.ml", name="TreeEnsembleClassifier",
        classlabels_strings=["no", "yes"], post_transform="NONE",
        nodes_treeids=[0, 0, 0, 0, 0], nodes_nodeids=[0, 1, 2, 3, 4],
        nodes_featureids=[0, 1, 0, 0, 0], nodes_values=[0.0, 0.5, 0.0, 0.0, 0.0],
        nodes_modes=["BRANCH_LEQ", "BRANCH_LEQ", "LEAF", "LEAF", "LEAF"],
        nodes_truenodeids=[1, 3, 0, 0, 0], nodes_falsenodeids=[2, 4, 0, 0, 0],
        nodes_hitrates=[1.0] * 5, nodes_missing_value_tracks_true=[0] * 5,
        class_treeids=[0, 0, 0, 0, 0, 0], class_nodeids=[2, 2, 3, 3, 4, 4],
        class_ids=[0, 1, 0, 1, 0, 1], class_weights=[0.2, 0.8, 0.9, 0.1, 0.4, 0.6])]
    outs = [helper.make_tensor_value_info("label", TensorProto.STRING, [None])]
    if zipmap:
        nodes.append(helper.make_node("ZipMap", ["p"], ["output_probability"], domain="ai.onnx.ml",
                                      classlabels_strings=["no", "yes"], name="ZipMap"))
        outs.append(helper.make_value_info(
            "output_probability",
            helper.make_sequence_type_proto(
                helper.make_map_type_proto(TensorProto.STRING,
                                           helper.make_tensor_type_proto(TensorProto.FLOAT, [])))))
    else:
        outs.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2]))
    return nodes, [helper.make_tensor_value_info("float_input", TensorProto.FLOAT, [None, 4])], outs


save("skl_tree_strings", *tree(False))
samples("skl_tree_strings", float_input=xf)
save("skl_tree_strings_zipmap", *tree(True))
samples("skl_tree_strings_zipmap", float_input=xf)

# A ColumnTransformer pipeline: city (OneHotEncoder), plan (LabelEncoder), num (StandardScaler),
# concatenated (FeatureVectorizer, as skl2onnx does) into a LogisticRegression.
cities = ["berlin", "lisbon", "oslo"]
pc = rng.standard_normal((2, 6)).astype(np.float32)
nodes = [
    helper.make_node("OneHotEncoder", ["city"], ["city_onehot3"], domain="ai.onnx.ml",
                     cats_strings=cities, zeros=1, name="OneHotEncoder"),
    helper.make_node("Reshape", ["city_onehot3", "shape_n3"], ["city_onehot"], name="Reshape"),
    helper.make_node("LabelEncoder", ["plan"], ["plan_id"], domain="ai.onnx.ml",
                     keys_strings=["basic", "pro"], values_int64s=[0, 1], default_int64=-1,
                     name="LabelEncoder"),
    helper.make_node("Cast", ["plan_id"], ["plan_f"], to=TensorProto.FLOAT, name="CastPlan"),
    helper.make_node("Scaler", ["num"], ["num_scaled"], domain="ai.onnx.ml",
                     offset=[1.0, -2.0], scale=[0.5, 2.0], name="Scaler"),
    helper.make_node("FeatureVectorizer", ["city_onehot", "plan_f", "num_scaled"], ["features"],
                     domain="ai.onnx.ml", inputdimensions=[3, 1, 2], name="FeatureVectorizer"),
    helper.make_node("LinearClassifier", ["features"], ["label", "probability_tensor"],
                     domain="ai.onnx.ml", classlabels_ints=[0, 1],
                     coefficients=pc.flatten().tolist(), intercepts=[0.1, -0.1],
                     post_transform="LOGISTIC", name="LinearClassifier"),
    helper.make_node("Normalizer", ["probability_tensor"], ["probabilities"], domain="ai.onnx.ml",
                     norm="L1", name="Normalizer"),
    helper.make_node("Cast", ["label"], ["output_label"], to=TensorProto.INT64, name="Cast"),
]
save("skl_pipeline_strings", nodes,
     [helper.make_tensor_value_info("city", TensorProto.STRING, [None, 1]),
      helper.make_tensor_value_info("plan", TensorProto.STRING, [None, 1]),
      helper.make_tensor_value_info("num", TensorProto.FLOAT, [None, 2])],
     [helper.make_tensor_value_info("output_label", TensorProto.INT64, [None]),
      helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
     [numpy_helper.from_array(np.array([-1, 3], dtype=np.int64), "shape_n3")])
samples("skl_pipeline_strings",
        city=np.array([["oslo"], ["berlin"], ["paris"], ["lisbon"]], dtype=object),
        plan=np.array([["pro"], ["basic"], ["pro"], ["enterprise"]], dtype=object),
        num=rng.standard_normal((4, 2)).astype(np.float32))

# --- graph shapes older exporters and hand edits leave ---
W = rng.standard_normal((4, 3)).astype(np.float32)
B = rng.standard_normal(3).astype(np.float32)
nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["y"], name="Gemm")]
save("init_as_input", nodes,
     [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
      helper.make_tensor_value_info("W", TensorProto.FLOAT, [4, 3]),
      helper.make_tensor_value_info("B", TensorProto.FLOAT, [3])],
     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
     [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")], ir=3,
     opsets=[helper.make_opsetid("", 9)])
samples("init_as_input", x=xf)

nodes = [helper.make_node("Mul", ["x", "scale"], ["y"], name="Mul")]
save("optional_input", nodes,
     [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
      helper.make_tensor_value_info("scale", TensorProto.FLOAT, [1])],
     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
     [numpy_helper.from_array(np.array([2.0], dtype=np.float32), "scale")], ir=8,
     opsets=[helper.make_opsetid("", 15)])
samples("optional_input", x=xf)

for name, dim in (("batch_named", "batch_size"), ("batch_unknown", None), ("batch_fixed1", 1)):
    nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["y"], name="Gemm")]
    save(name, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [dim, 4])],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, [dim, 3])],
         [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")],
         opsets=[helper.make_opsetid("", 15)])
    samples(name, x=xf[:1] if dim == 1 else xf)

print(f"{len(made)} models in {DIR}: {' '.join(made)}")
