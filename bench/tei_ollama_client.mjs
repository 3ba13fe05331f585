// Ollama's JS client (ollama: new Ollama({host}).embed / .embeddings / .list / .version) and
// Hugging Face's (@huggingface/inference: featureExtraction and sentenceSimilarity with an
// endpointUrl on Fulcrum's TEI routes), unchanged, against a running Fulcrum with the demo's
// minilm_text; every vector compared with /v1/embeddings' for the same text (within 1e-6). TEI's
// GET /info, POST /embed's truncate, and the errors of each API read with plain fetch (no client
// method for them). One PASS/FAIL line per check, then the counts; exit 1 on a FAIL. Run by
// bench/tei_ollama_client.sh:
//   node bench/tei_ollama_client.mjs <host:port> <token>   (with NODE_PATH at their node_modules)
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const modules = process.env.NODE_PATH || ".";
const require = createRequire(path.join(modules, "x.js"));
const { Ollama } = require("ollama");
const hf = require("@huggingface/inference");
const [hostPort, token = "x"] = process.argv.slice(2);
const base = `http://${hostPort}`;
const auth = { Authorization: `Bearer ${token}` };
const TEXTS = [
  "hello world",
  "The quick brown fox jumps over the lazy dog.",
  "Sentence embeddings map text to vectors, one definition for serving and training.",
  "Ok",
];
const LONG = Array(200).fill("word").join(" "); // over minilm_text's 128 tokens
let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    const note = await fn();
    passed++;
    console.log(`PASS ${name}${note ? ": " + String(note).slice(0, 200) : ""}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e?.constructor?.name}: ${String(e?.message ?? e).slice(0, 300)}`);
  }
}

