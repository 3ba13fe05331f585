#!/usr/bin/env python3
"""NVIDIA's tritonclient (HTTP, gRPC, their aio clients, gRPC streaming), unchanged, against a
running Fulcrum with the demo models: one PASS/FAIL line per call, what a team moving off Triton
runs. Run by bench/triton_clients.sh, which installs the client and starts the server.

System shared memory is used as Triton's clients use it: tritonclient.utils.shared_memory creates
POSIX objects in /dev/shm, the client registers them (HTTP and gRPC), and inputs are read from and
outputs written into them; the server must run with --allow-client-shm true. CUDA shared memory
answers as Triton without GPUs (no region; registering refused). The trace settings are read over
both transports and, on a server with tracing on, changed and put back; on one without, a change
must be refused saying tracing is off. The log settings (Triton's logging extension) are read,
changed and put back over both transports; the fraud classifier's ONNX bytes are pushed as a new
model with a config (load_model(config=, files=)), answered, and unloaded, over both. Exit status 1
when a check FAILs."""

import argparse
import asyncio
import json
import queue
import signal
import sys
import traceback
import urllib.request

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
import tritonclient.http as httpclient
import tritonclient.http.aio as httpaio
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

FRAUD = "fraud_classifier"
MINILM = "all_minilm_l6_v2"
TEXT = "minilm_text"
ROWS = np.array(
    [[1250.0, 3, 0.92, 410.5, 14, 20, 1, 0], [23.5, 14, 0.05, 3.2, 2, 2900, 0, 1]],
    dtype=np.float32,
)
RESULTS = []
EXPECTED = {}  # the probabilities of ROWS, from the first JSON inference


