"""TF Serving's gRPC API, called as a TF Serving client calls it, against a running Fulcrum.

Generates Python stubs from Fulcrum's TF Serving protos (fulcrum-server/src/main/proto, the
module paths of tensorflow-serving-api: tensorflow_serving.apis.predict_pb2, ...) with
grpcio-tools into a temporary directory, then calls PredictionService/Predict and
GetModelMetadata and ModelService/GetModelStatus on the gRPC port, comparing every Predict answer
with the REST v2 infer answer for the same data. Prints PASS/FAIL per check and the counts; exits
non-zero on a FAIL.

    python3 bench/tfserving_grpc_client.py --grpc 127.0.0.1:8001 --http 127.0.0.1:8000 --token T

With --bench N it then times N sequential one-row fraud_classifier calls each of Predict
(float_val), Predict (tensor_content) and OIP's ModelInfer (raw_input_contents, stubs generated
from grpc_service.proto) on one channel, and prints each one's p50 and p99 in microseconds: the
same Python client, so the difference is the server's (and the messages').
"""

import argparse
import importlib.resources
import json
import os
import struct
import sys
import tempfile
import urllib.request

import grpc
from grpc_tools import protoc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO = os.path.join(ROOT, "fulcrum-server", "src", "main", "proto")
FILES = [
    "tensorflow/core/framework/types.proto",
    "tensorflow/core/framework/tensor_shape.proto",
    "tensorflow/core/framework/tensor.proto",
    "tensorflow/core/protobuf/meta_graph.proto",
    "tensorflow/core/protobuf/error_codes.proto",
    "tensorflow_serving/util/status.proto",
    "tensorflow_serving/apis/model.proto",
    "tensorflow_serving/apis/predict.proto",
    "tensorflow_serving/apis/get_model_metadata.proto",
    "tensorflow_serving/apis/get_model_status.proto",
    "tensorflow_serving/apis/prediction_service.proto",
    "tensorflow_serving/apis/model_service.proto",
    "model_config.proto",
    "grpc_service.proto",
]

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def generate(out):
    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    rc = protoc.main(
        ["protoc", f"-I{PROTO}", f"-I{well_known}", f"--python_out={out}", f"--grpc_python_out={out}"]
        + FILES
    )
    if rc != 0:
        raise SystemExit(f"FAIL protoc exited {rc}")
    for d, _, _ in os.walk(out):
        open(os.path.join(d, "__init__.py"), "a").close()
    sys.path.insert(0, out)


