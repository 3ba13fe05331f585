"""OpenAI's own Python SDK (and LangChain's OpenAIEmbeddings when it is installed), unchanged,
against a running Fulcrum's /v1/embeddings with the demo's minilm_text: what a team that calls
OpenAI, TEI or Infinity for embeddings does after pointing base_url at Fulcrum. One PASS/FAIL line
per check; every vector is compared with the one v2/models/minilm_text/infer gives the same text.
Exit status 1 when a check FAILs.
  python bench/openai_client.py --http 127.0.0.1:18100 --token <inference token>"""

import argparse
import base64
import json
import math
import struct
import sys
import traceback
import urllib.request

import openai

TEXTS = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Sentence embeddings map text to vectors, one definition for serving and training.",
    "Ok",
]

failed = 0
passed = 0


def check(name, fn):
    global failed, passed
    try:
        note = fn()
        passed += 1
        print(f"PASS {name}" + (f": {str(note)[:200]}" if note else ""), flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported, none ends the run
        failed += 1
        print(f"FAIL {name}: {type(e).__name__}: {str(e)[:300]}", flush=True)
        traceback.print_exc(limit=2, file=sys.stderr)


def oip(base, token, text):
    """The vector v2/models/minilm_text/infer gives a text (the reference)."""
    body = {"inputs": [{"name": "text", "shape": [1, 1], "datatype": "BYTES", "data": [text]}]}
    req = urllib.request.Request(
        f"{base}/v2/models/minilm_text/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        out = json.load(r)["outputs"][0]
    return out["data"]


def same(a, b, what):
    assert len(a) == len(b), f"{what}: {len(a)} values, expected {len(b)}"
    worst = max(abs(x - y) for x, y in zip(a, b))
    assert worst <= 1e-6, f"{what}: differs by {worst}"
    return worst


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--http", required=True)
    p.add_argument("--token", default="x")
    a = p.parse_args()
    base = f"http://{a.http}"
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=a.token, max_retries=0)
    reference = {t: oip(base, a.token, t) for t in TEXTS}
    print(f"openai {openai.__version__}", flush=True)

    def float_list():
        r = client.embeddings.create(model="minilm_text", input=TEXTS, encoding_format="float")
        assert r.object == "list" and r.model == "minilm_text", r
        assert [d.index for d in r.data] == list(range(len(TEXTS)))
        worst = max(same(d.embedding, reference[t], t) for d, t in zip(r.data, TEXTS))
        return f"{len(r.data)} x {len(r.data[0].embedding)}, max |diff| vs OIP {worst:.1e}, usage {r.usage}"

    def sdk_default():
        # No encoding_format: the SDK asks for base64 itself and decodes it to floats.
        r = client.embeddings.create(model="minilm_text", input=TEXTS)
        assert isinstance(r.data[0].embedding, list), type(r.data[0].embedding)
        worst = max(same(d.embedding, reference[t], t) for d, t in zip(r.data, TEXTS))
        return f"decoded by the SDK, max |diff| vs OIP {worst:.1e}"

    def explicit_base64():
        r = client.embeddings.create(model="minilm_text", input=TEXTS, encoding_format="base64")
        s = r.data[0].embedding
        assert isinstance(s, str), type(s)
        raw = base64.b64decode(s)
        v = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        return f"{len(raw)} bytes, max |diff| vs OIP {same(v, reference[TEXTS[0]], 'base64'):.1e}"

    def single_string():
        r = client.embeddings.create(model="minilm_text", input="hello world")
        assert len(r.data) == 1
        same(r.data[0].embedding, reference["hello world"], "hello world")
        assert r.usage.prompt_tokens == 4 and r.usage.total_tokens == 4, r.usage
        return f"usage {r.usage}"

    def long_list():
        texts = [f"{TEXTS[i % len(TEXTS)]} #{i}" for i in range(100)]
        r = client.embeddings.create(model="minilm_text", input=texts, encoding_format="float")
        assert [d.index for d in r.data] == list(range(100))
        for i in (0, 16, 99):
            same(r.data[i].embedding, oip(base, a.token, texts[i]), texts[i])
        return f"100 texts (max-batch-size 16), usage {r.usage}"

    def dimensions():
        r = client.embeddings.create(model="minilm_text", input="hello world", dimensions=128)
        v = r.data[0].embedding
        assert len(v) == 128, len(v)
        norm = math.sqrt(sum(x * x for x in v))
        assert abs(norm - 1) < 1e-5, norm
        return f"128 values, norm {norm:.6f}"

    def models():
        ids = [m.id for m in client.models.list()]
        assert ids == ["minilm_text"], ids
        m = client.models.retrieve("minilm_text")
        return f"list {ids}, retrieve {m.id} owned_by {m.owned_by}"

    def expect(error_type, fn):
        try:
            fn()
        except error_type as e:
            return f"{type(e).__name__} {e.status_code}: {e.message[:140]}"
        raise AssertionError(f"no {error_type.__name__}")

    def aio():
        import asyncio

        async def run():
            c = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=a.token, max_retries=0)
            r = await asyncio.gather(
                *[c.embeddings.create(model="minilm_text", input=t) for t in TEXTS]
            )
            for x, t in zip(r, TEXTS):
                same(x.data[0].embedding, reference[t], t)
            await c.close()

        asyncio.run(run())
        return f"{len(TEXTS)} concurrent requests"

    check("embeddings float, a list", float_list)
    check("embeddings, the SDK's default encoding", sdk_default)
    check("embeddings base64", explicit_base64)
    check("embeddings, one string, usage", single_string)
    check("embeddings, 100 texts in one request", long_list)
    check("embeddings dimensions=128", dimensions)
    check("models list and retrieve", models)
    check("AsyncOpenAI", aio)
    check(
        "unknown model: NotFoundError",
        lambda: expect(
            openai.NotFoundError, lambda: client.embeddings.create(model="nope", input="hi")
        ),
    )
    check(
        "empty string: BadRequestError",
        lambda: expect(
            openai.BadRequestError, lambda: client.embeddings.create(model="minilm_text", input="")
        ),
    )
    check(
        "token ids: BadRequestError",
        lambda: expect(
            openai.BadRequestError,
            lambda: client.embeddings.create(model="minilm_text", input=[[15339, 1917]]),
        ),
    )
    if a.token != "x":
        bad = openai.OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0)
        check(
            "wrong api_key: AuthenticationError",
            lambda: expect(
                openai.AuthenticationError,
                lambda: bad.embeddings.create(model="minilm_text", input="hi"),
            ),
        )

    try:
        from langchain_openai import OpenAIEmbeddings
    except ImportError as e:
        print(f"SKIP langchain-openai: cannot be imported ({e})", flush=True)
    else:

        def langchain_text():
            e = OpenAIEmbeddings(
                model="minilm_text",
                base_url=f"{base}/v1",
                api_key=a.token,
                check_embedding_ctx_length=False,
                max_retries=0,
            )
            docs = e.embed_documents(TEXTS)
            for v, t in zip(docs, TEXTS):
                same(v, reference[t], t)
            same(e.embed_query("hello world"), reference["hello world"], "query")
            return "check_embedding_ctx_length=False: embed_documents and embed_query"

        def langchain_default():
            # The default (check_embedding_ctx_length=True) tokenizes with tiktoken and sends ids.
            e = OpenAIEmbeddings(
                model="minilm_text", base_url=f"{base}/v1", api_key=a.token, max_retries=0
            )
            try:
                e.embed_documents(TEXTS[:1])
            except openai.BadRequestError as x:
                assert "check_embedding_ctx_length=False" in x.message, x.message
                return f"refused as expected: {x.message[:120]}"
            except Exception as x:  # noqa: BLE001 - tiktoken's file may be out of reach offline
                return f"did not reach the server ({type(x).__name__}: {str(x)[:100]})"
            raise AssertionError("token ids were embedded")

        check("langchain OpenAIEmbeddings, text", langchain_text)
        check("langchain OpenAIEmbeddings, its default (token ids)", langchain_default)

    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