def check(name, fn, seconds=30):
    """Runs fn; PASS when it returns without raising, within `seconds` (a hang is a FAIL)."""

    def alarm(_sig, _frame):
        raise TimeoutError(f"no answer in {seconds} s")

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        note = fn()
        RESULTS.append((name, True))
        print(f"PASS {name}" + (f": {str(note)[:160]}" if isinstance(note, str) else ""), flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
        RESULTS.append((name, False))
        detail = f"{type(e).__name__}: {e}"
        print(f"FAIL {name}: {detail}", flush=True)
        if "-v" in sys.argv:
            traceback.print_exc()
    finally:
        signal.alarm(0)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def refused(fn, *words):
    """fn must raise InferenceServerException whose message names one of words (a clean error)."""
    try:
        fn()
    except InferenceServerException as e:
        msg = str(e)
        expect(any(w.lower() in msg.lower() for w in words), f"unclear error: {msg!r}")
        return msg[:160]
    raise AssertionError("accepted, expected a clean 'not supported' error")


async def arefused(coro, *words):
    try:
        await coro
    except InferenceServerException as e:
        msg = str(e)
        expect(any(w.lower() in msg.lower() for w in words), f"unclear error: {msg!r}")
        return msg[:160]
    raise AssertionError("accepted, expected a clean 'not supported' error")


def fraud_inputs(mod, binary=True, rows=ROWS):
    i = mod.InferInput("features", list(rows.shape), "FP32")
    if mod is httpclient or mod is httpaio:
        i.set_data_from_numpy(rows, binary_data=binary)
    else:
        i.set_data_from_numpy(rows)
    return [i]


def http_outputs(binary, class_count=0):
    return [
        httpclient.InferRequestedOutput(
            "probabilities", binary_data=binary, class_count=class_count
        ),
        httpclient.InferRequestedOutput("label", binary_data=binary),
    ]


def check_probabilities(result, tag):
    p = result.as_numpy("probabilities")
    expect(p is not None and p.shape == (2, 2), f"{tag}: probabilities {p!r}")
    expect(p.dtype == np.float32, f"{tag}: dtype {p.dtype}")
    if "p" in EXPECTED:
        expect(np.allclose(p, EXPECTED["p"], atol=1e-6), f"{tag}: {p} != {EXPECTED['p']}")
    label = result.as_numpy("label")
    expect(label is not None and label.shape == (2,) and label.dtype == np.int64, f"{tag}: label {label!r}")
    return p


def check_classes(result, k):
    c = result.as_numpy("probabilities")
    expect(c is not None and c.shape == (2, k), f"class_count={k}: shape {None if c is None else c.shape}")
    first = c[0][0].decode() if isinstance(c[0][0], bytes) else str(c[0][0])
    parts = first.split(":")
    expect(len(parts) >= 2 and float(parts[0]) > 0, f"class_count={k}: {first!r}")
    return f"{c.tolist()}"


def minilm_inputs(mod):
    ids = np.array([[101, 7592, 2088, 102]], dtype=np.int64)
    out = []
    for name, arr in (("input_ids", ids), ("attention_mask", np.ones_like(ids)), ("token_type_ids", np.zeros_like(ids))):
        i = mod.InferInput(name, list(arr.shape), np_to_triton_dtype(arr.dtype))
        i.set_data_from_numpy(arr)
        out.append(i)
    return out


def text_inputs(mod):
    arr = np.array([["hello world"], ["A sentence embedding maps text to a vector."]], dtype=object)
    i = mod.InferInput("text", [2, 1], "BYTES")
    i.set_data_from_numpy(arr)
    return [i]


def check_text(result):
    e = result.as_numpy("embedding")
    expect(e is not None and e.shape == (2, 384), f"embedding {None if e is None else e.shape}")
    norms = np.linalg.norm(e, axis=1)
    expect(np.allclose(norms, 1.0, atol=1e-3), f"norms {norms}")


CUDA_WORDS = ("GPUs not supported", "CUDA shared memory")


def shm_regions(tag, sizes):
    """POSIX shared memory objects made with tritonclient's own module: {name: handle}."""
    return {n: shm.create_shared_memory_region(n, f"/tritonc_{tag}_{n}", size) for n, size in sizes.items()}


def shm_destroy(handles):
    for h in handles.values():
        shm.destroy_shared_memory_region(h)


def output_shape(result, name):
    o = result.get_output(name)
    return o["shape"] if isinstance(o, dict) else list(o.shape)


def shm_checks(c, mod, tag):
    """Triton's system shared memory round trips, as simple_{http,grpc}_shm_client.py make them:
    register (and status), inputs in a region, outputs into a region, mixed, BYTES, a region too
    small, unregister; and the CUDA calls as Triton without GPUs answers them."""
    grpc = tag == "grpc"
    h = shm_regions(tag, {"in": ROWS.nbytes, "out": 64, "text_in": 256, "text_out": 2 * 384 * 4})
    keys = {n: f"/tritonc_{tag}_{n}" for n in h}
    try:
        shm.set_shared_memory_region(h["in"], [ROWS])

        def register():
            c.unregister_system_shared_memory()
            for n in ("in", "out"):
                c.register_system_shared_memory(n, keys[n], ROWS.nbytes if n == "in" else 64)
            s = c.get_system_shared_memory_status()
            names = sorted(s.regions.keys()) if grpc else sorted(r["name"] for r in s)
            expect(names == ["in", "out"], names)
            one = c.get_system_shared_memory_status("in")
            key = one.regions["in"].key if grpc else one[0]["key"]
            expect(key == keys["in"], key)
            return f"registered {names}, key {key}"

        check(f"{tag} register_system_shared_memory + get_system_shared_memory_status", register)

        def infer_all():
            i = mod.InferInput("features", [2, 8], "FP32")
            i.set_shared_memory("in", ROWS.nbytes)
            p = mod.InferRequestedOutput("probabilities")
            p.set_shared_memory("out", 16)
            label = mod.InferRequestedOutput("label")
            label.set_shared_memory("out", 16, offset=32)
            r = c.infer(FRAUD, [i], outputs=[p, label])
            probs = shm.get_contents_as_numpy(h["out"], np.float32, output_shape(r, "probabilities"))
            labels = shm.get_contents_as_numpy(h["out"], np.int64, output_shape(r, "label"), offset=32)
            expect(np.allclose(probs, EXPECTED["p"], atol=1e-6), f"{probs} != {EXPECTED['p']}")
            expect(list(labels) == list(np.argmax(EXPECTED["p"], axis=1)), f"labels {labels}")
            return f"probabilities {probs.tolist()}, labels {labels.tolist()} read from the region"

        check(f"{tag} infer: input from a region, outputs into a region", infer_all)

        def mixed():
            i = mod.InferInput("features", [2, 8], "FP32")
            i.set_shared_memory("in", ROWS.nbytes)
            label = mod.InferRequestedOutput("label")
            label.set_shared_memory("out", 16, offset=48)
            r = c.infer(FRAUD, [i], outputs=[mod.InferRequestedOutput("probabilities"), label])
            expect(np.allclose(r.as_numpy("probabilities"), EXPECTED["p"], atol=1e-6), "probabilities")
            labels = shm.get_contents_as_numpy(h["out"], np.int64, [2], offset=48)
            expect(list(labels) == list(np.argmax(EXPECTED["p"], axis=1)), f"labels {labels}")
            # and an input in the body with its output in a region
            r = c.infer(FRAUD, fraud_inputs(mod), outputs=[label])
            expect(list(shm.get_contents_as_numpy(h["out"], np.int64, [2], offset=48)) == list(labels), "again")
            return "one output in the response, one in the region; then an input in the body"

        check(f"{tag} infer: mixed region and in-body tensors", mixed)

        def text():
            c.register_system_shared_memory("text_in", keys["text_in"], 256)
            c.register_system_shared_memory("text_out", keys["text_out"], 2 * 384 * 4)
            arr = np.array([["hello world"], ["A sentence embedding maps text to a vector."]], dtype=object)
            from tritonclient.utils import serialize_byte_tensor
            data = serialize_byte_tensor(arr)
            shm.set_shared_memory_region(h["text_in"], [data])
            i = mod.InferInput("text", [2, 1], "BYTES")
            i.set_shared_memory("text_in", len(data.item()))
            o = mod.InferRequestedOutput("embedding")
            o.set_shared_memory("text_out", 2 * 384 * 4)
            r = c.infer(TEXT, [i], outputs=[o])
            e = shm.get_contents_as_numpy(h["text_out"], np.float32, output_shape(r, "embedding"))
            plain = c.infer(TEXT, text_inputs(mod)).as_numpy("embedding")
            expect(np.allclose(e, plain, atol=1e-6), "embedding differs from the in-body answer")
            return f"BYTES input ({len(data.item())} bytes) and FP32 {list(e.shape)} output through regions"

        check(f"{tag} infer: BYTES input from a region, embedding into one", text, 60)

        def too_small():
            i = mod.InferInput("features", [2, 8], "FP32")
            i.set_shared_memory("in", ROWS.nbytes)
            o = mod.InferRequestedOutput("probabilities")
            o.set_shared_memory("out", 8)
            return refused(lambda: c.infer(FRAUD, [i], outputs=[o]), "should be at least 16 bytes")

        check(f"{tag} infer: an output region too small -> clean error", too_small)

        def unregister():
            c.unregister_system_shared_memory("in")
            i = mod.InferInput("features", [2, 8], "FP32")
            i.set_shared_memory("in", ROWS.nbytes)
            note = refused(lambda: c.infer(FRAUD, [i]), "Unable to find shared memory region: 'in'")
            c.unregister_system_shared_memory()
            s = c.get_system_shared_memory_status()
            expect(len(s.regions) == 0 if grpc else s == [], s)
            return note

        check(f"{tag} unregister_system_shared_memory (one, then all)", unregister)
    finally:
        try:
            c.unregister_system_shared_memory()
        except Exception:  # noqa: BLE001 - the checks above report it
            pass
        shm_destroy(h)
    check(f"{tag} get_cuda_shared_memory_status -> no region (Triton without GPUs)",
          lambda: expect(len(c.get_cuda_shared_memory_status().regions) == 0 if grpc
                         else c.get_cuda_shared_memory_status() == [], "regions"))
    check(f"{tag} register_cuda_shared_memory -> clean 'GPUs not supported'", lambda: refused(
        lambda: c.register_cuda_shared_memory("g0", b"\0" * 64, 0, 64), *CUDA_WORDS))
    check(f"{tag} unregister_cuda_shared_memory -> nothing to do", c.unregister_cuda_shared_memory)


def trace_settings(c, plain):
    """Triton's trace extension: read the settings, then change a model's and put it back (or, on a
    server without tracing, see the change refused). plain turns an answer into {name: value}."""
    def get(**kw):
        return plain(c.get_trace_settings(**kw, **({"as_json": True} if "grpc" in type(c).__module__ else {})))

    def update(**kw):
        return plain(c.update_trace_settings(**kw, **({"as_json": True} if "grpc" in type(c).__module__ else {})))

    s = get()
    expect(s["trace_mode"] in ("opentelemetry", ["opentelemetry"]), s)
    if s["trace_level"] == ["OFF"]:
        return "OFF; " + refused(lambda: update(model_name=FRAUD, settings={"trace_count": "5"}), "tracing is off")
    changed = update(model_name=FRAUD, settings={"trace_count": "5"})
    expect(changed["trace_count"] in ("5", ["5"]), changed)
    back = update(model_name=FRAUD, settings={"trace_count": None})
    expect(back["trace_count"] == s["trace_count"], back)
    refused(lambda: update(settings={"trace_rate": "often"}), "trace_rate must be an integer")
    return f"{s['trace_level']} rate {s['trace_rate']}; a model's trace_count set and put back"


def fraud_onnx(repository):
    with open(f"{repository}/{FRAUD}/1/model.onnx", "rb") as f:
        return f.read()


def pushed_config(cfg, name):
    """The fraud classifier's config (get_model_config's JSON) for a pushed copy named name: the
    labels file it names is not pushed (files go in version folders), so the outputs drop it."""
    cfg = dict(cfg)
    cfg["name"] = name
    cfg["output"] = [{k: v for k, v in o.items() if k != "label_filename"} for o in cfg["output"]]
    return json.dumps(cfg)


def log_settings(c, plain):
    """Triton's logging extension: read the settings, turn the verbose level to 1 and back, and see a
    change of log_file refused. plain turns an answer into {name: value}."""
    kw = {"as_json": True} if "grpc" in type(c).__module__ else {}
    s = plain(c.get_log_settings(**kw))
    expect(set(s) >= {"log_file", "log_info", "log_warning", "log_error", "log_verbose_level", "log_format"}, s)
    on = plain(c.update_log_settings({"log_verbose_level": 1}, **kw))
    expect(int(on["log_verbose_level"]) == 1, on)
    back = plain(c.update_log_settings({"log_verbose_level": int(s["log_verbose_level"])}, **kw))
    expect(int(back["log_verbose_level"]) == int(s["log_verbose_level"]), back)
    # what was read can be sent back whole (log_file and log_format unchanged)
    plain(c.update_log_settings({k: v for k, v in s.items()}, **kw))
    why = refused(lambda: c.update_log_settings({"log_file": "/tmp/elsewhere.log"}, **kw), "log_file")
    return f"verbose {s['log_verbose_level']} -> 1 -> back; log_file change refused: {why}"


def run_http(url, repository):
    c = httpclient.InferenceServerClient(url, network_timeout=20, connection_timeout=5, concurrency=4)
    check("http is_server_live", lambda: expect(c.is_server_live(), "not live"))
    check("http is_server_ready", lambda: expect(c.is_server_ready(), "not ready"))
    check("http is_model_ready", lambda: expect(c.is_model_ready(FRAUD) and c.is_model_ready(FRAUD, "1"), "not ready"))
    check("http is_model_ready(unknown) is False", lambda: expect(not c.is_model_ready("no_such_model"), "ready"))

    def server_metadata():
        m = c.get_server_metadata()
        expect("statistics" in m["extensions"] and "model_configuration" in m["extensions"], m)
        return f"{m['name']} {m['version']} {m['extensions']}"

    check("http get_server_metadata", server_metadata)

    def model_metadata():
        m = c.get_model_metadata(FRAUD)
        expect(m["inputs"][0]["shape"] == [-1, 8] and m["inputs"][0]["datatype"] == "FP32", m)
        m1 = c.get_model_metadata(FRAUD, "1")
        expect(m1["name"] == FRAUD, m1)

    check("http get_model_metadata", model_metadata)

    def model_config():
        m = c.get_model_config(FRAUD)
        expect(m["max_batch_size"] > 0 and m["input"][0]["data_type"] == "TYPE_FP32", m)
        expect("dynamic_batching" in m and m["instance_group"], m)
        return f"max_batch_size={m['max_batch_size']} instance_group={m['instance_group'][0]['kind']}x{m['instance_group'][0]['count']}"

    check("http get_model_config", model_config)
    check(
        "http get_model_config(unknown) -> error",
        lambda: refused(lambda: c.get_model_config("no_such_model"), "no_such_model", "unknown", "not found"),
    )

    def index():
        idx = c.get_model_repository_index()
        names = {m["name"] for m in idx}
        expect({FRAUD, MINILM, TEXT} <= names, idx)
        return f"{len(idx)} entries"

    check("http get_model_repository_index", index)

    def infer_json():
        r = c.infer(FRAUD, fraud_inputs(httpclient, binary=False), outputs=http_outputs(False))
        EXPECTED["p"] = r.as_numpy("probabilities")
        check_probabilities(r, "json")
        expect(r.get_response()["model_name"] == FRAUD, r.get_response())

    check("http infer binary_data off (JSON in, JSON out)", infer_json)
    check(
        "http infer binary_data on (binary in, binary out)",
        lambda: check_probabilities(c.infer(FRAUD, fraud_inputs(httpclient, True), outputs=http_outputs(True)), "binary"),
    )
    check(
        "http infer binary in, JSON out",
        lambda: check_probabilities(c.infer(FRAUD, fraud_inputs(httpclient, True), outputs=http_outputs(False)), "mixed"),
    )
    check(
        "http infer no outputs named (all, binary default)",
        lambda: check_probabilities(c.infer(FRAUD, fraud_inputs(httpclient, True)), "all"),
    )

    def one_output():
        r = c.infer(FRAUD, fraud_inputs(httpclient), outputs=[httpclient.InferRequestedOutput("label")])
        expect(r.as_numpy("probabilities") is None and r.as_numpy("label").shape == (2,), r.get_response())

    check("http infer one requested output", one_output)
    for k in (1, 2):
        for binary in (True, False):
            check(
                f"http infer class_count={k} binary_data={binary}",
                lambda k=k, b=binary: check_classes(c.infer(FRAUD, fraud_inputs(httpclient), outputs=http_outputs(b, k)), k),
            )
    for alg in ("gzip", "deflate"):
        check(
            f"http infer request_compression_algorithm={alg}",
            lambda a=alg: check_probabilities(c.infer(FRAUD, fraud_inputs(httpclient), request_compression_algorithm=a), a),
        )
        check(
            f"http infer response_compression_algorithm={alg}",
            lambda a=alg: check_probabilities(c.infer(FRAUD, fraud_inputs(httpclient), response_compression_algorithm=a), a),
        )

    def request_id_params():
        r = c.infer(
            FRAUD, fraud_inputs(httpclient), request_id="req-7", priority=1, timeout=5_000_000,
            headers={"x-team": "moving-off-triton"}, parameters={"team_tag": "a"},
        )
        expect(r.get_response().get("id") == "req-7", r.get_response())

    check("http infer request_id, priority, timeout, headers, parameters", request_id_params)

    def async_infer():
        reqs = [c.async_infer(FRAUD, fraud_inputs(httpclient)) for _ in range(8)]
        for q in reqs:
            check_probabilities(q.get_result(timeout=20), "async")

    check("http async_infer x8", async_infer)
    check("http infer all_minilm_l6_v2 INT64", lambda: expect(
        c.infer(MINILM, minilm_inputs(httpclient)).as_numpy("last_hidden_state").shape == (1, 4, 384), "shape"))
    check("http infer minilm_text BYTES (pipeline)", lambda: check_text(c.infer(TEXT, text_inputs(httpclient))))

    def bad_shape():
        return refused(lambda: c.infer(FRAUD, fraud_inputs(httpclient, rows=np.zeros((1, 7), np.float32))), "shape", "dims", "features")

    check("http infer wrong shape -> clean error", bad_shape)

    def stats():
        s = c.get_inference_statistics(FRAUD)
        m = s["model_stats"][0]
        expect(m["name"] == FRAUD and int(m["inference_stats"]["success"]["count"]) > 0, m)
        all_ = c.get_inference_statistics()
        expect(len(all_["model_stats"]) >= 3, all_)
        return f"success={m['inference_stats']['success']['count']} execution_count={m['execution_count']}"

    check("http get_inference_statistics", stats)

    def load_unload():
        c.unload_model(MINILM)
        expect(not c.is_model_ready(MINILM), "still ready after unload")
        c.load_model(MINILM)
        expect(c.is_model_ready(MINILM), "not ready after load")

    check("http unload_model/load_model", load_unload, 120)

    def load_config():
        cfg = c.get_model_config(FRAUD)
        cfg["max_batch_size"] = 16
        c.load_model(FRAUD, config=json.dumps(cfg))
        got = c.get_model_config(FRAUD)["max_batch_size"]
        expect(got == 16, f"max_batch_size after override {got}")
        # back to the repository's own file
        c.load_model(FRAUD)
        return f"Triton ModelConfig JSON override -> max_batch_size {got}, then reloaded from the repository"

    check("http load_model(config=<get_model_config JSON, edited>)", load_config, 120)

    def load_files():
        pushed = FRAUD + "_pushed_http"
        c.load_model(pushed, config=pushed_config(c.get_model_config(FRAUD), pushed), files={"file:1/model.onnx": fraud_onnx(repository)})
        check_probabilities(c.infer(pushed, fraud_inputs(httpclient)), pushed)
        c.unload_model(pushed)
        expect(not c.is_model_ready(pushed), "ready after unload")
        why = refused(lambda: c.load_model(pushed, config="{}", files={"file:../model.onnx": b"x"}), "version folder")
        return f"pushed {pushed} (base64 ONNX + Triton config JSON), answered, unloaded; '../' refused: {why}"

    check("http load_model(config=, files={'file:1/model.onnx'}) push, infer, unload", load_files, 120)
    check("http still serving after the load calls", lambda: check_probabilities(c.infer(FRAUD, fraud_inputs(httpclient)), "after"))
    shm_checks(c, httpclient, "http")
    check("http get_trace_settings / update_trace_settings", lambda: trace_settings(c, lambda s: s))
    check("http get_log_settings / update_log_settings", lambda: log_settings(c, lambda s: s))
    c.close()


def run_grpc(url, repository):
    c = grpcclient.InferenceServerClient(url)
    check("grpc is_server_live", lambda: expect(c.is_server_live(), "not live"))
    check("grpc is_server_ready", lambda: expect(c.is_server_ready(), "not ready"))
    check("grpc is_model_ready", lambda: expect(c.is_model_ready(FRAUD), "not ready"))
    check("grpc get_server_metadata", lambda: expect("statistics" in c.get_server_metadata().extensions, "no statistics"))
    check("grpc get_server_metadata(as_json)", lambda: expect("statistics" in c.get_server_metadata(as_json=True)["extensions"], "x"))
    check("grpc get_model_metadata", lambda: expect(list(c.get_model_metadata(FRAUD).inputs[0].shape) == [-1, 8], "shape"))
    check("grpc get_model_metadata(as_json)", lambda: expect(c.get_model_metadata(FRAUD, as_json=True)["inputs"][0]["shape"] == ["-1", "8"], "shape"))

    def config():
        m = c.get_model_config(FRAUD).config
        expect(m.max_batch_size > 0 and m.input[0].data_type == 11 and m.HasField("dynamic_batching"), m)
        j = c.get_model_config(FRAUD, as_json=True)["config"]
        expect(j["max_batch_size"] == m.max_batch_size, j)
        return f"max_batch_size={m.max_batch_size} instance_group={len(m.instance_group)}"

    check("grpc get_model_config (+ as_json)", config)
    check("grpc get_model_repository_index", lambda: expect(
        {FRAUD, MINILM, TEXT} <= {m.name for m in c.get_model_repository_index().models}, "names"))
    check("grpc get_model_repository_index(as_json)", lambda: expect(len(c.get_model_repository_index(as_json=True)["models"]) >= 3, "x"))

    def outputs(k=0):
        return [grpcclient.InferRequestedOutput("probabilities", class_count=k), grpcclient.InferRequestedOutput("label")]

    check("grpc infer", lambda: check_probabilities(c.infer(FRAUD, fraud_inputs(grpcclient), outputs=outputs()), "grpc"))
    check("grpc infer (all outputs)", lambda: check_probabilities(c.infer(FRAUD, fraud_inputs(grpcclient)), "grpc"))
    for k in (1, 2):
        check(f"grpc infer class_count={k}", lambda k=k: check_classes(c.infer(FRAUD, fraud_inputs(grpcclient), outputs=outputs(k)), k))
    for alg in ("gzip", "deflate"):
        check(f"grpc infer compression_algorithm={alg}", lambda a=alg: check_probabilities(
            c.infer(FRAUD, fraud_inputs(grpcclient), compression_algorithm=a), a))
    check("grpc infer client_timeout=10 s", lambda: check_probabilities(c.infer(FRAUD, fraud_inputs(grpcclient), client_timeout=10), "t"))

    def tiny_timeout():
        try:
            c.infer(FRAUD, fraud_inputs(grpcclient), client_timeout=0.000001)
        except InferenceServerException as e:
            expect("deadline" in str(e).lower(), str(e))
            return str(e)[:100]
        return "answered within 1 µs"

    check("grpc infer client_timeout=1 µs -> Deadline Exceeded", tiny_timeout)
    check("grpc still serving after the deadline", lambda: check_probabilities(c.infer(FRAUD, fraud_inputs(grpcclient)), "after"))

    def params():
        r = c.infer(FRAUD, fraud_inputs(grpcclient), request_id="g-7", priority=1, timeout=5_000_000,
                    headers={"x-team": "a"}, parameters={"team_tag": "a", "n": 3, "flag": True})
        expect(r.get_response().id == "g-7", r.get_response())

    check("grpc infer request_id, priority, timeout, headers, parameters", params)

    def async_infer():
        q = queue.Queue()
        for _ in range(8):
            c.async_infer(FRAUD, fraud_inputs(grpcclient), callback=lambda result, error: q.put((result, error)))
        for _ in range(8):
            r, e = q.get(timeout=20)
            expect(e is None, e)
            check_probabilities(r, "async")

    check("grpc async_infer x8", async_infer)

    def stream():
        q = queue.Queue()
        c.start_stream(callback=lambda result, error: q.put((result, error)))
        try:
            for n in range(8):
                c.async_stream_infer(FRAUD, fraud_inputs(grpcclient), request_id=f"s{n}")
            ids = set()
            for _ in range(8):
                r, e = q.get(timeout=20)
                expect(e is None, e)
                check_probabilities(r, "stream")
                ids.add(r.get_response().id)
            expect(ids == {f"s{n}" for n in range(8)}, ids)
            # an error inside the stream comes back on the callback, and the stream goes on
            c.async_stream_infer("no_such_model", fraud_inputs(grpcclient), request_id="bad")
            r, e = q.get(timeout=20)
            expect(e is not None and r is None, f"expected an error, got {r}")
            c.async_stream_infer(FRAUD, fraud_inputs(grpcclient), request_id="after")
            r, e = q.get(timeout=20)
            expect(e is None and r.get_response().id == "after", e)
        finally:
            c.stop_stream()
        return "8 requests + an error + 1 more on one stream"

    check("grpc start_stream/async_stream_infer/stop_stream", stream)

    def stream_compressed():
        q = queue.Queue()
        c.start_stream(callback=lambda result, error: q.put((result, error)), compression_algorithm="gzip")
        try:
            c.async_stream_infer(FRAUD, fraud_inputs(grpcclient), outputs=outputs(1))
            r, e = q.get(timeout=20)
            expect(e is None, e)
            check_classes(r, 1)
        finally:
            c.stop_stream()

    check("grpc stream gzip + class_count=1", stream_compressed)
    check("grpc infer all_minilm_l6_v2 INT64", lambda: expect(
        c.infer(MINILM, minilm_inputs(grpcclient)).as_numpy("last_hidden_state").shape == (1, 4, 384), "shape"))
    check("grpc infer minilm_text BYTES (pipeline)", lambda: check_text(c.infer(TEXT, text_inputs(grpcclient))))

    def stats():
        s = c.get_inference_statistics(FRAUD)
        expect(s.model_stats[0].inference_stats.success.count > 0, s)
        j = c.get_inference_statistics(FRAUD, as_json=True)
        expect(j["model_stats"][0]["name"] == FRAUD, j)

    check("grpc get_inference_statistics (+ as_json)", stats)

    def load_unload():
        c.unload_model(MINILM)
        expect(not c.is_model_ready(MINILM), "ready after unload")
        c.load_model(MINILM)
        expect(c.is_model_ready(MINILM), "not ready after load")

    check("grpc unload_model/load_model", load_unload, 120)

    def load_config():
        cfg = c.get_model_config(FRAUD, as_json=True)["config"]
        cfg["max_batch_size"] = 8
        c.load_model(FRAUD, config=json.dumps(cfg))
        got = c.get_model_config(FRAUD).config.max_batch_size
        expect(got == 8, f"max_batch_size {got}")
        c.load_model(FRAUD)
        return f"as_json config edited -> max_batch_size {got}"

    check("grpc load_model(config=<get_model_config(as_json) edited>)", load_config, 120)
    def load_files():
        pushed = FRAUD + "_pushed_grpc"
        cfg = pushed_config(c.get_model_config(FRAUD, as_json=True)["config"], pushed)
        c.load_model(pushed, config=cfg, files={"file:1/model.onnx": fraud_onnx(repository)})
        check_probabilities(c.infer(pushed, fraud_inputs(grpcclient)), pushed)
        c.unload_model(pushed)
        refused(lambda: c.infer(pushed, fraud_inputs(grpcclient)), "unknown model")
        why = refused(lambda: c.load_model(pushed, files={"file:1/model.onnx": b"x"}), "config")
        return f"pushed {pushed} (bytes_param ONNX + config), answered, unloaded; no config refused: {why}"

    check("grpc load_model(config=, files={'file:1/model.onnx'}) push, infer, unload", load_files, 120)
    shm_checks(c, grpcclient, "grpc")
    check("grpc get_trace_settings / update_trace_settings",
          lambda: trace_settings(c, lambda s: {k: v["value"] for k, v in s["settings"].items()}))
    check("grpc get_log_settings / update_log_settings",
          lambda: log_settings(c, lambda s: {k: next(iter(v.values())) for k, v in s["settings"].items()}))
    c.close()


async def run_http_aio(url):
    async with httpaio.InferenceServerClient(url) as c:
        async def go(name, coro_fn):
            try:
                note = await asyncio.wait_for(coro_fn(), 30)
                RESULTS.append((name, True))
                print(f"PASS {name}" + (f": {str(note)[:160]}" if isinstance(note, str) else ""), flush=True)
            except Exception as e:  # noqa: BLE001
                RESULTS.append((name, False))
                print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)

        async def health():
            expect(await c.is_server_live() and await c.is_server_ready() and await c.is_model_ready(FRAUD), "health")

        await go("http.aio is_server_live/ready, is_model_ready", health)

        async def meta():
            expect((await c.get_model_config(FRAUD))["max_batch_size"] > 0, "config")
            expect((await c.get_model_metadata(FRAUD))["name"] == FRAUD, "metadata")
            expect("statistics" in (await c.get_server_metadata())["extensions"], "server")
            expect(len(await c.get_model_repository_index()) >= 3, "index")

        await go("http.aio metadata, config, repository index", meta)

        async def infer():
            rs = await asyncio.gather(*[c.infer(FRAUD, fraud_inputs(httpaio, b), outputs=[
                httpaio.InferRequestedOutput("probabilities", binary_data=b), httpaio.InferRequestedOutput("label", binary_data=b)])
                for b in (True, False) * 4])
            for r in rs:
                check_probabilities(r, "aio")

        await go("http.aio infer x8 (binary on/off, concurrent)", infer)

        async def compressed():
            r = await c.infer(FRAUD, fraud_inputs(httpaio), request_compression_algorithm="gzip",
                              response_compression_algorithm="gzip")
            check_probabilities(r, "aio gzip")

        await go("http.aio infer gzip both ways", compressed)

        async def cls():
            r = await c.infer(FRAUD, fraud_inputs(httpaio), outputs=[httpaio.InferRequestedOutput("probabilities", class_count=2)])
            check_classes(r, 2)

        await go("http.aio infer class_count=2", cls)
        await go("http.aio get_inference_statistics", lambda: c.get_inference_statistics(FRAUD))
        async def aio_shm():
            h = shm_regions("httpaio", {"in": ROWS.nbytes})
            try:
                shm.set_shared_memory_region(h["in"], [ROWS])
                await c.register_system_shared_memory("in", "/tritonc_httpaio_in", ROWS.nbytes)
                expect([r["name"] for r in await c.get_system_shared_memory_status()] == ["in"], "status")
                i = httpaio.InferInput("features", [2, 8], "FP32")
                i.set_shared_memory("in", ROWS.nbytes)
                check_probabilities(await c.infer(FRAUD, [i]), "aio shm")
            finally:
                await c.unregister_system_shared_memory()
                shm_destroy(h)

        await go("http.aio register_system_shared_memory + infer from the region", aio_shm)


