// OpenAI's Node SDK (openai) and LangChain.js's OpenAIEmbeddings (@langchain/openai), unchanged,
// against a running Fulcrum's /v1/embeddings with the demo's minilm_text; every vector compared
// with v2/models/minilm_text/infer's. One PASS/FAIL line per check, then the counts; exit 1 on a
// FAIL. Run by bench/openai_client.sh when npm can install the two packages:
//   node bench/openai_client.mjs <host:port> <token>   (with NODE_PATH at their node_modules)
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH || ".", "x.js"));
const OpenAI = require("openai").default ?? require("openai");
const [hostPort, token = "x"] = process.argv.slice(2);
const base = `http://${hostPort}`;
const TEXTS = [
  "hello world",
  "The quick brown fox jumps over the lazy dog.",
  "Sentence embeddings map text to vectors, one definition for serving and training.",
  "Ok",
];
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

async function oip(text) {
  const r = await fetch(`${base}/v2/models/minilm_text/infer`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      inputs: [{ name: "text", shape: [1, 1], datatype: "BYTES", data: [text] }],
    }),
  });
  return (await r.json()).outputs[0].data.map(Math.fround);
}

function same(a, b, what) {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} values, expected ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(Math.fround(a[i]) - b[i]));
  if (worst > 1e-6) throw new Error(`${what}: differs by ${worst}`);
  return worst;
}

const reference = {};
for (const t of TEXTS) reference[t] = await oip(t);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: token, maxRetries: 0 });
const version = JSON.parse(fs.readFileSync(path.join(process.env.NODE_PATH || ".", "openai", "package.json"))).version;
console.log(`openai (node) ${version}`);

await check("node: embeddings, the SDK's default encoding", async () => {
  const r = await client.embeddings.create({ model: "minilm_text", input: TEXTS });
  let worst = 0;
  r.data.forEach((d, i) => (worst = Math.max(worst, same(d.embedding, reference[TEXTS[i]], TEXTS[i]))));
  return `${r.data.length} x ${r.data[0].embedding.length}, max |diff| ${worst}, usage ${JSON.stringify(r.usage)}`;
});
await check("node: embeddings float", async () => {
  const r = await client.embeddings.create({ model: "minilm_text", input: "hello world", encoding_format: "float" });
  same(r.data[0].embedding, reference["hello world"], "hello world");
  if (r.usage.prompt_tokens !== 4) throw new Error(JSON.stringify(r.usage));
  return `usage ${JSON.stringify(r.usage)}`;
});
await check("node: models.list", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  if (ids.join() !== "minilm_text") throw new Error(ids.join());
  return ids.join();
});
await check("node: unknown model is NotFoundError", async () => {
  try {
    await client.embeddings.create({ model: "nope", input: "hi" });
  } catch (e) {
    if (e instanceof OpenAI.NotFoundError) return `${e.status} ${e.message}`.slice(0, 150);
    throw e;
  }
  throw new Error("no error");
});

let lc;
try {
  lc = require("@langchain/openai");
} catch {
  console.log("SKIP @langchain/openai: not installed");
}
if (lc) {
  await check("langchain.js OpenAIEmbeddings, its defaults", async () => {
    const e = new lc.OpenAIEmbeddings({
      model: "minilm_text",
      apiKey: token,
      configuration: { baseURL: `${base}/v1` },
      maxRetries: 0,
    });
    const docs = await e.embedDocuments(TEXTS);
    docs.forEach((v, i) => same(v, reference[TEXTS[i]], TEXTS[i]));
    same(await e.embedQuery("hello world"), reference["hello world"], "query");
    return "embedDocuments and embedQuery";
  });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
