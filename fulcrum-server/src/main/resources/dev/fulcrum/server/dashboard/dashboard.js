// Fulcrum's dashboard page: reads /dashboard/events (server-sent events, one JSON frame a second)
// with fetch(), so that a bearer token can travel in the Authorization header (never in the URL),
// keeps the frames' series per model version and draws them with uPlot. Read-only.
(function () {
  'use strict';

  var BUCKETS = ['1', '2', '3–4', '5–8', '9–16', '17–32', '33–64', '65–128', '129–256', '257+'];
  var COLUMNS = ['rps', 'ips', 'p50', 'p95', 'p99', 'queueMs', 'computeMs', 'rejected', 'timedOut',
    'failed', 'cancelled', 'pending', 'util', 'batchMean', 'sloRefused', 'invalid', 'loadRatio', 'attainment'];
  var COLORS = ['#2563eb', '#0891b2', '#7c3aed', '#db2777', '#ea580c', '#65a30d'];
  var RANK = { bad: 0, warn: 1, ok: 2 };
  var SHOWN_FEATURES = 6; // drift rows in a panel; the rest are counted
  var IDLE = 'no requests in the last 5 s';

  var token = null;
  var windowSeconds = 60;
  var historySeconds = 300;
  var models = new Map();
  var SERVER_SERIES = ['t', 'cpu', 'heapMb', 'gcMsPerS', 'machineCpu', 'steal', 'throttled'];
  var server = { t: [], cpu: [], heapMb: [], gcMsPerS: [], machineCpu: [], steal: [], throttled: [], info: null,
    charts: null };
  var stats = { frames: 0, lastFrameAt: 0, lags: [], drawn: 0 };
  window.fulcrumDashboard = stats;
  /** The samples the page holds for a version (its key: model/version): what its charts draw. */
  stats.samples = function (key) {
    var m = models.get(key);
    return m && m.store.t ? m.store.t.length : 0;
  };

  var $ = function (id) { return document.getElementById(id); };

  // With many models (hundreds on one server) drawing every section's ten panels each second kept
  // a browser core busy and fell behind the stream: a section is drawn only while it is on screen
  // (or near it) and matches the filter; the others keep their data and are drawn when scrolled to.
  // The summary above still ranks every model.
  var NEAR = '300px';
  var inView = typeof IntersectionObserver === 'function' ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      var m = models.get(e.target.dataset.key);
      if (!m) { return; }
      m.visible = e.isIntersecting;
      if (m.visible && m.stale) { renderModel(m); }
    });
  }, { rootMargin: NEAR + ' 0px' }) : null;

  // The summary names at most this many models that need a look, worst first; the rest are counted.
  var SUMMARY_MAX = 20;
  var filterText = '';

  function matches(m) {
    return !filterText || (m.info.model + ' v' + m.info.version).toLowerCase().indexOf(filterText) >= 0;
  }

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

  // The "now" figures look back this far at most (the verdict's window): an older value is not
  // current, and a model idle longer shows "–" rather than the last figure it ever had.
  var RECENT_MS = 5000;

  /** The newest non-null value of a series among the store's samples of the last RECENT_MS. */
  function recent(store, name) {
    var t = store.t, arr = store[name];
    if (!t || !t.length || !arr) { return null; }
    var from = t[t.length - 1] - RECENT_MS;
    for (var i = arr.length - 1; i >= 0 && t[i] >= from; i--) {
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

  // Reconnection: 2 s after a stream ends, doubling after each failed try up to 30 s, so that a
  // stopped server or a full dashboard costs a request (and a line in the console) a few times a
  // minute, not every 2 s. A stream that delivered a frame resets it.
  var RETRY_MIN_MS = 2000;
  var RETRY_MAX_MS = 30000;
  var retryMs = RETRY_MIN_MS;
  var failures = 0;

  function connect() {
    var headers = { Accept: 'text/event-stream' };
    if (token) { headers.Authorization = 'Bearer ' + token; }
    var framesBefore = stats.frames;
    fetch('/dashboard/events', { headers: headers, cache: 'no-store' })
      .then(function (resp) {
        if (resp.status === 401 || resp.status === 403) {
          askToken(resp.status === 403 ? 'That token may not read this server.' : null);
          return null;
        }
        if (!resp.ok || !resp.body) {
          // The server says why (503: too many dashboard pages open, or shutting down): show it.
          return resp.text().then(function (body) {
            var reason = 'HTTP ' + resp.status;
            try { reason = JSON.parse(body).error || reason; } catch (e) { /* not JSON */ }
            retry(reason);
          }, function () { retry('HTTP ' + resp.status); });
        }
        setConnected(true, 'live');
        setNotice(null);
        return read(resp.body.getReader()).then(function () {
          retry(stats.frames > framesBefore ? null : 'the stream ended');
        });
      })
      .catch(function (e) {
        var message = e && e.message ? e.message : String(e);
        if (failures === 0) { console.warn('dashboard stream:', message); }
        retry(stats.frames > framesBefore ? null : 'cannot reach the server (' + message + ')');
      });
  }

  /** Schedules the next try; reason: why the last one failed (null: the stream served, then ended). */
  function retry(reason) {
    if (reason === null) {
      failures = 0;
      retryMs = RETRY_MIN_MS;
    } else {
      failures++;
      if (failures > 1) { retryMs = Math.min(RETRY_MAX_MS, retryMs * 2); }
    }
    var wait = retryMs;
    setConnected(false, 'reconnecting…');
    if (reason !== null) {
      setNotice(reason + ' · trying again in ' + Math.round(wait / 1000) + ' s');
    }
    setTimeout(connect, wait);
  }

  function setNotice(text) {
    var n = $('notice');
    n.hidden = text === null;
    n.textContent = text || '';
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
    models.forEach(function (m) { m.stale = true; });
    renderAll();
  });

  $('filter').addEventListener('input', function () {
    filterText = $('filter').value.trim().toLowerCase();
    applyFilter();
    renderSummary();
  });

  /** Hides the sections that do not match the filter (a hidden section is not drawn). */
  function applyFilter() {
    var shown = 0;
    models.forEach(function (m) {
      var hide = !matches(m);
      if (m.root.hidden !== hide) { m.root.hidden = hide; }
      if (!hide) { shown++; }
    });
    $('filter-count').textContent = filterText ? shown + ' of ' + models.size : '';
  }

  window.addEventListener('resize', function () {
    models.forEach(function (m) { if (m.visible) { sizeCharts(m.charts); } else { m.resized = true; } });
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

  /**
   * A history frame sends a run of samples equal to a version's newest once (an idle version's
   * whole history): series.same of them precede the newest, at the server's times before its time.
   */
  function expandSame(series, times) {
    var n = series.same, last = series.t.length - 1;
    var end = times.lastIndexOf(series.t[last]);
    if (!n || end < n) { return; }
    var at = times.slice(end - n, end);
    ['t'].concat(COLUMNS).concat(['batch']).forEach(function (k) {
      var arr = series[k];
      if (!arr || arr.length !== last + 1) { return; }
      var fill = k === 't' ? at : new Array(n).fill(arr[last]);
      series[k] = arr.slice(0, last).concat(fill, arr.slice(last));
    });
  }

  function handle(frame) {
    var full = frame.kind === 'history';
    historySeconds = frame.historySeconds || historySeconds;
    append(server, frame.server, SERVER_SERIES, full);
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
      // A tick frame leaves out a drift panel that did not change since the frame before.
      if (!full && !('drift' in m)) { m.drift = entry.info.drift; }
      entry.info = m;
      entry.stale = true;
      if (m.series) {
        if (full && m.series.same) { expandSame(m.series, server.t); }
        append(entry.store, m.series, ['t'].concat(COLUMNS).concat(['batch']), full || !entry.store.t);
      } else {
        entry.store = {};
      }
    });
    models.forEach(function (entry, key) {
      if (!seen.has(key)) {
        if (inView) { inView.unobserve(entry.root); }
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
    ['slo', 'SLO · capacity · $ per 1M'],
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
    root.id = 'model-' + (m.model + '--v' + m.version).replace(/[^A-Za-z0-9_.-]/g, '_');
    var entry = { root: root, badge: badge, verdict: verdict, panels: panels, store: {}, charts: {}, info: m,
      visible: !inView, stale: true };
    root.hidden = !matches(entry);
    // Sections stay in name and version order (a new version next to the old one), so that they do
    // not move while the page is read; the summary above is what sorts worst first.
    var next = null;
    models.forEach(function (other) {
      if (order(entry, other) < 0 && (next === null || order(other, next) < 0)) { next = other; }
    });
    $('models').insertBefore(root, next ? next.root : null);
    if (inView) { inView.observe(root); }
    return entry;
  }

  function order(a, b) {
    if (a.info.model !== b.info.model) { return a.info.model < b.info.model ? -1 : 1; }
    var va = Number(a.info.version), vb = Number(b.info.version);
    if (va !== vb && isFinite(va) && isFinite(vb)) { return va - vb; }
    return a.info.version < b.info.version ? -1 : a.info.version > b.info.version ? 1 : 0;
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
        { show: !(extra && extra.spark), size: axisSize, values: axisValues, font: axisFont, ticks: { size: 2 },
          grid: { stroke: '#eef0f3' } }
      ]
    };
    var empty = [[]].concat(labels.map(function () { return []; }));
    var plot = new uPlot(opts, empty, host);
    charts[name] = { plot: plot, host: host, height: height, labels: labels.join() };
    return plot;
  }

  /** Tick labels: 10k, 1.5M rather than 10,000 (short, and never wider than the axis). */
  function axisValues(u, splits) {
    return splits.map(function (v) { return si(v); });
  }

  function si(v) {
    if (v === null || v === undefined) { return ''; }
    var a = Math.abs(v);
    if (a >= 1e9) { return trimZeros((v / 1e9).toFixed(1)) + 'G'; }
    if (a >= 1e6) { return trimZeros((v / 1e6).toFixed(1)) + 'M'; }
    if (a >= 1e4) { return trimZeros((v / 1e3).toFixed(1)) + 'k'; }
    return String(Math.round(v * 1000) / 1000);
  }

  function trimZeros(s) {
    return s.replace(/\.0$/, '');
  }

  /** The y axis as wide as its widest label (uPlot calls it again when the labels change). */
  function axisSize(u, values, axisIdx, cycleNum) {
    var axis = u.axes[axisIdx];
    if (cycleNum > 1 && axis._size) { return axis._size; }
    var widest = 0;
    u.ctx.font = axis.font ? axis.font[0] : '10px system-ui, sans-serif';
    (values || []).forEach(function (v) { widest = Math.max(widest, u.ctx.measureText(v).width); });
    return Math.max(24, Math.ceil(widest / (window.devicePixelRatio || 1)) + 8);
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
    applyFilter();
    models.forEach(function (m) { if (m.visible && !m.root.hidden) { renderModel(m); } });
    renderSummary();
  }

  function renderServer() {
    var i = server.info;
    if (!i) { return; }
    $('cpu').textContent = fmt(last(server.cpu), 0) + ' %';
    // The machine's CPU beside the process's: a process short of CPU reads low itself.
    // In a container with a CPU limit, the share of the quota's periods that throttled it: the
    // host's cores may read idle while the server waits for its next period.
    var machine = last(server.machineCpu), steal = last(server.steal), throttled = last(server.throttled);
    $('machine').textContent = machine === null ? '–'
      : fmt(machine, 0) + ' %' + (steal !== null && steal >= 1 ? ' · steal ' + fmt(steal, 0) + ' %' : '')
        + (throttled !== null && throttled >= 1 ? ' · throttled ' + fmt(throttled, 0) + ' %' : '');
    $('machine').className = 'v' + ((machine !== null && machine >= 90) || (throttled !== null && throttled >= 20)
      ? ' hot' : '');
    $('heap').textContent = fmt(last(server.heapMb), 0) + ' / ' + fmt(i.heapMaxMb, 0) + ' MiB';
    $('gc').textContent = fmt(last(server.gcMsPerS), 0) + ' ms/s';
    var ready = $('ready');
    if (i.startToReadyS === null) {
      ready.textContent = 'starting';
      ready.className = 'v';
      ready.title = '';
    } else if (i.ready === false || i.readyAtStart === false) {
      // Not a start → ready time: the server was not ready when its start ended.
      ready.textContent = i.ready === false ? 'not ready' : 'ready (not at start)';
      ready.className = 'v' + (i.ready === false ? ' hot' : '');
      ready.title = 'start took ' + fmt(i.startToReadyS, 2) + ' s; the server was not ready then' +
        (i.ready === false ? ' and is not now (/v2/health/ready)' : '');
    } else {
      ready.textContent = fmt(i.startToReadyS, 2) + ' s';
      ready.className = 'v';
      ready.title = '';
    }
    $('uptime').textContent = fmt(i.uptimeS / 60, 1) + ' min';
    if (!server.charts) { server.charts = {}; }
    var from = windowStart(server.t);
    [['cpu', 'cpu-chart', 100], ['machineCpu', 'machine-chart', 100], ['heapMb', 'heap-chart', 1],
      ['gcMsPerS', 'gc-chart', 10]].forEach(function (c) {
      var plot = chart(server.charts, c[0], $(c[1]), [c[0]], 28, { spark: true, floor: c[2] });
      plot.setData(slice(server, [c[0]], from));
    });
  }

  function renderModel(m) {
    m.stale = false;
    stats.drawn++;
    if (m.resized) { m.resized = false; sizeCharts(m.charts); }
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
      setNow(p.throughput, [['req/s', fmt(recent(s, 'rps')), 's1'], ['inf/s', fmt(recent(s, 'ips')), 's2']]);

      var slo = info.slo;
      var latencyNames = ['p50', 'p95', 'p99'];
      var data = slice(s, latencyNames, from);
      if (slo && slo.latencyMs !== null) {
        latencyNames = latencyNames.concat(['SLO']);
        data.push(data[0].map(function () { return slo.latencyMs; }));
      }
      plot = chart(m.charts, 'latency', p.latency.body, latencyNames, 92, { dash: [false, false, false, true] });
      plot.setData(data);
      var sloPart = slo && slo.latencyMs !== null ? [['SLO p' + slo.percentile, fmt(slo.latencyMs), 's4']] : [];
      var p99 = recent(s, 'p99');
      setNow(p.latency, p99 === null ? [['idle:', IDLE]].concat(sloPart)
        : [['p50', fmt(recent(s, 'p50')), 's1'], ['p95', fmt(recent(s, 'p95')), 's2'], ['p99', fmt(p99), 's3']]
          .concat(sloPart));

      plot = chart(m.charts, 'queue-compute', p['queue-compute'].body, ['queue', 'compute'], 92);
      plot.setData(slice(s, ['queueMs', 'computeMs'], from));
      var q = recent(s, 'queueMs'), c = recent(s, 'computeMs');
      var share = q !== null && c !== null && q + c > 0 ? fmt(100 * q / (q + c), 0) + '%' : '–';
      setNow(p['queue-compute'], q === null && c === null ? [['idle:', IDLE]]
        : [['queue', fmt(q), 's1'], ['compute', fmt(c), 's2'], ['wait', share]]);

      plot = chart(m.charts, 'errors', p.errors.body,
        ['queue full', 'SLO', 'timeout', 'failed', 'cancelled', 'bad input'], 92);
      plot.setData(slice(s, ['rejected', 'sloRefused', 'timedOut', 'failed', 'cancelled', 'invalid'], from));
      setNow(p.errors, [['full', rate(recent(s, 'rejected')), 's1'], ['SLO', rate(recent(s, 'sloRefused')), 's2'],
        ['timeout', rate(recent(s, 'timedOut')), 's3'], ['failed', rate(recent(s, 'failed')), 's4'],
        ['gone', rate(recent(s, 'cancelled')), 's5'], ['400', rate(recent(s, 'invalid')), 's6']]);

      plot = chart(m.charts, 'instances', p.instances.body, ['busy %'], 92, { floor: 100 });
      plot.setData(slice(s, ['util'], from, 100));
      setNow(p.instances, [[String(info.instances), info.instances === 1 ? 'instance' : 'instances'],
        ['busy', fmt(100 * recent(s, 'util'), 0) + ' %', 's1']]);

      plot = chart(m.charts, 'pending', p.pending.body, ['pending'], 92);
      plot.setData(slice(s, ['pending'], from));
      setNow(p.pending, [['queued or running', fmt(recent(s, 'pending'), 0), 's1']]);

      renderBatches(p.batch, s, from, info);
    } else {
      ['throughput', 'latency', 'queue-compute', 'errors', 'instances', 'pending', 'batch'].forEach(function (name) {
        p[name].now.textContent = 'not serving';
        p[name].body.textContent = '';
        if (m.charts[name]) { m.charts[name].plot.destroy(); delete m.charts[name]; }
      });
    }
    renderSlo(p.slo, info.slo, m, has ? from : -1);
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
    // The window's mean, as the histogram beside it: each second's mean weighted by its batches.
    var rows = 0, batches = 0;
    (s.batch || []).slice(from).forEach(function (row, i) {
      var n = row.reduce(function (a, b) { return a + b; }, 0);
      var mean = (s.batchMean || [])[from + i];
      if (n > 0 && mean !== null && mean !== undefined) { rows += mean * n; batches += n; }
    });
    setNow(panel, [['mean', fmt(batches > 0 ? rows / batches : null, 1) +
      (info.maxBatchSize > 0 ? ' of ' + info.maxBatchSize : ''), 's3'], ['batches', String(total)]]);
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

  // The SLO panel: attainment, and for a model with an objective the capacity it states at it
  // (GET .../slo "capacity", fulcrum_slo_capacity_requests_per_second), which bound applied (the
  // pass times' or the CPU budget's) and the load ratio an autoscaler scales on, over time beside
  // attainment (both over the last 10 s, each second).
  function renderSlo(panel, slo, m, from) {
    if (!panel.kv) {
      panel.body.textContent = '';
      panel.chartHost = el('div', 'slo-chart');
      panel.kv = el('div');
      panel.body.appendChild(panel.chartHost);
      panel.body.appendChild(panel.kv);
    }
    panel.kv.textContent = '';
    var charted = slo && slo.latencyMs !== null && from >= 0;
    panel.chartHost.hidden = !charted;
    if (!charted && m.charts.slo) { m.charts.slo.plot.destroy(); delete m.charts.slo; }
    if (!slo) {
      panel.now.textContent = 'not configured';
      panel.now.className = 'now none';
      panel.kv.appendChild(el('div', 'muted', 'set slo in config.yaml'));
      return;
    }
    panel.now.className = 'now';
    var cost = slo.costPerMillion !== null ? '$' + fmt(slo.costPerMillion, 3)
      : slo.costPerHour > 0 ? 'no predictions in the window' : 'no price set';
    var rows = [];
    var c = slo.capacity;
    if (slo.latencyMs === null) {
      // A price without a latency objective: the cost is the figure, there is nothing to attain.
      panel.now.textContent = slo.costPerMillion !== null ? cost + ' per 1M predictions' : cost;
      rows.push(['SLO', 'none set (price only)']);
    } else {
      var parts = [['attainment', slo.attainment === null ? '–' : fmt(100 * slo.attainment, 2) + ' %', 's1']];
      if (c) { parts.push(['load', c.loadRatio === null ? '–' : fmt(c.loadRatio, 2), 's2']); }
      setNow(panel, parts);
      panel.now.className = 'now' + (c && c.loadRatio !== null && c.loadRatio >= 1 ? ' bad' : '');
      rows.push(['SLO', 'p' + slo.percentile + ' ≤ ' + fmt(slo.latencyMs) + ' ms']);
    }
    if (c) {
      rows.push(['capacity', capacityText(c)]);
      rows.push(['CPU budget', budgetText(c)]);
    }
    rows.push(['utilization', slo.utilization === null ? '–' : fmt(100 * slo.utilization, 0) + ' %']);
    rows.push(['$ per 1M', cost]);
    var list = kv(rows);
    if (c) {
      list.title = 'capacity: the highest rate this replica serves within the objective, the lower of the'
        + ' pass times\' bound and the CPU budget\'s; load: offered over the last 10 s / capacity'
        + ' (fulcrum_slo_load_ratio). CPU budget: what the process may use now: where the kernel reports'
        + ' CPU pressure, what it uses and of the rest of its limit or CPUs the share of the time it did'
        + ' not wait (waited: the share of the time a task of it waited for a CPU); else its limit or its'
        + ' CPUs less what other processes use; own: what it uses, all models together'
        + ' (GET /v2/models/<name>/slo)';
    }
    panel.kv.appendChild(list);
    if (charted) {
      var plot = chart(m.charts, 'slo', panel.chartHost, ['attainment %', 'load %'], 56, { floor: 100 });
      plot.setData(slice(m.store, ['attainment', 'loadRatio'], from, 100));
    }
  }

  /** "12.3k req/s · cpu", or why there is no figure. */
  function capacityText(c) {
    if (c.state === 'learning') { return 'learning (the policy has not measured 100 passes yet)'; }
    if (c.state === 'too tight') { return '0: the objective is too tight for any batch size'; }
    if (c.requestsPerS === null) { return c.state; }
    return si(Math.round(c.requestsPerS)) + ' req/s · bound ' + c.bound
      + (c.bound === 'passes' && c.cpu === 'idle' ? ' (CPU idle)' : '');
  }

  /** "1.05 of 2 cores · others 0.95 · own 0.9 · waited 12 %", or what is not known. */
  function budgetText(c) {
    if (c.budgetCores === null) { return 'unknown'; }
    return fmt(c.budgetCores, 2) + ' of ' + fmt(c.allowedCores, 2) + ' cores'
      + (c.othersCores !== null ? ' · others ' + fmt(c.othersCores, 2) : '')
      + ' · own ' + fmt(c.ownCores, 2)
      + (c.pressureSomeRatio !== null ? ' · waited ' + fmt(100 * c.pressureSomeRatio, 0) + ' %' : '');
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
    // A drifting input before the outputs it moves (the input is the cause to look at).
    var ranked = drift.features.slice().sort(function (a, b) {
      if (a.drifting !== b.drifting) { return a.drifting ? -1 : 1; }
      if (a.drifting && !!a.output !== !!b.output) { return a.output ? 1 : -1; }
      return nearness(b) - nearness(a);
    });
    var table = el('table', 'drift');
    ranked.slice(0, SHOWN_FEATURES).forEach(function (f) {
      var tr = el('tr', f.drifting ? 'bad' : '');
      tr.appendChild(el('td', null, f.feature));
      var score = el('td', null, fmt(f.score, 3) + ' / ' + (noThreshold(f) ? '—' : fmt(f.threshold, 3)));
      if (noThreshold(f)) {
        score.title = 'no threshold: in the baseline this test\'s score can never rise (a constant feature), so it cannot drift';
      }
      tr.appendChild(score);
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
    return f.threshold > 0 && !noThreshold(f) && f.score !== null && isFinite(f.score) ? f.score / f.threshold : 0;
  }

  /** The monitor's "cannot drift" threshold (1e9: the baseline leaves the test's sum no way up). */
  function noThreshold(f) {
    return f.threshold === null || f.threshold >= 1e9;
  }

  function renderLifecycle(panel, info) {
    var same = info.reason && info.reason.toLowerCase() === info.state.toLowerCase();
    panel.now.textContent = info.state + (info.reason && !same ? ': ' + info.reason : '');
    panel.body.textContent = '';
    if (info.loadMs !== undefined) {
      panel.body.appendChild(kv([['load', fmt(info.loadMs, 0) + ' ms'], ['warm-up', fmt(info.warmupMs, 0) + ' ms']]));
    }
    var list = el('ul', 'events');
    (info.events || []).slice(-2).forEach(function (e) { list.appendChild(el('li', null, e)); });
    panel.body.appendChild(list);
  }

  /** True when the version answered nothing in the last RECENT_MS (or does not serve). */
  function idle(m) {
    var t = m.store.t, rps = m.store.rps;
    if (!t || !t.length || !rps) { return true; }
    var from = t[t.length - 1] - RECENT_MS;
    for (var i = rps.length - 1; i >= 0 && t[i] >= from; i--) {
      if (rps[i] > 0) { return false; }
    }
    return true;
  }

  function link(m) {
    var a = el('a', null, m.info.model + ' v' + m.info.version);
    a.href = '#' + m.root.id;
    return a;
  }

  var quietLine = null;
  var moreLine = null;

  // Worst first; within a level the busy models by their p99, then the idle ones (whose p99, if
  // any, is old), by name. Idle models with nothing to report share one line: with many models the
  // summary stays a few lines, and every name links to its section. The elements are kept and
  // moved, not rebuilt each second, so that a click on one is never lost to a refresh.
  function renderSummary() {
    var items = [];
    models.forEach(function (m) { items.push(m); });
    items.forEach(function (m) { m.idle = idle(m); m.p99 = m.idle ? null : recent(m.store, 'p99'); });
    items.sort(function (a, b) {
      var r = RANK[a.info.verdict.level] - RANK[b.info.verdict.level];
      if (r !== 0) { return r; }
      if (a.idle !== b.idle) { return a.idle ? 1 : -1; }
      r = (b.p99 || 0) - (a.p99 || 0);
      return r !== 0 ? r : order(a, b);
    });
    var box = $('summary');
    if (!quietLine) {
      quietLine = el('div', 'item ok quiet');
      quietLine.appendChild(el('span', 'text'));
      quietLine.appendChild(el('span', 'names'));
    }
    var quiet = [];
    var shown = [];
    var more = { bad: 0, warn: 0, ok: 0 };
    items.forEach(function (m) {
      if (!matches(m)) { return; }
      if (m.idle && m.info.verdict.level === 'ok' && m.info.state === 'READY') {
        quiet.push(m);
        return;
      }
      if (!m.chip) {
        m.chip = { item: el('div'), text: el('span', 'text'), p99: el('span', 'muted') };
        m.chip.item.appendChild(link(m));
        m.chip.item.appendChild(m.chip.text);
        m.chip.item.appendChild(m.chip.p99);
      }
      if (shown.length >= SUMMARY_MAX) {
        more[m.info.verdict.level]++;
        return;
      }
      m.chip.item.className = 'item ' + m.info.verdict.level;
      m.chip.item.title = m.info.model + ' v' + m.info.version + ': ' + m.info.verdict.text;
      m.chip.text.textContent = m.info.verdict.text;
      m.chip.p99.textContent = m.p99 !== null ? ' · p99 ' + fmt(m.p99) + ' ms' : '';
      shown.push(m.chip.item);
    });
    quiet.sort(order).forEach(function (m) { if (!m.quietLink) { m.quietLink = link(m); } });
    place(quietLine.lastChild, quiet.map(function (m) { return m.quietLink; }));
    quietLine.firstChild.textContent = 'idle (' + quiet.length + '): ';
    if (!moreLine) { moreLine = el('div', 'item more muted'); }
    var hidden = more.bad + more.warn + more.ok;
    if (hidden) {
      var parts = [];
      if (more.bad) { parts.push(more.bad + ' bad'); }
      if (more.warn) { parts.push(more.warn + ' warning'); }
      if (more.ok) { parts.push(more.ok + ' ok'); }
      moreLine.textContent = '+ ' + hidden + ' more (' + parts.join(', ') + '): type a name in the filter';
      shown.push(moreLine);
    }
    if (quiet.length) { shown.push(quietLine); }
    place(box, shown);
  }

  /** Makes parent's children exactly nodes, in order, moving only those out of place. */
  function place(parent, nodes) {
    nodes.forEach(function (n, i) {
      if (parent.childNodes[i] !== n) { parent.insertBefore(n, parent.childNodes[i] || null); }
    });
    while (parent.childNodes.length > nodes.length) { parent.lastChild.remove(); }
  }

  connect();
})();