async def run_grpc_aio(url):
    async with grpcaio.InferenceServerClient(url) as c:
        async def go(name, coro_fn):
            try:
                note = await asyncio.wait_for(coro_fn(), 30)
                RESULTS.append((name, True))
                print(f"PASS {name}" + (f": {str(note)[:160]}" if isinstance(note, str) else ""), flush=True)
            except Exception as e:  # noqa: BLE001
                RESULTS.append((name, False))
                print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)

        async def health():
            expect(await c.is_server_live() and await c.is_server_ready() and await c.is_model_ready(FRAUD), "health")

        await go("grpc.aio is_server_live/ready, is_model_ready", health)

        async def meta():
            expect((await c.get_model_config(FRAUD)).config.max_batch_size > 0, "config")
            expect((await c.get_model_config(FRAUD, as_json=True))["config"]["name"] == FRAUD, "config json")
            expect((await c.get_model_metadata(FRAUD)).name == FRAUD, "metadata")
            expect(len((await c.get_model_repository_index()).models) >= 3, "index")

        await go("grpc.aio metadata, config (+as_json), repository index", meta)

        async def infer():
            rs = await asyncio.gather(*[c.infer(FRAUD, fraud_inputs(grpcaio), compression_algorithm=a)
                                        for a in (None, "gzip") * 4])
            for r in rs:
                check_probabilities(r, "aio")

        await go("grpc.aio infer x8 (plain and gzip, concurrent)", infer)

        async def stream():
            async def requests():
                for n in range(6):
                    yield {"model_name": FRAUD, "inputs": fraud_inputs(grpcaio), "request_id": f"a{n}"}

            ids = []
            async for result, error in c.stream_infer(requests()):
                expect(error is None, error)
                check_probabilities(result, "aio stream")
                ids.append(result.get_response().id)
            expect(sorted(ids) == [f"a{n}" for n in range(6)], ids)
            return f"{len(ids)} responses"

        await go("grpc.aio stream_infer x6", stream)

        async def timeout():
            try:
                await c.infer(FRAUD, fraud_inputs(grpcaio), client_timeout=0.000001)
            except InferenceServerException as e:
                expect("deadline" in str(e).lower(), str(e))
                return str(e)[:80]
            return "answered within 1 µs"

        await go("grpc.aio client_timeout=1 µs -> Deadline Exceeded", timeout)
        await go("grpc.aio get_inference_statistics", lambda: c.get_inference_statistics(FRAUD))
        async def aio_shm():
            h = shm_regions("grpcaio", {"in": ROWS.nbytes})
            try:
                shm.set_shared_memory_region(h["in"], [ROWS])
                await c.register_system_shared_memory("in", "/tritonc_grpcaio_in", ROWS.nbytes)
                expect(list((await c.get_system_shared_memory_status()).regions) == ["in"], "status")
                i = grpcaio.InferInput("features", [2, 8], "FP32")
                i.set_shared_memory("in", ROWS.nbytes)
                check_probabilities(await c.infer(FRAUD, [i]), "aio shm")
            finally:
                await c.unregister_system_shared_memory()
                shm_destroy(h)

        await go("grpc.aio register_system_shared_memory + infer from the region", aio_shm)