FRAUD = [
    [120.5, 14, 0.2, 3.1, 2, 400, 0, 1],
    [5400.0, 3, 0.9, 850.0, 14, 12, 1, 0],
    [42.0, 11, 0.1, 1.0, 1, 2000, 0, 1],
]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grpc", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--bench", type=int, default=0)
    args = ap.parse_args()
    out = tempfile.mkdtemp(prefix="tfserving-stubs-")
    generate(out)
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )

    md = [("authorization", f"Bearer {args.token}")] if args.token else []
    channel = grpc.insecure_channel(args.grpc)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    models = model_service_pb2_grpc.ModelServiceStub(channel)

    def infer(model, inputs):
        req = urllib.request.Request(
            f"http://{args.http}/v2/models/{model}/infer",
            data=json.dumps({"inputs": inputs}).encode(),
            headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {args.token}"} if args.token else {})},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return {o["name"]: o for o in json.load(r)["outputs"]}

    def shape(*dims):
        return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims])

    def status_of(call):
        try:
            call()
            return None, ""
        except grpc.RpcError as e:
            return e.code(), e.details()

    flat = [v for row in FRAUD for v in row]
    expected = infer("fraud_classifier", [{"name": "features", "datatype": "FP32", "shape": [3, 8], "data": flat}])
    want_p = [f32(x) for x in expected["probabilities"]["data"]]
    want_l = [int(x) for x in expected["label"]["data"]]

    content = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT, tensor_shape=shape(3, 8), tensor_content=struct.pack("<24f", *flat)
    )
    typed = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape(3, 8), float_val=flat)
    for name, t in (("tensor_content", content), ("float_val", typed)):
        req = predict_pb2.PredictRequest()
        req.model_spec.name = "fraud_classifier"
        req.inputs["features"].CopyFrom(t)
        r = stub.Predict(req, timeout=30, metadata=md)
        p, l = r.outputs["probabilities"], r.outputs["label"]
        check(f"fraud Predict ({name}) probabilities = infer's", list(p.float_val) == want_p, f"{list(p.float_val)} vs {want_p}")
        check(f"fraud Predict ({name}) label = infer's", list(l.int64_val) == want_l, f"{list(l.int64_val)} vs {want_l}")
        check(
            f"fraud Predict ({name}) dtypes, shapes, model_spec",
            p.dtype == types_pb2.DT_FLOAT
            and [d.size for d in p.tensor_shape.dim] == [3, 2]
            and l.dtype == types_pb2.DT_INT64
            and r.model_spec.name == "fraud_classifier"
            and r.model_spec.version.value == 1
            and r.model_spec.signature_name == "serving_default",
            str(r.model_spec),
        )

    req = predict_pb2.PredictRequest()
    req.model_spec.name = "fraud_classifier"
    req.model_spec.version.value = 1
    req.model_spec.signature_name = "serving_default"
    req.inputs["features"].CopyFrom(typed)
    req.output_filter.append("label")
    r = stub.Predict(req, timeout=30, metadata=md)
    check("output_filter and a pinned version", list(r.outputs.keys()) == ["label"] and list(r.outputs["label"].int64_val) == want_l)

    # MiniLM: three INT64 inputs in int64_val.
    ids = [101, 7592, 2088, 102, 101, 2204, 2851, 102]
    inputs = {"input_ids": ids, "attention_mask": [1] * 8, "token_type_ids": [0] * 8}
    expected = infer(
        "all_minilm_l6_v2", [{"name": n, "datatype": "INT64", "shape": [2, 4], "data": v} for n, v in inputs.items()]
    )
    req = predict_pb2.PredictRequest()
    req.model_spec.name = "all_minilm_l6_v2"
    for n, v in inputs.items():
        req.inputs[n].CopyFrom(tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64, tensor_shape=shape(2, 4), int64_val=v))
    r = stub.Predict(req, timeout=60, metadata=md)
    for n, o in expected.items():
        got = r.outputs[n]
        check(
            f"MiniLM Predict {n} = infer's",
            list(got.float_val) == [f32(x) for x in o["data"]] and [d.size for d in got.tensor_shape.dim] == o["shape"],
        )

    # Metadata and status.
    mreq = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    mreq.model_spec.name = "fraud_classifier"
    m = stub.GetModelMetadata(mreq, timeout=30, metadata=md)
    sigs = get_model_metadata_pb2.SignatureDefMap()
    unpacked = m.metadata["signature_def"].Unpack(sigs)
    s = sigs.signature_def["serving_default"]
    check(
        "GetModelMetadata signature_def",
        unpacked
        and s.method_name == "tensorflow/serving/predict"
        and s.inputs["features"].dtype == types_pb2.DT_FLOAT
        and [d.size for d in s.inputs["features"].tensor_shape.dim] == [-1, 8]
        and s.outputs["label"].dtype == types_pb2.DT_INT64,
        str(s),
    )
    sreq = get_model_status_pb2.GetModelStatusRequest()
    sreq.model_spec.name = "fraud_classifier"
    st = models.GetModelStatus(sreq, timeout=30, metadata=md)
    v = st.model_version_status
    check(
        "GetModelStatus AVAILABLE",
        len(v) == 1 and v[0].version == 1 and v[0].state == get_model_status_pb2.ModelVersionStatus.AVAILABLE,
        str(st),
    )

    # Errors.
    def predict(model="fraud_classifier", version=None, signature="", tensor=typed, meta=md):
        q = predict_pb2.PredictRequest()
        q.model_spec.name = model
        if version is not None:
            q.model_spec.version.value = version
        q.model_spec.signature_name = signature
        q.inputs["features"].CopyFrom(tensor)
        return lambda: stub.Predict(q, timeout=30, metadata=meta)

    code, msg = status_of(predict(model="nope"))
    check("unknown model NOT_FOUND", code == grpc.StatusCode.NOT_FOUND, f"{code} {msg}")
    code, msg = status_of(predict(version=9))
    check("unknown version NOT_FOUND", code == grpc.StatusCode.NOT_FOUND, f"{code} {msg}")
    code, msg = status_of(predict(signature="classify"))
    check("other signature INVALID_ARGUMENT", code == grpc.StatusCode.INVALID_ARGUMENT and "serving_default" in msg, f"{code} {msg}")
    bad = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape(3, 8), float_val=flat[:5])
    code, msg = status_of(predict(tensor=bad))
    check("wrong value count INVALID_ARGUMENT", code == grpc.StatusCode.INVALID_ARGUMENT and "features" in msg, f"{code} {msg}")
    classify = channel.unary_unary(
        "/tensorflow.serving.PredictionService/Classify", request_serializer=lambda x: x, response_deserializer=lambda x: x
    )
    code, msg = status_of(lambda: classify(b"", timeout=30, metadata=md))
    check("Classify UNIMPLEMENTED", code == grpc.StatusCode.UNIMPLEMENTED, f"{code} {msg}")
    if args.token:
        code, msg = status_of(predict(meta=[]))
        check("no token UNAUTHENTICATED", code == grpc.StatusCode.UNAUTHENTICATED, f"{code} {msg}")

    print(f"{passed} passed, {failed} failed")
    if args.bench:
        bench(args.bench, stub, channel, md, predict_pb2, tensor_pb2, types_pb2, shape)
    return 1 if failed else 0


