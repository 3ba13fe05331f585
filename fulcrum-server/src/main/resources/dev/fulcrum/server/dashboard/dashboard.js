// Fulcrum's dashboard page: reads /dashboard/events (server-sent events, one JSON frame a second)
// with fetch(), so that a bearer token can travel in the Authorization header (never in the URL),
// keeps the frames' series per model version and draws them with uPlot. Read-only.
(function () {
  'use strict';

  var BUCKETS = ['1', '2', '3–4', '5–8', '9–16', '17–32', '33–64', '65–128', '129–256', '257+'];
  var COLUMNS = ['rps', 'ips', 'p50', 'p95', 'p99', 'queueMs', 'computeMs', 'rejected', 'timedOut',
    'failed', 'cancelled', 'pending', 'util', 'batchMean', 'sloRefused'];
  var COLORS = ['#2563eb', '#0891b2', '#7c3aed', '#db2777', '#ea580c'];
  var RANK = { bad: 0, warn: 1, ok: 2 };
  var SHOWN_FEATURES = 6; // drift rows in a panel; the rest are counted

  var token = null;
  var windowSeconds = 60;
  var historySeconds = 300;
  var models = new Map();
  var server = { t: [], cpu: [], heapMb: [], gcMsPerS: [], info: null, charts: null };
  var stats = { frames: 0, lastFrameAt: 0, lags: [] };
  window.fulcrumDashboard = stats;

  var $ = function (id) { return document.getElementById(id); };

  function fmt(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) { return '–'; }
    var d = digits === undefined ? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2) : digits;
    return x.toFixed(d);
  }

  function rate(x) {
    return x === 0 ? '0' : fmt(x, 1);
  }

  function last(arr) {
    for (var i = arr.length - 1; i >= 0; i--) {
      if (arr[i] !== null && arr[i] !== undefined) { return arr[i]; }
    }
    return null;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  // ---- the stream ---------------------------------------------------------------------------

  function setConnected(on, text) {
    var c = $('conn');
    c.className = 'conn ' + (on ? 'on' : 'off');
    c.textContent = text;
  }

  function connect() {
    var headers = { Accept: 'text/event-stream' };
    if (token) { headers.Authorization = 'Bearer ' + token; }
    fetch('/dashboard/events', { headers: headers, cache: 'no-store' })
      .then(function (resp) {
        if (resp.status === 401 || resp.status === 403) {
          askToken(resp.status === 403 ? 'That token may not read this server.' : null);
          return null;
        }
        if (!resp.ok || !resp.body) { throw new Error('HTTP ' + resp.status); }
        setConnected(true, 'live');
        return read(resp.body.getReader()).then(retry);
      })
      .catch(function (e) {
        console.warn('dashboard stream:', e && e.message ? e.message : e);
        retry();
      });
  }

  function retry() {
    setConnected(false, 'reconnecting…');
    setTimeout(connect, 2000);
  }

  function read(reader) {
    var decoder = new TextDecoder();
    var buffer = '';
    function pump() {
      return reader.read().then(function (r) {
        if (r.done) { return; }
        buffer += decoder.decode(r.value, { stream: true });
        var end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          var event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          var data = event.split('\n').filter(function (l) { return l.indexOf('data:') === 0; })
            .map(function (l) { return l.slice(5).replace(/^ /, ''); }).join('\n');
          if (data) { handle(JSON.parse(data)); }
        }
        return pump();
      });
    }
    return pump();
  }

  function askToken(message) {
    setConnected(false, 'token needed');
    var form = $('token-form');
    form.hidden = false;
    if (message) { form.querySelector('p').textContent = message; }
    $('token').focus();
  }

  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    token = $('token').value.trim() || null;
    $('token').value = '';
    $('token-form').hidden = true;
    connect();
  });

  $('window').addEventListener('change', function () {
    windowSeconds = parseInt($('window').value, 10);
    renderAll();
  });

  window.addEventListener('resize', function () {
    models.forEach(function (m) { sizeCharts(m.charts); });
    if (server.charts) { sizeCharts(server.charts); }
  });

  // ---- frames -------------------------------------------------------------------------------

  function append(store, series, names, full) {
    names.forEach(function (n) {
      var values = series[n] || [];
      store[n] = full ? values.slice() : (store[n] || []).concat(values);
    });
    var t = store.t;
    var keepFrom = 0;
    var newest = t.length ? t[t.length - 1] : 0;
    while (keepFrom < t.length && t[keepFrom] < newest - historySeconds * 1000) { keepFrom++; }
    if (keepFrom > 0) {
      names.forEach(function (n) { store[n] = store[n].slice(keepFrom); });
    }
  }

  function handle(frame) {
    var full = frame.kind === 'history';
    historySeconds = frame.historySeconds || historySeconds;
    append(server, frame.server, ['t', 'cpu', 'heapMb', 'gcMsPerS'], full);
    server.info = frame.server;
    var seen = new Set();
    frame.models.forEach(function (m) {
      var key = m.model + '/' + m.version;
      seen.add(key);
      var entry = models.get(key);
      if (!entry) {
        entry = createModel(key, m);
        models.set(key, entry);
      }
      entry.info = m;
      if (m.series) {
        append(entry.store, m.series, ['t'].concat(COLUMNS).concat(['batch']), full || !entry.store.t);
      } else {
        entry.store = {};
      }
    });
    models.forEach(function (entry, key) {
      if (!seen.has(key)) {
        entry.root.remove();
        models.delete(key);
      }
    });
    renderAll();
    stats.frames++;
    stats.lastFrameAt = Date.now();
    stats.lags.push(stats.lastFrameAt - frame.now);
    if (stats.lags.length > 60) { stats.lags.shift(); }
  }

  setInterval(function () {
    if (stats.lastFrameAt) {
      $('age').textContent = 'updated ' + fmt((Date.now() - stats.lastFrameAt) / 1000, 0) + ' s ago';
    }
  }, 1000);

  // ---- layout -------------------------------------------------------------------------------

  var PANELS = [
    ['throughput', 'Throughput'],
    ['latency', 'Latency (ms)'],
    ['queue-compute', 'Queue vs compute (ms)'],
    ['errors', 'Errors by reason (/s)'],
    ['instances', 'Instances · utilization'],
    ['batch', 'Formed batch sizes'],
    ['slo', 'SLO · $ per 1M'],
    ['drift', 'Drift per feature'],
    ['lifecycle', 'Lifecycle'],
    ['pending', 'Pending requests']
  ];

  function createModel(key, m) {
    var root = el('section', 'model');
    root.dataset.key = key;
    var head = el('div', 'head');
    head.appendChild(el('h2', null, m.model + ' v' + m.version));
    var badge = el('span', 'badge');
    head.appendChild(badge);
    var verdict = el('span', 'verdict');
    head.appendChild(verdict);
    root.appendChild(head);
    var grid = el('div', 'grid');
    var panels = {};
    PANELS.forEach(function (p) {
      var panel = el('div', 'panel');
      panel.dataset.panel = p[0];
      panel.appendChild(el('h3', null, p[1]));
      var now = el('div', 'now', '–');
      panel.appendChild(now);
      var body = el('div', 'body');
      panel.appendChild(body);
      grid.appendChild(panel);
      panels[p[0]] = { panel: panel, now: now, body: body };
    });
    root.appendChild(grid);
    $('models').appendChild(root);
    return { root: root, badge: badge, verdict: verdict, panels: panels, store: {}, charts: {}, info: m };
  }

  function sizeCharts(charts) {
    Object.keys(charts).forEach(function (k) {
      var c = charts[k];
      c.plot.setSize({ width: Math.max(100, c.host.clientWidth), height: c.height });
    });
  }

  function chart(charts, name, host, labels, height, extra) {
    var existing = charts[name];
    if (existing && existing.labels === labels.join()) { return existing.plot; }
    if (existing) { existing.plot.destroy(); }
    host.textContent = '';
    var series = [{}].concat(labels.map(function (l, i) {
      var s = { label: l, stroke: COLORS[i % COLORS.length], width: 1.5, points: { show: false } };
      if (extra && extra.dash && extra.dash[i]) { s.dash = [4, 3]; }
      return s;
    }));
    var axisFont = '10px system-ui, sans-serif';
    var opts = {
      width: Math.max(100, host.clientWidth),
      height: height,
      legend: { show: false },
      cursor: { show: false },
      series: series,
      scales: {
        x: { time: true },
        y: { range: function (u, min, max) { return [0, Math.max(max || 0, (extra && extra.floor) || 1) * 1.12]; } }
      },
      axes: [
        { show: !(extra && extra.spark), size: 18, font: axisFont, ticks: { size: 2 }, grid: { stroke: '#eef0f3' } },
        { show: !(extra && extra.spark), size: 34, font: axisFont, ticks: { size: 2 }, grid: { stroke: '#eef0f3' } }
      ]
    };
    var empty = [[]].concat(labels.map(function () { return []; }));
    var plot = new uPlot(opts, empty, host);
    charts[name] = { plot: plot, host: host, height: height, labels: labels.join() };
    return plot;
  }

  function windowStart(t) {
    if (!t || !t.length) { return 0; }
    var from = t[t.length - 1] - windowSeconds * 1000;
    var i = 0;
    while (i < t.length && t[i] < from) { i++; }
    return i;
  }

  function slice(store, names, from, scale) {
    var xs = store.t.slice(from).map(function (t) { return t / 1000; });
    return [xs].concat(names.map(function (n) {
      return (store[n] || []).slice(from).map(function (v) { return v === null ? null : v * (scale || 1); });
    }));
  }

  function legend(parts) {
    var frag = document.createDocumentFragment();
    parts.forEach(function (p, i) {
      if (i > 0) { frag.appendChild(document.createTextNode(' · ')); }
      frag.appendChild(el('span', p[2] || '', p[0] + ' ' + p[1]));
    });
    return frag;
  }

  function setNow(panel, parts) {
    panel.now.textContent = '';
    panel.now.appendChild(legend(parts));
  }

  // ---- rendering ----------------------------------------------------------------------------

  function renderAll() {
    renderServer();
    models.forEach(renderModel);
    renderSummary();
  }

  function renderServer() {
    var i = server.info;
    if (!i) { return; }
    $('cpu').textContent = fmt(last(server.cpu), 0) + ' %';
    $('heap').textContent = fmt(last(server.heapMb), 0) + ' / ' + fmt(i.heapMaxMb, 0) + ' MiB';
    $('gc').textContent = fmt(last(server.gcMsPerS), 0) + ' ms/s';
    $('ready').textContent = i.startToReadyS === null ? 'starting' : fmt(i.startToReadyS, 2) + ' s';
    $('uptime').textContent = fmt(i.uptimeS / 60, 1) + ' min';
    if (!server.charts) { server.charts = {}; }
    var from = windowStart(server.t);
    [['cpu', 'cpu-chart', 100], ['heapMb', 'heap-chart', 1], ['gcMsPerS', 'gc-chart', 10]].forEach(function (c) {
      var plot = chart(server.charts, c[0], $(c[1]), [c[0]], 28, { spark: true, floor: c[2] });
      plot.setData(slice(server, [c[0]], from));
    });
  }

  function renderModel(m) {
    var info = m.info;
    var s = m.store;
    m.badge.textContent = info.state;
    m.badge.className = 'badge ' + info.state;
    m.verdict.textContent = info.verdict.text;
    m.verdict.className = 'verdict ' + info.verdict.level;
    var p = m.panels;
    var has = s.t && s.t.length > 0;
    var from = has ? windowStart(s.t) : 0;

    if (has) {
      var plot = chart(m.charts, 'throughput', p.throughput.body, ['req/s', 'inf/s'], 92);
      plot.setData(slice(s, ['rps', 'ips'], from));
      setNow(p.throughput, [['req/s', fmt(last(s.rps)), 's1'], ['inf/s', fmt(last(s.ips)), 's2']]);

      var slo = info.slo;
      var latencyNames = ['p50', 'p95', 'p99'];
      var data = slice(s, latencyNames, from);
      if (slo && slo.latencyMs !== null) {
        latencyNames = latencyNames.concat(['SLO']);
        data.push(data[0].map(function () { return slo.latencyMs; }));
      }
      plot = chart(m.charts, 'latency', p.latency.body, latencyNames, 92, { dash: [false, false, false, true] });
      plot.setData(data);
      setNow(p.latency, [['p50', fmt(last(s.p50)), 's1'], ['p95', fmt(last(s.p95)), 's2'], ['p99', fmt(last(s.p99)), 's3']]
        .concat(slo && slo.latencyMs !== null ? [['SLO p' + slo.percentile, fmt(slo.latencyMs), 's4']] : []));

      plot = chart(m.charts, 'queue-compute', p['queue-compute'].body, ['queue', 'compute'], 92);
      plot.setData(slice(s, ['queueMs', 'computeMs'], from));
      var q = last(s.queueMs), c = last(s.computeMs);
      var share = q !== null && c !== null && q + c > 0 ? fmt(100 * q / (q + c), 0) + '%' : '–';
      setNow(p['queue-compute'], [['queue', fmt(q), 's1'], ['compute', fmt(c), 's2'], ['wait', share]]);

      plot = chart(m.charts, 'errors', p.errors.body, ['queue full', 'SLO', 'timeout', 'failed', 'cancelled'], 92);
      plot.setData(slice(s, ['rejected', 'sloRefused', 'timedOut', 'failed', 'cancelled'], from));
      setNow(p.errors, [['full', rate(last(s.rejected)), 's1'], ['SLO', rate(last(s.sloRefused)), 's2'],
        ['timeout', rate(last(s.timedOut)), 's3'], ['failed', rate(last(s.failed)), 's4'],
        ['gone', rate(last(s.cancelled)), 's5']]);

      plot = chart(m.charts, 'instances', p.instances.body, ['busy %'], 92, { floor: 100 });
      plot.setData(slice(s, ['util'], from, 100));
      setNow(p.instances, [[String(info.instances), info.instances === 1 ? 'instance' : 'instances'],
        ['busy', fmt(100 * last(s.util), 0) + ' %', 's1']]);

      plot = chart(m.charts, 'pending', p.pending.body, ['pending'], 92);
      plot.setData(slice(s, ['pending'], from));
      setNow(p.pending, [['queued or running', fmt(last(s.pending), 0), 's1']]);

      renderBatches(p.batch, s, from, info);
    } else {
      ['throughput', 'latency', 'queue-compute', 'errors', 'instances', 'pending', 'batch'].forEach(function (name) {
        p[name].now.textContent = 'not serving';
        p[name].body.textContent = '';
        if (m.charts[name]) { m.charts[name].plot.destroy(); delete m.charts[name]; }
      });
    }
    renderSlo(p.slo, info.slo);
    renderDrift(p.drift, info.drift);
    renderLifecycle(p.lifecycle, info);
  }

  function renderBatches(panel, s, from, info) {
    var counts = BUCKETS.map(function () { return 0; });
    (s.batch || []).slice(from).forEach(function (row) {
      row.forEach(function (n, i) { counts[i] += n; });
    });
    var top = 0, shown = 0;
    counts.forEach(function (n, i) { if (n > 0) { shown = i; } top = Math.max(top, n); });
    var limit = Math.max(shown, info.maxBatchSize > 0 ? Math.min(BUCKETS.length - 1, bucketOf(info.maxBatchSize)) : 0);
    var bars = el('div', 'bars');
    var labels = el('div', 'bars-x');
    for (var i = 0; i <= limit; i++) {
      var bar = el('div', 'bar');
      bar.style.height = (top > 0 ? Math.max(1, 100 * counts[i] / top) : 1) + '%';
      bar.title = BUCKETS[i] + ': ' + counts[i] + ' batches';
      bars.appendChild(bar);
      labels.appendChild(el('span', null, BUCKETS[i]));
    }
    panel.body.textContent = '';
    panel.body.appendChild(bars);
    panel.body.appendChild(labels);
    var total = counts.reduce(function (a, b) { return a + b; }, 0);
    setNow(panel, [['mean', fmt(last(s.batchMean), 1) + (info.maxBatchSize > 0 ? ' of ' + info.maxBatchSize : ''), 's3'],
      ['batches', String(total)]]);
  }

  function bucketOf(size) {
    var b = 0;
    while ((1 << b) < size) { b++; }
    return b;
  }

  function kv(rows) {
    var dl = el('dl', 'kv');
    rows.forEach(function (r) {
      dl.appendChild(el('dt', null, r[0]));
      dl.appendChild(el('dd', null, r[1]));
    });
    return dl;
  }

  function renderSlo(panel, slo) {
    panel.body.textContent = '';
    if (!slo) {
      panel.now.textContent = 'not configured';
      panel.now.className = 'now none';
      panel.body.appendChild(el('div', 'muted', 'set slo in config.yaml'));
      return;
    }
    panel.now.className = 'now';
    panel.now.textContent = 'attainment ' + (slo.attainment === null ? '–' : fmt(100 * slo.attainment, 2) + ' %');
    panel.body.appendChild(kv([
      ['SLO', slo.latencyMs === null ? 'none set (price only)' : 'p' + slo.percentile + ' ≤ ' + fmt(slo.latencyMs) + ' ms'],
      ['utilization', slo.utilization === null ? '–' : fmt(100 * slo.utilization, 0) + ' %'],
      ['$ per 1M', slo.costPerMillion !== null ? '$' + fmt(slo.costPerMillion, 3)
        : slo.costPerHour > 0 ? 'no predictions in the window' : 'no price set']
    ]));
  }

  function renderDrift(panel, drift) {
    panel.body.textContent = '';
    if (!drift) {
      panel.now.textContent = 'not configured';
      panel.now.className = 'now none';
      panel.body.appendChild(el('div', 'muted', 'set monitoring in config.yaml'));
      return;
    }
    if (drift.problem) {
      panel.now.textContent = 'unavailable';
      panel.now.className = 'now bad';
      panel.body.appendChild(el('div', 'muted', drift.problem));
      return;
    }
    panel.now.className = 'now';
    var drifting = drift.features.filter(function (f) { return f.drifting; }).length;
    panel.now.textContent = drifting + ' of ' + drift.features.length + ' features drifting';
    // The drifting ones first, then the nearest to their threshold: what the reader looks for.
    var ranked = drift.features.slice().sort(function (a, b) {
      if (a.drifting !== b.drifting) { return a.drifting ? -1 : 1; }
      return nearness(b) - nearness(a);
    });
    var table = el('table', 'drift');
    ranked.slice(0, SHOWN_FEATURES).forEach(function (f) {
      var tr = el('tr', f.drifting ? 'bad' : '');
      tr.appendChild(el('td', null, f.feature));
      tr.appendChild(el('td', null, fmt(f.score, 3) + ' / ' + fmt(f.threshold, 3)));
      tr.appendChild(el('td', null, f.status));
      table.appendChild(tr);
    });
    panel.body.appendChild(table);
    if (ranked.length > SHOWN_FEATURES) {
      panel.body.appendChild(el('div', 'muted', '+ ' + (ranked.length - SHOWN_FEATURES) +
        ' more (GET /v2/models/<name>/drift)'));
    }
  }

  /** A feature's score over its threshold (0 when either is unknown). */
  function nearness(f) {
    return f.threshold > 0 && f.score !== null && isFinite(f.score) ? f.score / f.threshold : 0;
  }

  function renderLifecycle(panel, info) {
    panel.now.textContent = info.state + (info.reason ? ': ' + info.reason : '');
    panel.body.textContent = '';
    if (info.loadMs !== undefined) {
      panel.body.appendChild(kv([['load', fmt(info.loadMs, 0) + ' ms'], ['warm-up', fmt(info.warmupMs, 0) + ' ms']]));
    }
    var list = el('ul', 'events');
    (info.events || []).slice(-2).forEach(function (e) { list.appendChild(el('li', null, e)); });
    panel.body.appendChild(list);
  }

  function renderSummary() {
    var items = [];
    models.forEach(function (m) { items.push(m); });
    items.sort(function (a, b) {
      var r = RANK[a.info.verdict.level] - RANK[b.info.verdict.level];
      if (r !== 0) { return r; }
      return (last(b.store.p99 || []) || 0) - (last(a.store.p99 || []) || 0);
    });
    var box = $('summary');
    box.textContent = '';
    items.forEach(function (m) {
      var item = el('div', 'item ' + m.info.verdict.level);
      item.appendChild(el('b', null, m.info.model + ' v' + m.info.version));
      item.appendChild(document.createTextNode(m.info.verdict.text));
      var p99 = last(m.store.p99 || []);
      if (p99 !== null) { item.appendChild(el('span', 'muted', ' · p99 ' + fmt(p99) + ' ms')); }
      box.appendChild(item);
    });
  }

  connect();
})();
