// Hand-written peer for bench/coldstart.sh: the demo models behind the Open Inference Protocol's
// REST JSON routes, written the way a competent Node user would (fastify + onnxruntime-node).
// Not part of Fulcrum; it exists to put Fulcrum's cold start and latency in context.
//   node server.js [--port 8100] [--models DIR]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ort = require('onnxruntime-node');
const fastify = require('fastify')({ logger: false, bodyLimit: 64 * 1024 * 1024 });

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const port = Number(opt('--port', '8100'));
const modelsDir = path.resolve(opt('--models', path.join(__dirname, '../../../demo/models')));

const TYPES = {
  FP32: ['float32', Float32Array],
  FP64: ['float64', Float64Array],
  INT32: ['int32', Int32Array],
  INT64: ['int64', BigInt64Array],
  BOOL: ['bool', Uint8Array],
};
const DATATYPE = { float32: 'FP32', float64: 'FP64', int32: 'INT32', int64: 'INT64', bool: 'BOOL' };

const sessions = new Map();
let ready = false;

function modelFile(dir) {
  // <model>/1/<file>.onnx: the first .onnx file of version 1.
  const v = path.join(dir, '1');
  const f = fs.readdirSync(v).find((n) => n.endsWith('.onnx'));
  return f && path.join(v, f);
}

function toTensor(input) {
  const t = TYPES[input.datatype];
  if (!t) throw new Error(`unsupported datatype ${input.datatype}`);
  const flat = input.data.flat(Infinity);
  const data = t[1] === BigInt64Array ? BigInt64Array.from(flat, BigInt) : t[1].from(flat);
  return new ort.Tensor(t[0], data, input.shape);
}

fastify.get('/v2/health/live', async () => ({}));
fastify.get('/v2/health/ready', async (req, reply) => reply.code(ready ? 200 : 503).send({}));

fastify.post('/v2/models/:model/infer', async (req, reply) => {
  const session = sessions.get(req.params.model);
  if (!session) return reply.code(404).send({ error: `unknown model '${req.params.model}'` });
  const body = typeof req.body === 'string' ? JSON.parse(req.body) : req.body;
  const feeds = {};
  try {
    for (const input of body.inputs) feeds[input.name] = toTensor(input);
  } catch (e) {
    return reply.code(400).send({ error: e.message });
  }
  const results = await session.run(feeds);
  const outputs = Object.entries(results).map(([name, t]) => ({
    name,
    datatype: DATATYPE[t.type] || t.type,
    shape: t.dims,
    data: t.type === 'int64' ? Array.from(t.data, Number) : Array.from(t.data),
  }));
  return { model_name: req.params.model, id: body.id, outputs };
});

// curl sends -d bodies as application/x-www-form-urlencoded: accept any body as JSON.
fastify.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
  try {
    done(null, JSON.parse(body));
  } catch (e) {
    e.statusCode = 400;
    done(e, undefined);
  }
});

async function main() {
  await fastify.listen({ host: '127.0.0.1', port });
  for (const name of fs.readdirSync(modelsDir).sort()) {
    const file = modelFile(path.join(modelsDir, name));
    if (file) sessions.set(name, await ort.InferenceSession.create(file));
  }
  ready = true;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