def bench(n, stub, channel, md, predict_pb2, tensor_pb2, types_pb2, shape):
    import time

    import grpc_service_pb2
    import grpc_service_pb2_grpc

    row = FRAUD[0]
    typed = predict_pb2.PredictRequest()
    typed.model_spec.name = "fraud_classifier"
    typed.inputs["features"].CopyFrom(
        tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape(1, 8), float_val=row)
    )
    content = predict_pb2.PredictRequest()
    content.model_spec.name = "fraud_classifier"
    content.inputs["features"].CopyFrom(
        tensor_pb2.TensorProto(
            dtype=types_pb2.DT_FLOAT, tensor_shape=shape(1, 8), tensor_content=struct.pack("<8f", *row)
        )
    )
    oip = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
    infer = grpc_service_pb2.ModelInferRequest(model_name="fraud_classifier")
    t = infer.inputs.add()
    t.name, t.datatype = "features", "FP32"
    t.shape.extend([1, 8])
    infer.raw_input_contents.append(struct.pack("<8f", *row))
    cases = [
        ("Predict float_val", lambda: stub.Predict(typed, timeout=30, metadata=md)),
        ("Predict tensor_content", lambda: stub.Predict(content, timeout=30, metadata=md)),
        ("ModelInfer raw", lambda: oip.ModelInfer(infer, timeout=30, metadata=md)),
    ]
    for _ in range(2):  # the first round warms both paths; the second is reported
        out = []
        for name, call in cases:
            for _ in range(min(n, 200)):
                call()
            times = []
            for _ in range(n):
                t0 = time.perf_counter_ns()
                call()
                times.append((time.perf_counter_ns() - t0) // 1000)
            times.sort()
            out.append(f"{name}: p50 {times[n // 2]} us, p99 {times[min(n - 1, n * 99 // 100)]} us")
    print("BENCH " + "; ".join(out))


if __name__ == "__main__":
    sys.exit(main())