ACC = "accumulator"  # StatefulModels.main writes both into demo/stateful
ACC_STR = "accumulator_str"


def run_sequences(http_url, grpc_url):
    """Triton's sequence API (sequence_id/sequence_start/sequence_end) against the stateful
    accumulators: each request adds INPUT to its sequence's running sum, answered in OUTPUT."""
    clients = {"http": (httpclient, httpclient.InferenceServerClient(http_url)),
               "grpc": (grpcclient, grpcclient.InferenceServerClient(grpc_url))}

    def inputs(mod, value):
        i = mod.InferInput("INPUT", [1, 1], "FP32")
        i.set_data_from_numpy(np.array([[value]], dtype=np.float32))
        return [i]

    def total(result):
        return float(result.as_numpy("OUTPUT")[0][0])

    for tag, (mod, c) in clients.items():
        def config(c=c, tag=tag):
            if tag == "grpc":
                m = c.get_model_config(ACC).config
                expect(m.HasField("sequence_batching") and not m.HasField("dynamic_batching"), m)
                return f"{len(m.sequence_batching.control_input)} control inputs, {len(m.sequence_batching.state)} state"
            j = c.get_model_config(ACC)
            expect("sequence_batching" in j and "dynamic_batching" not in j, j)
            return "sequence_batching shown"

        check(f"{tag} get_model_config shows sequence_batching", config)

        for model, a, b in ((ACC, 1001, 1002), (ACC_STR, "user-a", "user-b")):
            kind = "string" if isinstance(a, str) else "numeric"

            def interleaved(mod=mod, c=c, model=model, a=a, b=b):
                steps = [(a, 1, True, False, 1), (b, 10, True, False, 10), (a, 2, False, False, 3),
                         (b, 20, False, False, 30), (a, 3, False, True, 6), (b, 30, False, True, 60)]
                for sid, value, start, end, want in steps:
                    got = total(c.infer(model, inputs(mod, value), sequence_id=sid,
                                        sequence_start=start, sequence_end=end))
                    expect(got == want, f"sequence {sid}: {got} != {want}")
                return "two interleaved sequences kept their own sums"

            check(f"{tag} infer sequence_id ({kind}) start/end, interleaved", interleaved)
            check(f"{tag} {kind} sequence after its end without sequence_start -> refused",
                  lambda mod=mod, c=c, model=model, a=a: refused(
                      lambda: c.infer(model, inputs(mod, 1), sequence_id=a), "START"))

        check(f"{tag} infer without sequence_id -> refused", lambda mod=mod, c=c: refused(
            lambda: c.infer(ACC, inputs(mod, 1)), "correlation ID"))
        check(f"{tag} string sequence_id to a numeric-id model -> refused", lambda mod=mod, c=c: refused(
            lambda: c.infer(ACC, inputs(mod, 1), sequence_id="x", sequence_start=True), "integer"))

    def stream():
        c = clients["grpc"][1]
        q = queue.Queue()
        c.start_stream(callback=lambda result, error: q.put((result, error)))
        try:
            for n, sid in enumerate([2001, "s-2001"]):
                model = ACC if n == 0 else ACC_STR
                for k in range(4):  # sent without waiting: the batcher runs them in order
                    c.async_stream_infer(model, inputs(grpcclient, k + 1), request_id=f"{sid}-{k}",
                                         sequence_id=sid, sequence_start=k == 0, sequence_end=k == 3)
                sums = []
                for _ in range(4):
                    r, e = q.get(timeout=20)
                    expect(e is None, e)
                    sums.append(total(r))
                expect(sums == [1, 3, 6, 10], f"{sid}: {sums}")
        finally:
            c.stop_stream()
        return "numeric and string sequences, 4 requests each sent at once, answered 1, 3, 6, 10"

    check("grpc async_stream_infer sequence_id/start/end", stream)

    def http_async():
        c = httpclient.InferenceServerClient(http_url, concurrency=4)
        c.infer(ACC, inputs(httpclient, 5), sequence_id=3001, sequence_start=True)
        pending = [c.async_infer(ACC, inputs(httpclient, 1), sequence_id=3001) for _ in range(4)]
        sums = sorted(total(p.get_result()) for p in pending)
        c.infer(ACC, inputs(httpclient, 0), sequence_id=3001, sequence_end=True)
        c.close()
        expect(sums == [6, 7, 8, 9], sums)
        return "4 concurrent requests of one sequence ran one at a time"

    check("http async_infer x4 in one sequence", http_async)