async function post(route, body) {
  const r = await fetch(`${base}${route}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...auth },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

async function openAi(texts) {
  const r = await post("/v1/embeddings", { model: "minilm_text", input: texts });
  if (r.status !== 200) throw new Error(`/v1/embeddings: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data.map((d) => d.embedding.map(Math.fround));
}

function same(a, b, what) {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} vectors, expected ${b.length}`);
  let worst = 0;
  for (let v = 0; v < a.length; v++) {
    if (a[v].length !== b[v].length) throw new Error(`${what}[${v}]: ${a[v].length} values`);
    for (let i = 0; i < a[v].length; i++) worst = Math.max(worst, Math.abs(Math.fround(a[v][i]) - b[v][i]));
  }
  if (worst > 1e-6) throw new Error(`${what}: differs by ${worst}`);
  return `${a.length} vectors, max |diff| ${worst}`;
}

function expectStatus(r, status, shape) {
  if (r.status !== status) throw new Error(`status ${r.status}, expected ${status}: ${JSON.stringify(r.body)}`);
  for (const k of shape) if (!(k in r.body)) throw new Error(`no '${k}' in ${JSON.stringify(r.body)}`);
  return `${r.status} ${JSON.stringify(r.body).slice(0, 120)}`;
}

const version = (p) => JSON.parse(fs.readFileSync(path.join(modules, p, "package.json"))).version;
console.log(`ollama (js) ${version("ollama")}, @huggingface/inference ${version("@huggingface/inference")}`);
const reference = await openAi(TEXTS);

// ---- Ollama's client ---------------------------------------------------------------------
const ollama = new Ollama({ host: base, headers: auth });

await check("ollama: embed, a list", async () => {
  const r = await ollama.embed({ model: "minilm_text", input: TEXTS });
  if (r.model !== "minilm_text:latest") throw new Error(`model ${r.model}`);
  if (!(r.total_duration > 0) || !(r.prompt_eval_count > 0)) throw new Error(JSON.stringify({ ...r, embeddings: "..." }));
  return same(r.embeddings, reference, "embed");
});
await check("ollama: embed, one string, the :latest tag", async () => {
  const r = await ollama.embed({ model: "minilm_text:latest", input: TEXTS[1] });
  return same(r.embeddings, [reference[1]], "embed");
});
await check("ollama: embed, dimensions cut and rescaled", async () => {
  const r = await ollama.embed({ model: "minilm_text", input: TEXTS[0], dimensions: 8 });
  const v = r.embeddings[0];
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  if (v.length !== 8 || Math.abs(norm - 1) > 1e-5) throw new Error(`${v.length} values, norm ${norm}`);
  return `8 values, norm ${norm}`;
});
await check("ollama: embeddings (legacy), one prompt", async () => {
  const r = await ollama.embeddings({ model: "minilm_text", prompt: TEXTS[2] });
  return same([r.embedding], [reference[2]], "embeddings");
});
await check("ollama: list names the text pipelines", async () => {
  const r = await ollama.list();
  const names = r.models.map((m) => m.name);
  if (!names.includes("minilm_text:latest")) throw new Error(JSON.stringify(names));
  return names.join(", ");
});
await check("ollama: version", async () => {
  const r = await ollama.version();
  if (!r.version) throw new Error(JSON.stringify(r));
  return r.version;
});
await check("ollama: an unknown model is the client's ResponseError 404", async () => {
  try {
    await ollama.embed({ model: "no_such_model", input: "a" });
  } catch (e) {
    if (e.name === "ResponseError" && e.status_code === 404) return e.message;
    throw e;
  }
  throw new Error("no error");
});
await check("ollama: an empty input is a 400", async () => {
  try {
    await ollama.embed({ model: "minilm_text", input: [] });
  } catch (e) {
    if (e.name === "ResponseError" && e.status_code === 400) return e.message;
    throw e;
  }
  throw new Error("no error");
});
await check("ollama: truncate false refuses an over-long text", async () => {
  try {
    await ollama.embed({ model: "minilm_text", input: LONG, truncate: false });
  } catch (e) {
    if (e.name === "ResponseError" && e.status_code === 413) return e.message;
    throw e;
  }
  throw new Error("no error");
});

// ---- Hugging Face's client on TEI's routes ----------------------------------------------
const client = new hf.InferenceClient(token);

await check("hf: featureExtraction on /embed, a list", async () => {
  const r = await client.featureExtraction({ endpointUrl: `${base}/embed`, inputs: TEXTS });
  return same(r, reference, "featureExtraction");
});
await check("hf: featureExtraction on /embed, one string, normalize", async () => {
  const r = await client.featureExtraction({ endpointUrl: `${base}/embed`, inputs: TEXTS[3], normalize: true });
  return same(r, [reference[3]], "featureExtraction");
});
await check("hf: featureExtraction, truncate true cuts an over-long text", async () => {
  const r = await client.featureExtraction({ endpointUrl: `${base}/embed`, inputs: LONG, truncate: true });
  return same(r, await openAi([LONG]), "featureExtraction");
});
await check("hf: sentenceSimilarity on /similarity", async () => {
  const r = await client.sentenceSimilarity({
    endpointUrl: `${base}/similarity`,
    inputs: { source_sentence: TEXTS[0], sentences: TEXTS.slice(1) },
  });
  const want = reference.slice(1).map((v) => v.reduce((s, x, i) => s + x * reference[0][i], 0));
  const worst = Math.max(...r.map((s, i) => Math.abs(s - want[i])));
  if (r.length !== want.length || worst > 1e-5) throw new Error(`${JSON.stringify(r)} vs ${JSON.stringify(want)}`);
  return `${r.length} scores, max |diff| ${worst}`;
});
await check("hf: an over-long text without truncate is the client's error (TEI's 413)", async () => {
  try {
    await client.featureExtraction({ endpointUrl: `${base}/embed`, inputs: LONG });
  } catch (e) {
    const status = e.response?.status ?? e.httpResponse?.status;
    return `${e.name} ${status ?? ""}: ${e.message}`;
  }
  throw new Error("no error");
});

// ---- TEI's other routes and errors, plain fetch ----------------------------------------
await check("tei: GET /info", async () => {
  const r = await fetch(`${base}/info`, { headers: auth });
  const info = await r.json();
  if (r.status !== 200 || info.model_id !== "minilm_text") throw new Error(JSON.stringify(info));
  return JSON.stringify(info).slice(0, 160);
});
await check("tei: truncate false over-long is 413 Validation", async () =>
  expectStatus(await post("/embed", { inputs: LONG, truncate: false }), 413, ["error", "error_type"]));
await check("tei: too many inputs is 413", async () =>
  expectStatus(await post("/embed", { inputs: Array(2049).fill("a") }), 413, ["error", "error_type"]));
await check("tei: empty inputs is 422", async () =>
  expectStatus(await post("/embed", { inputs: [] }), 422, ["error", "error_type"]));
await check("tei: a wrong type is 422", async () =>
  expectStatus(await post("/embed", { inputs: 7 }), 422, ["error", "error_type"]));
await check("tei: /embed_all is refused, saying why", async () =>
  expectStatus(await post("/embed_all", { inputs: "a" }), 501, ["error", "error_type"]));
await check("ollama: a bad body is 400 {error}", async () =>
  expectStatus(await post("/api/embed", { model: "minilm_text", input: 7 }), 400, ["error"]));

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