ACC_OLDEST = "accumulator_oldest"  # StatefulModels.main: a config.pbtxt, sequence_batching.oldest


def run_oldest(http_url, grpc_url):
    """Triton's oldest strategy from a config.pbtxt (4 candidate sequences, passes of 2 rows): four
    sequences open at once, twice the rows, each keeping its own sum, over HTTP and gRPC; a fifth
    sequence takes the slot one of them ends; get_model_config shows the strategy as Triton's."""
    clients = {"http": (httpclient, httpclient.InferenceServerClient(http_url)),
               "grpc": (grpcclient, grpcclient.InferenceServerClient(grpc_url))}

    def inputs(mod, value):
        i = mod.InferInput("INPUT", [1, 1], "FP32")
        i.set_data_from_numpy(np.array([[value]], dtype=np.float32))
        return [i]

    def total(result):
        return float(result.as_numpy("OUTPUT")[0][0])

    for n, (tag, (mod, c)) in enumerate(clients.items()):
        def config(c=c, tag=tag):
            if tag == "grpc":
                seq = c.get_model_config(ACC_OLDEST).config.sequence_batching
                expect(seq.HasField("oldest") and seq.oldest.max_candidate_sequences == 4, seq)
                return f"oldest max_candidate_sequences={seq.oldest.max_candidate_sequences}"
            seq = c.get_model_config(ACC_OLDEST)["sequence_batching"]
            expect("direct" not in seq and seq["oldest"]["max_candidate_sequences"] == 4, seq)
            return f"oldest max_candidate_sequences={seq['oldest']['max_candidate_sequences']}"

        check(f"{tag} get_model_config shows sequence_batching.oldest", config)

        def four_open(mod=mod, c=c, base=5000 + 100 * n):
            ids = [base + k for k in range(1, 5)]
            sums = dict.fromkeys(ids, 0.0)
            for step in range(3):  # all four open at once: the direct strategy would hold two
                for k, sid in enumerate(ids):
                    value = (k + 1) * 10 ** step
                    sums[sid] += value
                    got = total(c.infer(ACC_OLDEST, inputs(mod, value), sequence_id=sid,
                                        sequence_start=step == 0, sequence_end=step == 2 and k == 3))
                    expect(got == sums[sid], f"sequence {sid} step {step}: {got} != {sums[sid]}")
            fifth = base + 5  # takes the slot the last one's end freed
            got = total(c.infer(ACC_OLDEST, inputs(mod, 7), sequence_id=fifth,
                                sequence_start=True, sequence_end=True))
            expect(got == 7, f"sequence {fifth}: {got}")
            for sid in ids[:3]:
                got = total(c.infer(ACC_OLDEST, inputs(mod, 0), sequence_id=sid, sequence_end=True))
                expect(got == sums[sid], f"sequence {sid} end: {got} != {sums[sid]}")
            return "4 sequences open on 2 rows kept their own sums; a 5th took a freed slot"

        check(f"{tag} oldest strategy: 4 candidate sequences, interleaved", four_open)


ENSEMBLE = "scale_classify"  # EnsembleModels.main writes it into demo/ensemble


def run_ensemble(http_url, grpc_url):
    """A Triton ensemble (platform: ensemble): scale (RAW * 2 - 1) feeding classify (a linear
    classifier), loaded by its name alone (explicit mode loads its composing models with it)."""
    clients = {"http": (httpclient, httpclient.InferenceServerClient(http_url)),
               "grpc": (grpcclient, grpcclient.InferenceServerClient(grpc_url))}
    for tag, (mod, c) in clients.items():
        def infer(mod=mod, c=c):
            i = mod.InferInput("INPUT", [1, 4], "FP32")
            i.set_data_from_numpy(np.array([[0.5, 1, -1, 2]], dtype=np.float32))
            r = c.infer(ENSEMBLE, [i])
            scores = r.as_numpy("SCORES")
            expect(np.allclose(scores, [[4.5, 2.5, -1.5]]), scores)
            expect(int(r.as_numpy("LABEL")[0][0]) == 0, r.as_numpy("LABEL"))
            return f"SCORES {scores.tolist()}"

        check(f"{tag} infer ensemble {ENSEMBLE}", infer)

        def ready(c=c):
            expect(c.is_model_ready(ENSEMBLE) and c.is_model_ready("scale")
                   and c.is_model_ready("classify"), "not ready")
            return "the ensemble and its composing models are ready"

        check(f"{tag} is_model_ready ensemble and composing models", ready)

        def config(c=c, tag=tag):
            if tag == "grpc":
                m = c.get_model_config(ENSEMBLE).config
                expect(m.platform == "ensemble", m)
                return f"{[s.model_name for s in m.ensemble_scheduling.step]}"
            j = c.get_model_config(ENSEMBLE)
            expect(j["platform"] == "ensemble", j)
            return f"{[s['model_name'] for s in j['ensemble_scheduling']['step']]}"

        check(f"{tag} get_model_config shows ensemble_scheduling", config)

        def stats(c=c, tag=tag):
            for model in (ENSEMBLE, "scale", "classify"):
                if tag == "grpc":
                    n = c.get_inference_statistics(model).model_stats[0].inference_stats.success.count
                else:
                    n = c.get_inference_statistics(model)["model_stats"][0]["inference_stats"]["success"]["count"]
                expect(n >= 1, f"{model}: {n}")
            return "the ensemble and each composing model count the request"

        check(f"{tag} get_inference_statistics ensemble and composing models", stats)


def run_metrics(url):
    def scrape():
        text = urllib.request.urlopen(f"http://{url}/metrics", timeout=10).read().decode()
        needed = ["nv_inference_request_success", "nv_inference_count", "nv_inference_exec_count",
                  "nv_inference_request_duration_us", "nv_inference_queue_duration_us",
                  "nv_inference_compute_infer_duration_us"]
        missing = [n for n in needed if f"\n{n}{{" not in "\n" + text]
        expect(not missing, f"missing {missing}")
        return f"{len(needed)} nv_* model metrics present"

    check("metrics port /metrics has Triton's nv_inference_* counters", scrape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", default="127.0.0.1:8000")
    ap.add_argument("--grpc", default="127.0.0.1:8001")
    ap.add_argument("--metrics", default="127.0.0.1:8002")
    ap.add_argument("--repository", default="demo/models")
    ap.add_argument("--stateful", action="store_true",
                    help="also run the sequence cases (the server serves demo/stateful)")
    ap.add_argument("--oldest", action="store_true",
                    help="also run the oldest strategy's cases (the server serves accumulator_oldest)")
    ap.add_argument("--ensemble", action="store_true",
                    help="also run the ensemble cases (the server serves demo/ensemble)")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    run_http(a.http, a.repository)
    run_grpc(a.grpc, a.repository)
    asyncio.run(run_http_aio(a.http))
    asyncio.run(run_grpc_aio(a.grpc))
    run_metrics(a.metrics)
    if a.stateful:
        run_sequences(a.http, a.grpc)
    if a.oldest:
        run_oldest(a.http, a.grpc)
    if a.ensemble:
        run_ensemble(a.http, a.grpc)
    failed = [n for n, ok in RESULTS if not ok]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
