'use strict';

(function () {
  const LWC = window.LightweightCharts;

  // ---------- configuration & initial query parameters ----------
  const DEFAULT_CONFIG = {
    version: '', topics: [], events_topic: 'queue-events', default_symbol: '',
    default_candles_type: '', default_topic: null, default_orderbook_topic: null,
  };
  let configError = null;
  let config = DEFAULT_CONFIG;
  try {
    const raw = document.getElementById('sf-config').textContent.trim();
    config = Object.assign({}, DEFAULT_CONFIG, JSON.parse(raw));
  } catch (e) {
    configError = 'Page configuration could not be read (' + e.message + ')';
  }

  const query = new URLSearchParams(location.search);
  const qp = (name, fallback) => (query.has(name) ? query.get(name).trim() : fallback);

  // Filter groups: each tab reads the filter values of its group.
  const filterGroups = {
    events: { fields: ['queue_id', 'symbol', 'type'], values: {
      queue_id: qp('queue_id', ''), symbol: qp('symbol', ''), type: qp('type', ''),
    } },
    stream: { fields: ['symbol', 'type'], values: {
      queue_id: '', symbol: qp('symbol', ''), type: qp('type', ''),
    } },
    market: { fields: ['symbol', 'type'], values: {
      queue_id: '', symbol: qp('symbol', config.default_symbol || ''),
      type: qp('candles_type', config.default_candles_type || ''),
    } },
    none: { fields: [], values: {} },
  };
  const TAB_GROUP = {
    webhooks: 'events', topic: 'stream', candles: 'market', heatmap: 'market',
    indicators: 'market', gnn: 'none', graph: 'none',
  };
  const TYPE_PLACEHOLDER = { events: 'any type', stream: 'any type', market: 'candle type' };

  // ---------- small helpers ----------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return node;
  }

  function buildUrl(path, params) {
    const u = new URL(path, location.origin);
    if (params) {
      for (const [k, v] of Object.entries(params)) {
        if (v === undefined || v === null) continue;
        u.searchParams.set(k, String(v));
      }
    }
    return u.pathname + u.search;
  }

  async function api(path, params) {
    let res;
    try {
      res = await fetch(buildUrl(path, params), { headers: { Accept: 'application/json' } });
    } catch (e) {
      throw new Error('Network error while requesting ' + path + ': ' + e.message);
    }
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const msg = body && typeof body.error === 'string' ? body.error : 'HTTP ' + res.status + ' ' + res.statusText;
      throw new Error(msg);
    }
    if (body === null) throw new Error('Invalid JSON from ' + path);
    return body;
  }

  function wsUrl(path, params) {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return proto + '//' + location.host + buildUrl(path, params);
  }

  // Opens a WebSocket that reconnects with back-off until closed by the caller.
  function openSocket(path, params, handlers) {
    let ws = null;
    let stopped = false;
    let delay = 1000;
    let timer = null;
    const connect = () => {
      ws = new WebSocket(wsUrl(path, params));
      ws.onopen = () => { delay = 1000; if (handlers.onOpen) handlers.onOpen(); };
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        handlers.onMessage(msg);
      };
      ws.onerror = () => {};
      ws.onclose = () => {
        if (stopped) return;
        if (handlers.onDisconnect) handlers.onDisconnect(delay);
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15000);
      };
    };
    connect();
    return {
      close() {
        stopped = true;
        clearTimeout(timer);
        if (ws && ws.readyState <= 1) ws.close();
      },
    };
  }

  const pad = (n, w = 2) => String(n).padStart(w, '0');
  function fmtTime(ms, withMs) {
    if (ms == null || !isFinite(ms)) return '—';
    const d = new Date(Number(ms));
    const s = d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
    return withMs ? s + '.' + pad(d.getUTCMilliseconds(), 3) : s;
  }
  function fmtShortTime(ms, spanMs) {
    const d = new Date(ms);
    const hm = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
    if (spanMs > 2 * 86400000) return pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' + hm;
    return hm;
  }
  function fmtNum(v, digits) {
    if (v == null || v === '' || !isFinite(Number(v))) return '—';
    const n = Number(v);
    if (digits != null) return n.toFixed(digits);
    const a = Math.abs(n);
    if (a === 0) return '0';
    if (a >= 1e6) return n.toExponential(3);
    if (a >= 1000) return n.toFixed(2);
    if (a >= 1) return n.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
    return n.toPrecision(4);
  }
  function fmtPrice(v) {
    if (v == null || !isFinite(v)) return '—';
    const a = Math.abs(v);
    return a >= 1000 ? v.toFixed(2) : a >= 1 ? v.toFixed(4) : v.toPrecision(4);
  }
  function truncate(s, n) { return s.length > n ? s.slice(0, n - 1) + '…' : s; }

  // Accepts unix ms, or a YYYY-MM-DD date; returns ms or null.
  function parseDateParam(value, endOfDay) {
    if (!value) return null;
    if (/^\d{10,}$/.test(value)) return Number(value);
    const t = Date.parse(value.length === 10 ? value + 'T00:00:00Z' : value);
    if (!isFinite(t)) return null;
    return endOfDay && value.length === 10 ? t + 86400000 - 1 : t;
  }
  function msToDateInput(ms) {
    if (ms == null) return '';
    const d = new Date(ms);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate());
  }

  const PALETTE = ['#4e9af1', '#f1a34e', '#56c271', '#e0605e', '#a57be8', '#3fc1c9', '#e6c84f', '#e879b9', '#8fb35a', '#c98a5a'];
  const THEME = {
    bg: '#121820', plot: '#161d27', grid: '#222c38', axis: '#3a4656', text: '#c3ccd8', muted: '#7d8a9b',
  };

  // Canvas sized to its CSS box at device pixel ratio; returns a context in CSS px.
  function prepareCanvas(canvas) {
    const rect = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.floor(rect.width));
    const h = Math.max(1, Math.floor(rect.height));
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = THEME.bg;
    ctx.fillRect(0, 0, w, h);
    return { ctx, w, h };
  }

  function niceTicks(min, max, count) {
    if (!isFinite(min) || !isFinite(max)) return [];
    if (min === max) { min -= 1; max += 1; }
    const span = max - min;
    const raw = span / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const step = (norm >= 5 ? 10 : norm >= 2 ? 5 : norm >= 1 ? 2 : 1) * mag;
    const ticks = [];
    for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
    return ticks;
  }

  function fmtTick(t) { return String(+t.toPrecision(10)); }

  const TIME_STEPS = [60e3, 300e3, 900e3, 1800e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 2 * 86400e3, 7 * 86400e3, 30 * 86400e3];
  function timeTicks(min, max, count) {
    const span = max - min;
    const step = TIME_STEPS.find((s) => span / s <= count) || Math.ceil(span / count / 86400e3) * 86400e3;
    const ticks = [];
    for (let t = Math.ceil(min / step) * step; t <= max; t += step) ticks.push(t);
    return ticks;
  }

  function drawCanvasMessage(canvas, text) {
    const { ctx, w, h } = prepareCanvas(canvas);
    ctx.fillStyle = THEME.muted;
    ctx.font = '13px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, w / 2, h / 2);
  }

  function onResize(node, fn) {
    let frame = 0;
    const ro = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const r = node.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) fn();
      });
    });
    ro.observe(node);
    return ro;
  }

  function chartOptions(extra) {
    return Object.assign({
      autoSize: true,
      layout: {
        background: { type: LWC.ColorType.Solid, color: THEME.plot },
        textColor: THEME.text,
        fontSize: 11,
        panes: { separatorColor: THEME.axis, separatorHoverColor: '#4e9af155' },
      },
      grid: { vertLines: { color: THEME.grid }, horzLines: { color: THEME.grid } },
      rightPriceScale: { borderColor: THEME.axis },
      timeScale: { borderColor: THEME.axis, timeVisible: true, secondsVisible: false },
      crosshair: { mode: LWC.CrosshairMode.Normal },
    }, extra || {});
  }

  const UP = '#26a69a';
  const DOWN = '#ef5350';

  function toCandle(c) {
    return { time: Number(c.time), open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) };
  }
  function toVolume(c) {
    return { time: Number(c.time), value: Number(c.volume) || 0, color: Number(c.close) >= Number(c.open) ? UP + '88' : DOWN + '88' };
  }
  // Keeps candles sorted by time with unique timestamps (the chart library requires that).
  function cleanCandles(list) {
    const byTime = new Map();
    for (const c of list || []) {
      const t = Number(c.time);
      if (!isFinite(t)) continue;
      byTime.set(t, c);
    }
    return [...byTime.keys()].sort((a, b) => a - b).map((t) => byTime.get(t));
  }
  function cleanPoints(list) {
    const byTime = new Map();
    for (const p of list || []) {
      const t = Number(p.time);
      const v = p.value == null ? NaN : Number(p.value);
      if (!isFinite(t) || !isFinite(v)) continue;
      byTime.set(t, v);
    }
    return [...byTime.keys()].sort((a, b) => a - b).map((t) => ({ time: t, value: byTime.get(t) }));
  }

  // ---------- panel scaffolding ----------
  class Panel {
    constructor(id) {
      this.id = id;
      this.root = document.getElementById('panel-' + id);
      this.initialized = false;
      this.dirty = true;
      this.token = 0;
    }
    get filters() { return filterGroups[TAB_GROUP[this.id]].values; }
    scaffold(toolbarChildren, bodyChildren) {
      this.msg = el('div', { class: 'panel-msg', 'data-testid': 'tab-' + this.id + '-message', hidden: true });
      this.root.append(
        el('div', { class: 'toolbar' }, toolbarChildren),
        this.msg,
        el('div', { class: 'panel-body' }, bodyChildren),
      );
    }
    setState(state, message) {
      this.root.dataset.state = state;
      if (message) {
        this.msg.hidden = false;
        this.msg.className = 'panel-msg ' + state;
        this.msg.textContent = message;
      } else {
        this.msg.hidden = true;
        this.msg.textContent = '';
      }
    }
    fail(err) {
      this.setState('error', 'Error: ' + (err && err.message ? err.message : String(err)));
    }
    newToken() { this.token += 1; return this.token; }
    stale(token) { return token !== this.token; }
    init() {}
    load() {}
    shown() {}
  }

  const panels = {};
  let currentTab = null;

  // ---------- shared topic list ----------
  let topicsPromise = null;
  function getTopics() {
    if (!topicsPromise) {
      topicsPromise = api('/api/topics').then((b) => (b.topics || []).map((t) => (typeof t === 'string' ? { name: t } : t)));
      topicsPromise.catch(() => { topicsPromise = null; });
    }
    return topicsPromise;
  }
  function fillSelect(select, options, value) {
    select.textContent = '';
    for (const o of options) select.append(el('option', { value: o.value, text: o.label }));
    if (value != null && options.some((o) => o.value === value)) select.value = value;
  }

  // ---------- Webhooks (queue events) ----------
  const STATUS_CLASS = {
    started: 'info', loading: 'info', running: 'info', queued: 'muted', pending: 'muted',
    finished: 'ok', success: 'ok', completed: 'ok', done: 'ok',
    error: 'bad', failed: 'bad', interrupted: 'bad',
    retrying: 'warn', stopped: 'muted', training: 'accent',
  };
  const MAX_EVENT_ROWS = 1000;

  class WebhooksPanel extends Panel {
    init() {
      this.summary = el('span', { class: 'stat', 'data-testid': 'events-summary' });
      this.live = el('span', { class: 'live off', 'data-testid': 'events-live', text: 'live: off' });
      this.tbody = el('tbody');
      this.scaffold([
        el('span', { class: 'toolbar-title', text: 'Queue events' }),
        el('span', { class: 'hint', text: 'from topic ' + (config.events_topic || 'queue-events') + ', newest first' }),
        el('span', { class: 'spacer' }),
        this.summary, this.live,
        el('button', { class: 'btn', type: 'button', text: 'Refresh', onclick: () => this.load() }),
      ], [
        el('div', { class: 'table-wrap' },
          el('table', { class: 'data-table events', 'data-testid': 'events-table' },
            el('thead', null, el('tr', null,
              ['Time (UTC)', 'Queue', 'Status', 'Symbol', 'Type', 'Records', 'Progress', 'Message'].map((h) => el('th', { text: h })))),
            this.tbody)),
      ]);
      this.count = 0;
      this.total = 0;
    }
    row(item) {
      const ev = item.event && typeof item.event === 'object' ? item.event : {};
      const status = String(ev.status || 'unknown');
      const cls = STATUS_CLASS[status.toLowerCase()] || 'muted';
      let progress = '—';
      let pct = null;
      if (ev.progress != null && isFinite(Number(ev.progress))) {
        const p = Number(ev.progress);
        pct = p <= 1 ? p * 100 : p;
        pct = Math.max(0, Math.min(100, pct));
        progress = pct.toFixed(pct >= 10 ? 0 : 1) + '%';
      }
      const records = ev.records_written != null ? Number(ev.records_written).toLocaleString('en-US') : '—';
      const message = ev.message != null ? String(ev.message) : (ev.error != null ? String(ev.error) : '');
      return el('tr', { 'data-testid': 'event-row', 'data-status': status },
        el('td', { class: 'mono nowrap', text: fmtTime(item.received_ms, true) }),
        el('td', { class: 'mono', text: item.queue || ev.queue_id || '—', title: ev.telemetry_id ? 'telemetry ' + ev.telemetry_id : null }),
        el('td', null, el('span', { class: 'badge ' + cls, text: status })),
        el('td', { text: ev.symbol || '—' }),
        el('td', { class: 'mono', text: ev.type || '—' }),
        el('td', { class: 'num', text: records }),
        el('td', { class: 'progress-cell' }, pct == null ? '—' :
          el('span', { class: 'progress' }, el('span', { class: 'progress-bar', style: 'width:' + pct + '%' }), el('span', { class: 'progress-text', text: progress }))),
        el('td', { class: 'msg', text: message, title: message.length > 80 ? message : null }),
      );
    }
    updateSummary() {
      this.summary.textContent = this.count + ' shown' + (this.total > this.count ? ' · ' + this.total + ' total' : '');
    }
    async load() {
      const token = this.newToken();
      const f = this.filters;
      const params = { queue_id: f.queue_id, symbol: f.symbol, type: f.type };
      if (this.socket) { this.socket.close(); this.socket = null; }
      this.setState('loading', 'Loading events…');
      let body;
      try {
        body = await api('/api/events', Object.assign({ limit: 200 }, params));
      } catch (e) {
        if (!this.stale(token)) this.fail(e);
        return;
      }
      if (this.stale(token)) return;
      const events = Array.isArray(body.events) ? body.events : [];
      this.tbody.textContent = '';
      const frag = document.createDocumentFragment();
      for (const item of events) frag.appendChild(this.row(item));
      this.tbody.appendChild(frag);
      this.count = events.length;
      this.total = Math.max(Number(body.total) || 0, events.length);
      this.updateSummary();
      if (events.length) this.setState('ready');
      else this.setState('empty', 'No events yet — nothing on ' + (config.events_topic || 'queue-events') + ' matches these filters. New events appear here live.');
      this.connect(params, token);
    }
    connect(params, token) {
      this.socket = openSocket('/ws/events', params, {
        onOpen: () => { this.live.textContent = 'live'; this.live.className = 'live on'; },
        onDisconnect: () => { this.live.textContent = 'live: reconnecting…'; this.live.className = 'live off'; },
        onMessage: (msg) => {
          if (this.stale(token)) return;
          if (msg && msg.kind === 'error') { this.setState('error', 'Error: ' + msg.message); return; }
          if (!msg || !msg.event) return;
          this.tbody.insertBefore(this.row(msg), this.tbody.firstChild);
          this.count += 1;
          this.total += 1;
          while (this.tbody.childElementCount > MAX_EVENT_ROWS) { this.tbody.lastElementChild.remove(); this.count -= 1; }
          this.updateSummary();
          if (this.root.dataset.state !== 'ready') this.setState('ready');
        },
      });
    }
  }

  // ---------- Kafka topic tail ----------
  const MAX_TOPIC_ROWS = 500;
  const MAX_PAUSE_BUFFER = 1000;
  const RATE_WINDOW_MS = 5000;

  class TopicPanel extends Panel {
    init() {
      this.select = el('select', { 'data-testid': 'topic-select', onchange: () => { this.topic = this.select.value; if (this.running) this.start(); } });
      this.toggleBtn = el('button', { class: 'btn primary', type: 'button', 'data-testid': 'topic-toggle', text: 'Start', onclick: () => (this.running ? this.stop() : this.start()) });
      this.pauseBtn = el('button', { class: 'btn', type: 'button', 'data-testid': 'topic-pause', text: 'Pause', disabled: true, onclick: () => this.togglePause() });
      this.countEl = el('span', { class: 'stat-value', 'data-testid': 'topic-count', text: '0' });
      this.rateEl = el('span', { class: 'stat-value', 'data-testid': 'topic-rate', text: '0.0 rec/s' });
      this.bufferEl = el('span', { class: 'stat', 'data-testid': 'topic-buffer', hidden: true });
      this.live = el('span', { class: 'live off', text: 'stopped' });
      this.notice = el('div', { class: 'notice', 'data-testid': 'topic-notice', hidden: true });
      this.list = el('div', { class: 'record-list', 'data-testid': 'topic-list' });
      this.scaffold([
        el('label', { class: 'inline' }, 'Topic ', this.select),
        this.toggleBtn, this.pauseBtn,
        el('button', { class: 'btn', type: 'button', text: 'Clear', onclick: () => this.clear() }),
        el('span', { class: 'spacer' }),
        el('span', { class: 'stat' }, 'Received ', this.countEl),
        el('span', { class: 'stat' }, 'Rate ', this.rateEl),
        this.bufferEl, this.live,
      ], [
        this.notice,
        el('div', { class: 'record-head' }, el('span', { text: 'partition:offset' }), el('span', { text: 'key' }), el('span', { text: 'timestamp (UTC)' }), el('span', { text: 'value' })),
        this.list,
      ]);
      this.topic = qp('topic', config.default_topic || '') || '';
      this.running = false;
      this.paused = false;
      this.received = 0;
      this.arrivals = [];
      this.pending = [];
      this.pausedBuffer = [];
      this.pausedDropped = 0;
      this.skipped = 0;
      this.flushScheduled = false;
      setInterval(() => this.updateRate(), 500);
    }
    async load() {
      const token = this.newToken();
      this.setState('loading', 'Loading topics…');
      let topics;
      try { topics = await getTopics(); } catch (e) { if (!this.stale(token)) this.fail(e); return; }
      if (this.stale(token)) return;
      if (!topics.length) {
        this.stop();
        this.setState('empty', 'No events yet — the server allows no topics to be tailed.');
        return;
      }
      if (!topics.some((t) => t.name === this.topic)) this.topic = topics[0].name;
      fillSelect(this.select, topics.map((t) => ({ value: t.name, label: t.name + (t.partitions ? ' (' + t.partitions + 'p)' : '') })), this.topic);
      this.start();
    }
    start() {
      this.stopSocket();
      const token = this.newToken();
      const f = this.filters;
      this.running = true;
      this.startedAt = performance.now();
      this.toggleBtn.textContent = 'Stop';
      this.pauseBtn.disabled = false;
      this.live.textContent = 'connecting…';
      this.live.className = 'live off';
      if (!this.received) this.setState('loading', 'Connecting to ' + this.topic + '…');
      this.socket = openSocket('/ws/topic/' + encodeURIComponent(this.topic), { symbol: f.symbol, type: f.type }, {
        onOpen: () => {
          if (this.stale(token)) return;
          this.live.textContent = 'live';
          this.live.className = 'live on';
          if (!this.received) this.setState('empty', 'No events yet — waiting for new records on ' + this.topic + '.');
          else if (this.root.dataset.state !== 'ready') this.setState('ready');
        },
        onDisconnect: () => {
          if (this.stale(token)) return;
          this.live.textContent = 'reconnecting…';
          this.live.className = 'live off';
        },
        onMessage: (msg) => { if (!this.stale(token)) this.handle(msg); },
      });
    }
    stopSocket() {
      if (this.socket) { this.socket.close(); this.socket = null; }
    }
    stop() {
      this.newToken();
      this.stopSocket();
      this.running = false;
      if (this.paused) this.togglePause();
      this.toggleBtn.textContent = 'Start';
      this.pauseBtn.disabled = true;
      this.live.textContent = 'stopped';
      this.live.className = 'live off';
      if (this.root.dataset.state === 'loading') this.setState('empty', 'No events yet — press Start to tail a topic.');
    }
    clear() {
      this.list.textContent = '';
      this.pending = [];
      this.pausedBuffer = [];
      this.pausedDropped = 0;
      this.skipped = 0;
      this.received = 0;
      this.arrivals = [];
      this.countEl.textContent = '0';
      this.notice.hidden = true;
      this.updateBuffer();
      if (this.running) this.setState('empty', 'No events yet — waiting for new records on ' + this.topic + '.');
    }
    handle(msg) {
      if (!msg || typeof msg !== 'object') return;
      if (msg.kind === 'record') {
        this.received += 1;
        this.arrivals.push(performance.now());
        this.countEl.textContent = String(this.received);
        if (this.paused) {
          this.pausedBuffer.push(msg);
          if (this.pausedBuffer.length > MAX_PAUSE_BUFFER) {
            this.pausedBuffer.shift();
            this.pausedDropped += 1;
          }
          this.updateBuffer();
        } else {
          this.enqueue(msg);
        }
        if (this.root.dataset.state !== 'ready') this.setState('ready');
      } else if (msg.kind === 'skipped') {
        this.skipped += Number(msg.count) || 0;
        this.notice.hidden = false;
        this.notice.textContent = 'The server skipped ' + this.skipped.toLocaleString('en-US') + ' record(s) because this view could not keep up' + (msg.reason ? ' (' + msg.reason + ')' : '') + '.';
      } else if (msg.kind === 'error') {
        this.setState('error', 'Error: ' + (msg.message || 'topic stream failed'));
      }
    }
    enqueue(rec) {
      this.pending.push(rec);
      if (this.pending.length > MAX_TOPIC_ROWS) this.pending.splice(0, this.pending.length - MAX_TOPIC_ROWS);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        const flush = () => { this.flushScheduled = false; this.flush(); };
        if (document.hidden) setTimeout(flush, 250); else requestAnimationFrame(flush);
      }
    }
    flush() {
      if (!this.pending.length) return;
      const frag = document.createDocumentFragment();
      for (let i = this.pending.length - 1; i >= 0; i--) frag.appendChild(this.row(this.pending[i]));
      this.pending = [];
      this.list.insertBefore(frag, this.list.firstChild);
      while (this.list.childElementCount > MAX_TOPIC_ROWS) this.list.lastElementChild.remove();
    }
    row(rec) {
      let text;
      if (typeof rec.value === 'string') text = rec.value;
      else { try { text = JSON.stringify(rec.value); } catch (e) { text = String(rec.value); } }
      text = text == null ? 'null' : text;
      return el('div', { class: 'record', 'data-testid': 'topic-row' },
        el('span', { class: 'mono off', text: (rec.partition != null ? rec.partition : '?') + ':' + (rec.offset != null ? rec.offset : '?') }),
        el('span', { class: 'mono key', text: rec.key == null ? '∅' : String(rec.key), title: rec.key == null ? 'no key' : null }),
        el('span', { class: 'mono ts', text: fmtTime(rec.timestamp_ms, true) }),
        el('code', { class: 'json', text: truncate(text, 600), title: text.length > 600 ? truncate(text, 4000) : null }),
      );
    }
    togglePause() {
      this.paused = !this.paused;
      this.pauseBtn.textContent = this.paused ? 'Resume' : 'Pause';
      this.pauseBtn.classList.toggle('active', this.paused);
      if (!this.paused) {
        for (const r of this.pausedBuffer) this.enqueue(r);
        this.pausedBuffer = [];
        this.pausedDropped = 0;
      }
      this.updateBuffer();
    }
    updateBuffer() {
      if (!this.paused) { this.bufferEl.hidden = true; return; }
      this.bufferEl.hidden = false;
      this.bufferEl.textContent = 'Paused · ' + this.pausedBuffer.length + ' buffered' + (this.pausedDropped ? ' · ' + this.pausedDropped + ' dropped' : '');
    }
    updateRate() {
      const now = performance.now();
      while (this.arrivals.length && now - this.arrivals[0] > RATE_WINDOW_MS) this.arrivals.shift();
      const since = this.running && this.startedAt ? now - this.startedAt : RATE_WINDOW_MS;
      const windowMs = Math.max(1000, Math.min(RATE_WINDOW_MS, since));
      const rate = this.arrivals.length / (windowMs / 1000);
      this.rateEl.textContent = rate.toFixed(1) + ' rec/s';
    }
  }

  // ---------- date range controls shared by the chart tabs ----------
  function rangeInputs(onEnter) {
    const start = el('input', { type: 'date', 'data-testid': 'range-start', value: msToDateInput(parseDateParam(qp('start', ''), false)) });
    const end = el('input', { type: 'date', 'data-testid': 'range-end', value: msToDateInput(parseDateParam(qp('end', ''), true)) });
    for (const i of [start, end]) i.addEventListener('keydown', (e) => { if (e.key === 'Enter') onEnter(); });
    return {
      nodes: [el('label', { class: 'inline' }, 'From ', start), el('label', { class: 'inline' }, 'To ', end)],
      params() {
        return { start: parseDateParam(start.value, false) ?? undefined, end: parseDateParam(end.value, true) ?? undefined };
      },
    };
  }

  // ---------- Candlestick chart ----------
  class CandlesPanel extends Panel {
    init() {
      this.range = rangeInputs(() => this.load());
      this.liveSelect = el('select', { 'data-testid': 'candles-live-topic', onchange: () => { this.liveTopic = this.liveSelect.value; this.connectLive(); } });
      this.countEl = el('span', { class: 'stat-value', 'data-testid': 'candle-count', text: '0' });
      this.closeEl = el('span', { class: 'stat-value', 'data-testid': 'candle-last-close', text: '—' });
      this.sourceEl = el('span', { class: 'stat' });
      this.live = el('span', { class: 'live off', text: 'live: off' });
      this.chartBox = el('div', { class: 'chart-box', 'data-testid': 'candles-chart' });
      this.scaffold([
        ...this.range.nodes,
        el('button', { class: 'btn primary', type: 'button', text: 'Load', onclick: () => this.load() }),
        el('label', { class: 'inline' }, 'Live topic ', this.liveSelect),
        el('span', { class: 'spacer' }),
        el('span', { class: 'stat' }, 'Candles ', this.countEl),
        el('span', { class: 'stat' }, 'Last close ', this.closeEl),
        this.sourceEl, this.live,
      ], [this.chartBox]);
      this.liveTopic = qp('live_topic', qp('topic', config.default_topic || '')) || '';
      this.chart = LWC.createChart(this.chartBox, chartOptions());
      this.candles = this.chart.addSeries(LWC.CandlestickSeries, {
        upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
      });
      this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.06, bottom: 0.26 } });
      this.volume = this.chart.addSeries(LWC.HistogramSeries, { priceScaleId: 'volume', priceFormat: { type: 'volume' }, lastValueVisible: false, priceLineVisible: false });
      this.chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
      this.lastTime = null;
      this.count = 0;
    }
    async load() {
      const token = this.newToken();
      const f = this.filters;
      this.closeLive();
      this.setState('loading', 'Loading candles…');
      getTopics().then((topics) => {
        if (this.stale(token)) return;
        fillSelect(this.liveSelect, [{ value: '', label: '— none —' }].concat(topics.map((t) => ({ value: t.name, label: t.name }))), this.liveTopic);
        if (this.liveSelect.value !== this.liveTopic) this.liveTopic = this.liveSelect.value;
      }).catch(() => {
        fillSelect(this.liveSelect, [{ value: '', label: '— unavailable —' }], '');
      });
      let body;
      try {
        body = await api('/api/candles', Object.assign({ symbol: f.symbol, type: f.type }, this.range.params()));
      } catch (e) {
        if (!this.stale(token)) { this.clearChart(); this.fail(e); }
        return;
      }
      if (this.stale(token)) return;
      const list = cleanCandles(body.candles);
      this.candles.setData(list.map(toCandle));
      this.volume.setData(list.map(toVolume));
      this.count = list.length;
      this.lastTime = list.length ? Number(list[list.length - 1].time) : null;
      this.countEl.textContent = String(this.count);
      this.closeEl.textContent = list.length ? fmtPrice(Number(list[list.length - 1].close)) : '—';
      this.sourceEl.textContent = (body.symbol || f.symbol) + ' · ' + (body.type || f.type) + (body.source ? ' · ' + body.source : '');
      this.chart.timeScale().fitContent();
      if (list.length) this.setState('ready');
      else this.setState('empty', 'No events yet — no ' + (f.type || 'candles') + ' for ' + (f.symbol || 'this symbol') + ' in the selected range.' + (this.liveTopic ? ' New candles from ' + this.liveTopic + ' will be drawn live.' : ''));
      try { await getTopics(); } catch (e) { return; }
      if (!this.stale(token)) this.connectLive();
    }
    clearChart() {
      this.candles.setData([]);
      this.volume.setData([]);
      this.count = 0;
      this.lastTime = null;
      this.countEl.textContent = '0';
      this.closeEl.textContent = '—';
    }
    closeLive() {
      if (this.socket) { this.socket.close(); this.socket = null; }
      this.live.textContent = 'live: off';
      this.live.className = 'live off';
    }
    connectLive() {
      this.closeLive();
      if (!this.liveTopic) return;
      const symbol = this.filters.symbol;
      this.live.textContent = 'live: connecting…';
      this.socket = openSocket('/ws/topic/' + encodeURIComponent(this.liveTopic), { symbol }, {
        onOpen: () => { this.live.textContent = 'live: ' + this.liveTopic; this.live.className = 'live on'; },
        onDisconnect: () => { this.live.textContent = 'live: reconnecting…'; this.live.className = 'live off'; },
        onMessage: (msg) => this.onRecord(msg, symbol),
      });
    }
    onRecord(msg, symbol) {
      if (!msg || msg.kind !== 'record') return;
      let v = msg.value;
      if (typeof v === 'string') { try { v = JSON.parse(v); } catch (e) { return; } }
      if (!v || typeof v !== 'object') return;
      const keys = ['open_time', 'open', 'high', 'low', 'close', 'volume'];
      if (!keys.every((k) => v[k] != null)) return;
      if (symbol && v.symbol != null && String(v.symbol).toUpperCase() !== symbol.toUpperCase()) return;
      const c = {
        time: Math.floor(Number(v.open_time) / 1000), open: Number(v.open), high: Number(v.high),
        low: Number(v.low), close: Number(v.close), volume: Number(v.volume),
      };
      if (![c.time, c.open, c.high, c.low, c.close].every(isFinite)) return;
      if (this.lastTime != null && c.time < this.lastTime) return;
      this.candles.update(toCandle(c));
      this.volume.update(toVolume(c));
      if (this.lastTime == null || c.time > this.lastTime) {
        this.count += 1;
        this.countEl.textContent = String(this.count);
      }
      this.lastTime = c.time;
      this.closeEl.textContent = fmtPrice(c.close);
      if (this.root.dataset.state === 'empty') this.setState('ready');
    }
  }

  // ---------- Indicators ----------
  const IND_COLORS = { sma: '#f1a34e', ema: '#4e9af1', vwap: '#e879b9', rsi: '#a57be8' };

  class IndicatorsPanel extends Panel {
    init() {
      this.range = rangeInputs(() => this.load());
      this.periods = {};
      const periodInputs = ['rsi', 'sma', 'ema', 'vwap'].map((k) => {
        const def = { rsi: 14, sma: 20, ema: 20, vwap: 20 }[k];
        const v = parseInt(qp(k, String(def)), 10);
        const input = el('input', { type: 'number', min: 1, max: 500, class: 'short', value: v > 0 ? v : def, 'data-testid': 'period-' + k });
        input.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.load(); });
        this.periods[k] = input;
        return el('label', { class: 'inline' }, k.toUpperCase() + ' ', input);
      });
      this.legend = el('div', { class: 'legend', 'data-testid': 'indicator-legend' });
      this.chartBox = el('div', { class: 'chart-box', 'data-testid': 'indicators-chart' });
      this.scaffold([
        ...this.range.nodes, ...periodInputs,
        el('button', { class: 'btn primary', type: 'button', text: 'Load', onclick: () => this.load() }),
      ], [this.legend, this.chartBox]);
      this.chart = LWC.createChart(this.chartBox, chartOptions());
      this.candles = this.chart.addSeries(LWC.CandlestickSeries, {
        upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
      });
      const line = (color) => ({ color, lineWidth: 2, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false });
      this.lines = {
        sma: this.chart.addSeries(LWC.LineSeries, line(IND_COLORS.sma)),
        ema: this.chart.addSeries(LWC.LineSeries, line(IND_COLORS.ema)),
        vwap: this.chart.addSeries(LWC.LineSeries, Object.assign(line(IND_COLORS.vwap), { lineStyle: LWC.LineStyle.Dashed })),
      };
      this.rsi = this.chart.addSeries(LWC.LineSeries, Object.assign(line(IND_COLORS.rsi), {
        lastValueVisible: true,
        autoscaleInfoProvider: () => ({ priceRange: { minValue: 0, maxValue: 100 } }),
      }), 1);
      this.rsi.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.08 } });
      for (const level of [30, 70]) {
        this.rsi.createPriceLine({ price: level, color: '#7d8a9b', lineWidth: 1, lineStyle: LWC.LineStyle.Dashed, axisLabelVisible: true, title: String(level) });
      }
      const panes = this.chart.panes();
      if (panes[0]) panes[0].setStretchFactor(3);
      if (panes[1]) panes[1].setStretchFactor(1);
    }
    async load() {
      const token = this.newToken();
      const f = this.filters;
      const periods = {};
      for (const [k, input] of Object.entries(this.periods)) {
        const v = parseInt(input.value, 10);
        periods[k] = v > 0 ? v : { rsi: 14, sma: 20, ema: 20, vwap: 20 }[k];
      }
      this.setState('loading', 'Loading indicators…');
      let body;
      try {
        body = await api('/api/indicators', Object.assign({ symbol: f.symbol, type: f.type }, this.range.params(), periods));
      } catch (e) {
        if (!this.stale(token)) { this.clearChart(); this.fail(e); }
        return;
      }
      if (this.stale(token)) return;
      const candles = cleanCandles(body.candles);
      this.candles.setData(candles.map(toCandle));
      const data = {};
      for (const k of ['sma', 'ema', 'vwap']) {
        data[k] = cleanPoints(body[k]);
        this.lines[k].setData(data[k]);
      }
      data.rsi = cleanPoints(body.rsi);
      this.rsi.setData(data.rsi);
      this.chart.timeScale().fitContent();
      const last = (arr) => (arr.length ? arr[arr.length - 1].value : null);
      this.legend.textContent = '';
      const item = (name, color, value, digits) => el('span', { class: 'legend-item', 'data-series': name.split('(')[0].toLowerCase() },
        el('span', { class: 'swatch', style: 'background:' + color }), el('span', { class: 'legend-name', text: name }),
        el('span', { class: 'legend-value mono', text: value == null ? '—' : (digits != null ? Number(value).toFixed(digits) : fmtPrice(value)) }));
      this.legend.append(
        item('Close', UP, candles.length ? Number(candles[candles.length - 1].close) : null),
        item('SMA(' + periods.sma + ')', IND_COLORS.sma, last(data.sma)),
        item('EMA(' + periods.ema + ')', IND_COLORS.ema, last(data.ema)),
        item('VWAP(' + periods.vwap + ')', IND_COLORS.vwap, last(data.vwap)),
        item('RSI(' + periods.rsi + ')', IND_COLORS.rsi, last(data.rsi), 2),
        el('span', { class: 'hint', text: (f.symbol || '') + ' · ' + (f.type || '') + ' · ' + candles.length + ' candles' }),
      );
      if (candles.length) this.setState('ready');
      else this.setState('empty', 'No events yet — no ' + (f.type || 'candles') + ' for ' + (f.symbol || 'this symbol') + ' in the selected range.');
    }
    clearChart() {
      this.candles.setData([]);
      for (const s of Object.values(this.lines)) s.setData([]);
      this.rsi.setData([]);
      this.legend.textContent = '';
    }
  }

  // ---------- Heatmap of order book levels ----------
  class HeatmapPanel extends Panel {
    init() {
      this.topicInput = el('input', { list: 'heatmap-topics', class: 'medium', 'data-testid': 'heatmap-topic', placeholder: 'order book topic', value: qp('orderbook_topic', config.default_orderbook_topic || '') || '' });
      this.datalist = el('datalist', { id: 'heatmap-topics' });
      this.buckets = el('input', { type: 'number', class: 'short', min: 10, max: 1000, value: parseInt(qp('buckets', '120'), 10) || 120 });
      this.levels = el('input', { type: 'number', class: 'short', min: 5, max: 400, value: parseInt(qp('levels', '60'), 10) || 60 });
      for (const i of [this.topicInput, this.buckets, this.levels]) i.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.load(); });
      this.stats = el('span', { class: 'stat', 'data-testid': 'heatmap-stats', text: '' });
      this.canvas = el('canvas', { class: 'plot-canvas', 'data-testid': 'heatmap-canvas' });
      const gradient = (cls) => el('span', { class: 'gradient ' + cls });
      this.scaffold([
        el('label', { class: 'inline' }, 'Order book topic ', this.topicInput), this.datalist,
        el('label', { class: 'inline' }, 'Buckets ', this.buckets),
        el('label', { class: 'inline' }, 'Levels ', this.levels),
        el('button', { class: 'btn primary', type: 'button', text: 'Load', onclick: () => this.load() }),
        el('span', { class: 'spacer' }), this.stats,
      ], [
        el('div', { class: 'legend', 'data-testid': 'heatmap-legend' },
          el('span', { class: 'legend-item' }, el('span', { class: 'legend-name', text: 'Bids' }), gradient('bids'), el('span', { class: 'hint', text: 'low → high qty' })),
          el('span', { class: 'legend-item' }, el('span', { class: 'legend-name', text: 'Asks' }), gradient('asks'), el('span', { class: 'hint', text: 'low → high qty' })),
          el('span', { class: 'legend-item' }, el('span', { class: 'swatch line', style: 'background:#ffffff' }), el('span', { class: 'legend-name', text: 'Mid price' })),
          el('span', { class: 'hint', text: 'time (UTC) →' })),
        el('div', { class: 'canvas-box' }, this.canvas),
      ]);
      this.data = null;
      onResize(this.canvas, () => this.draw());
      getTopics().then((topics) => {
        this.datalist.textContent = '';
        for (const t of topics) this.datalist.append(el('option', { value: t.name }));
      }).catch(() => {});
    }
    async load() {
      const token = this.newToken();
      const f = this.filters;
      const topic = this.topicInput.value.trim();
      this.data = null;
      if (!topic) {
        this.stats.textContent = '';
        this.draw();
        this.setState('empty', 'No events yet — choose an order book topic to draw its depth over time.');
        return;
      }
      this.setState('loading', 'Loading order book levels…');
      let body;
      try {
        body = await api('/api/heatmap', { topic, symbol: f.symbol, buckets: this.buckets.value || 120, levels: this.levels.value || 60 });
      } catch (e) {
        if (!this.stale(token)) { this.draw(); this.fail(e); }
        return;
      }
      if (this.stale(token)) return;
      this.data = body;
      const times = body.times || [];
      this.stats.textContent = (body.symbol || f.symbol) + ' · snapshots ' + (body.snapshots ?? 0) + ' · diffs ' + (body.diffs ?? 0) + ' · gaps ' + (body.gaps ?? 0);
      this.draw();
      if (times.length && (body.prices || []).length) this.setState('ready');
      else this.setState('empty', 'No events yet — no order book data for ' + (f.symbol || 'this symbol') + ' on ' + topic + '.');
    }
    draw() {
      const d = this.data;
      const times = d && d.times ? d.times : [];
      const prices = d && d.prices ? d.prices : [];
      if (!times.length || !prices.length) { drawCanvasMessage(this.canvas, 'No order book data'); return; }
      const { ctx, w, h } = prepareCanvas(this.canvas);
      const m = { left: 78, right: 14, top: 10, bottom: 26 };
      const pw = Math.max(10, w - m.left - m.right);
      const ph = Math.max(10, h - m.top - m.bottom);
      ctx.fillStyle = THEME.plot;
      ctx.fillRect(m.left, m.top, pw, ph);
      const nT = times.length;
      const nP = prices.length;
      const cw = pw / nT;
      const ch = ph / nP;
      const bids = d.bids || [];
      const asks = d.asks || [];
      // Scale intensity by a high percentile so a few huge levels do not wash out the rest.
      const qtys = [];
      for (const side of [bids, asks]) for (const row of side) for (const q of row || []) if (q > 0) qtys.push(Number(q));
      qtys.sort((a, b) => a - b);
      const ref = qtys.length ? qtys[Math.min(qtys.length - 1, Math.floor(qtys.length * 0.98))] : 1;
      const cell = (rows, t, p, rgb) => {
        const q = rows[t] ? Number(rows[t][p]) : 0;
        if (!(q > 0)) return;
        const a = Math.min(1, Math.sqrt(q / ref));
        ctx.fillStyle = 'rgba(' + rgb + ',' + (0.12 + 0.88 * a).toFixed(3) + ')';
        ctx.fillRect(m.left + t * cw, m.top + ph - (p + 1) * ch, Math.ceil(cw), Math.ceil(ch));
      };
      for (let t = 0; t < nT; t++) {
        for (let p = 0; p < nP; p++) {
          cell(bids, t, p, '38,200,120');
          cell(asks, t, p, '240,80,80');
        }
      }
      // Mid price line, mapped to fractional price-level index.
      const priceToY = (price) => {
        let idx;
        if (price <= prices[0]) idx = 0;
        else if (price >= prices[nP - 1]) idx = nP - 1;
        else {
          let lo = 0, hi = nP - 1;
          while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (prices[mid] <= price) lo = mid; else hi = mid; }
          idx = lo + (price - prices[lo]) / ((prices[hi] - prices[lo]) || 1);
        }
        return m.top + ph - (idx + 0.5) * ch;
      };
      const mids = d.mid || [];
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let pen = false;
      for (let t = 0; t < nT; t++) {
        const v = mids[t];
        if (v == null || !isFinite(v)) { pen = false; continue; }
        const x = m.left + (t + 0.5) * cw;
        const y = priceToY(Number(v));
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      }
      ctx.stroke();
      // Axes.
      ctx.strokeStyle = THEME.axis;
      ctx.lineWidth = 1;
      ctx.strokeRect(m.left + 0.5, m.top + 0.5, pw, ph);
      ctx.fillStyle = THEME.text;
      ctx.font = '11px system-ui, sans-serif';
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      const yStep = Math.max(1, Math.ceil(nP / Math.max(2, Math.floor(ph / 28))));
      for (let p = 0; p < nP; p += yStep) {
        const y = m.top + ph - (p + 0.5) * ch;
        ctx.fillText(fmtPrice(Number(prices[p])), m.left - 6, y);
        ctx.fillRect(m.left - 3, y, 3, 1);
      }
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      const span = Number(times[nT - 1]) - Number(times[0]);
      const xStep = Math.max(1, Math.ceil(nT / Math.max(2, Math.floor(pw / 90))));
      for (let t = 0; t < nT; t += xStep) {
        const x = m.left + (t + 0.5) * cw;
        ctx.fillText(fmtShortTime(Number(times[t]), span), x, m.top + ph + 6);
        ctx.fillRect(x, m.top + ph, 1, 3);
      }
    }
  }

  // ---------- generic x/y plot used by the GNN tab ----------
  // spec: { series: [{ name, color, axis: 'left'|'right', points: [[x,y]], line, dots, dotColors }],
  //         xFormat, leftLabel, rightLabel, leftRange, rightRange, legend: [{ name, color }], guides: [{ axis, value }] }
  function drawXY(canvas, spec) {
    const all = spec.series.flatMap((s) => s.points);
    if (!all.length) { drawCanvasMessage(canvas, spec.emptyText || 'No data'); return; }
    const { ctx, w, h } = prepareCanvas(canvas);
    const m = { left: 56, right: spec.rightLabel ? 52 : 16, top: 28, bottom: 30 };
    const pw = Math.max(10, w - m.left - m.right);
    const ph = Math.max(10, h - m.top - m.bottom);
    let xmin = Infinity, xmax = -Infinity;
    for (const [x] of all) { if (x < xmin) xmin = x; if (x > xmax) xmax = x; }
    if (xmin === xmax) { xmin -= 1; xmax += 1; }
    const range = (axis, fixed) => {
      if (fixed) return fixed;
      let lo = Infinity, hi = -Infinity;
      for (const s of spec.series) if ((s.axis || 'left') === axis) for (const [, y] of s.points) { if (y < lo) lo = y; if (y > hi) hi = y; }
      if (!isFinite(lo)) return [0, 1];
      if (lo === hi) { lo -= 0.5; hi += 0.5; }
      const padv = (hi - lo) * 0.06;
      return [Math.min(lo - padv, lo >= 0 && lo - padv < 0 ? 0 : lo - padv), hi + padv];
    };
    const L = range('left', spec.leftRange);
    const R = range('right', spec.rightRange);
    const X = (x) => m.left + ((x - xmin) / (xmax - xmin)) * pw;
    const Y = (y, axis) => { const r = axis === 'right' ? R : L; return m.top + ph - ((y - r[0]) / (r[1] - r[0])) * ph; };
    ctx.fillStyle = THEME.plot;
    ctx.fillRect(m.left, m.top, pw, ph);
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    // grid + left ticks
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const t of niceTicks(L[0], L[1], Math.max(2, Math.floor(ph / 40)))) {
      if (t < L[0] || t > L[1]) continue;
      const y = Math.round(Y(t, 'left')) + 0.5;
      ctx.strokeStyle = THEME.grid;
      ctx.beginPath(); ctx.moveTo(m.left, y); ctx.lineTo(m.left + pw, y); ctx.stroke();
      ctx.fillStyle = THEME.text;
      ctx.fillText(fmtTick(t), m.left - 6, y);
    }
    if (spec.rightLabel) {
      ctx.textAlign = 'left';
      for (const t of niceTicks(R[0], R[1], Math.max(2, Math.floor(ph / 40)))) {
        if (t < R[0] || t > R[1]) continue;
        ctx.fillStyle = THEME.text;
        ctx.fillText(fmtTick(t), m.left + pw + 6, Y(t, 'right'));
      }
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const xCount = Math.max(2, Math.floor(pw / 110));
    for (const t of spec.timeAxis ? timeTicks(xmin, xmax, xCount) : niceTicks(xmin, xmax, xCount)) {
      if (t < xmin || t > xmax) continue;
      const x = Math.round(X(t)) + 0.5;
      ctx.strokeStyle = THEME.grid;
      ctx.beginPath(); ctx.moveTo(x, m.top); ctx.lineTo(x, m.top + ph); ctx.stroke();
      ctx.fillStyle = THEME.text;
      ctx.fillText(spec.xFormat ? spec.xFormat(t, xmax - xmin) : fmtTick(t), x, m.top + ph + 6);
    }
    for (const g of spec.guides || []) {
      const y = Math.round(Y(g.value, g.axis || 'left')) + 0.5;
      ctx.strokeStyle = THEME.muted;
      ctx.setLineDash([4, 4]);
      ctx.beginPath(); ctx.moveTo(m.left, y); ctx.lineTo(m.left + pw, y); ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.strokeStyle = THEME.axis;
    ctx.strokeRect(m.left + 0.5, m.top + 0.5, pw, ph);
    ctx.save();
    ctx.beginPath();
    ctx.rect(m.left, m.top, pw, ph);
    ctx.clip();
    for (const s of spec.series) {
      const axis = s.axis || 'left';
      if (s.line !== false && s.points.length > 1) {
        ctx.strokeStyle = s.color;
        ctx.lineWidth = s.lineWidth || 2;
        ctx.globalAlpha = s.lineAlpha ?? 1;
        ctx.beginPath();
        s.points.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y, axis)) : ctx.moveTo(X(x), Y(y, axis))));
        ctx.stroke();
        ctx.globalAlpha = 1;
      }
      if (s.dots || s.points.length === 1) {
        s.points.forEach(([x, y], i) => {
          ctx.fillStyle = s.dotColors ? s.dotColors[i] : s.color;
          ctx.beginPath();
          ctx.arc(X(x), Y(y, axis), s.dotRadius || 3, 0, Math.PI * 2);
          ctx.fill();
        });
      }
    }
    ctx.restore();
    // axis titles + legend
    ctx.fillStyle = THEME.muted;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    if (spec.leftLabel) ctx.fillText(spec.leftLabel, 6, 8);
    if (spec.rightLabel) { ctx.textAlign = 'right'; ctx.fillText(spec.rightLabel, w - 6, 8); }
    let lx = m.left + 90;
    ctx.textAlign = 'left';
    for (const item of spec.legend || []) {
      ctx.fillStyle = item.color;
      if (item.dot) { ctx.beginPath(); ctx.arc(lx + 6, 13, 4, 0, Math.PI * 2); ctx.fill(); } else ctx.fillRect(lx, 11, 12, 4);
      ctx.fillStyle = THEME.text;
      ctx.fillText(item.name, lx + 16, 7);
      lx += 26 + ctx.measureText(item.name).width;
      if (lx > w - m.right - 60) break;
    }
  }

  // ---------- GNN output ----------
  const SPLIT_COLORS = { train: '#4e9af1', val: '#e6c84f', test: '#e0605e' };
  const SYMBOL_LINE_COLORS = ['#8fb35a', '#3fc1c9', '#c98a5a', '#e879b9', '#a57be8', '#f1a34e', '#56c271'];

  class GnnPanel extends Panel {
    init() {
      this.select = el('select', { 'data-testid': 'gnn-model-select', onchange: () => this.loadModel() });
      this.stats = el('span', { class: 'stat', 'data-testid': 'gnn-stats' });
      this.curves = el('canvas', { class: 'plot-canvas', 'data-testid': 'gnn-curves' });
      this.preds = el('canvas', { class: 'plot-canvas', 'data-testid': 'gnn-predictions' });
      this.metrics = el('table', { class: 'data-table compact', 'data-testid': 'gnn-metrics' });
      this.note = el('div', { class: 'notice', hidden: true });
      this.pathEl = el('div', { class: 'hint mono path' });
      this.scaffold([
        el('label', { class: 'inline' }, 'Model ', this.select),
        el('button', { class: 'btn', type: 'button', text: 'Reload', onclick: () => this.load() }),
        el('span', { class: 'spacer' }), this.stats,
      ], [
        this.note,
        el('div', { class: 'gnn-grid' },
          el('div', { class: 'card' }, el('div', { class: 'card-title', text: 'Training curves' }), el('div', { class: 'canvas-box' }, this.curves)),
          el('div', { class: 'card' }, el('div', { class: 'card-title', text: 'Predicted probability per node over time' }), el('div', { class: 'canvas-box' }, this.preds)),
          el('div', { class: 'card metrics-card' }, el('div', { class: 'card-title', text: 'Metrics' }), this.pathEl, el('div', { class: 'table-wrap' }, this.metrics)),
        ),
      ]);
      const want = qp('model', '');
      this.wanted = want ? want : (qp('model_graph', '') || qp('model_run', '') ? qp('model_graph', '') + '/' + qp('model_run', '') : '');
      this.models = [];
      this.model = null;
      onResize(this.curves, () => this.drawCurves());
      onResize(this.preds, () => this.drawPreds());
    }
    async load() {
      const token = this.newToken();
      this.setState('loading', 'Loading models…');
      let body;
      try { body = await api('/api/models'); } catch (e) { if (!this.stale(token)) this.fail(e); return; }
      if (this.stale(token)) return;
      this.models = Array.isArray(body.models) ? body.models : [];
      if (!this.models.length) {
        this.select.textContent = '';
        this.model = null;
        this.drawCurves();
        this.drawPreds();
        this.metrics.textContent = '';
        this.setState('empty', 'No events yet — no trained models were found in the lake.');
        return;
      }
      const key = (mo) => mo.graph + '/' + mo.run;
      const current = this.select.value || this.wanted;
      let chosen = this.models.find((mo) => key(mo) === current);
      if (!chosen && this.wanted) {
        const [g, r] = this.wanted.split('/');
        chosen = this.models.find((mo) => (!g || mo.graph === g) && (!r || mo.run === r));
      }
      fillSelect(this.select, this.models.map((mo) => ({ value: key(mo), label: mo.graph + ' · ' + mo.run })), key(chosen || this.models[0]));
      await this.loadModel();
    }
    async loadModel() {
      const token = this.newToken();
      const mo = this.models.find((x) => x.graph + '/' + x.run === this.select.value);
      if (!mo) return;
      this.setState('loading', 'Loading model ' + mo.graph + ' / ' + mo.run + '…');
      this.note.hidden = true;
      const eventsReq = api('/api/events', { queue_id: mo.run, type: '', limit: 200 }).then(
        (b) => ({ events: b.events || [] }), (e) => ({ error: e }));
      let body;
      try { body = await api('/api/model', { graph: mo.graph, run: mo.run }); } catch (e) { if (!this.stale(token)) this.fail(e); return; }
      const ev = await eventsReq;
      if (this.stale(token)) return;
      this.pathEl.textContent = mo.path || '';
      const training = (ev.events || []).map((x) => x.event || {}).filter((e) => e.status === 'training' && e.epoch != null)
        .sort((a, b) => Number(a.epoch) - Number(b.epoch));
      if (ev.error) {
        this.note.hidden = false;
        this.note.textContent = 'Training events could not be loaded: ' + ev.error.message;
      }
      this.model = { info: mo, history: Array.isArray(body.history) ? body.history : [], predictions: Array.isArray(body.predictions) ? body.predictions : [], metrics: body.metrics, training, count: body.prediction_count };
      this.stats.textContent = this.model.history.length + ' epochs · ' + (this.model.count ?? this.model.predictions.length) + ' predictions · ' + training.length + ' training events';
      this.renderMetrics();
      this.drawCurves();
      this.drawPreds();
      this.setState('ready');
    }
    renderMetrics() {
      this.metrics.textContent = '';
      const metrics = this.model && this.model.metrics;
      const rows = [];
      const walk = (obj, prefix) => {
        for (const [k, v] of Object.entries(obj)) {
          const name = prefix ? prefix + '.' + k : k;
          if (v && typeof v === 'object' && !Array.isArray(v)) walk(v, name);
          else rows.push([name, v]);
        }
      };
      if (metrics && typeof metrics === 'object') walk(metrics, '');
      if (!rows.length) {
        this.metrics.append(el('tbody', null, el('tr', null, el('td', { class: 'hint', text: 'No metrics.json for this run.' }))));
        return;
      }
      rows.sort((a, b) => (/test/i.test(b[0]) ? 1 : 0) - (/test/i.test(a[0]) ? 1 : 0));
      const tbody = el('tbody');
      for (const [k, v] of rows) {
        const text = typeof v === 'number' ? fmtNum(v) : Array.isArray(v) ? truncate(JSON.stringify(v), 60) : String(v);
        tbody.append(el('tr', { class: /test/i.test(k) ? 'hl' : null, 'data-testid': 'gnn-metric-row' }, el('th', { text: k }), el('td', { class: 'mono num', text: text })));
      }
      this.metrics.append(el('thead', null, el('tr', null, el('th', { text: 'metric' }), el('th', { text: 'value' }))), tbody);
    }
    drawCurves() {
      const mo = this.model;
      if (!mo) { drawCanvasMessage(this.curves, 'No model selected'); return; }
      const src = mo.history.length ? mo.history : mo.training;
      const pts = (key) => src.filter((r) => r[key] != null && isFinite(Number(r[key])) && r.epoch != null).map((r) => [Number(r.epoch), Number(r[key])]);
      const series = [
        { name: 'loss', color: '#f1a34e', axis: 'left', points: pts('loss'), dots: src.length < 40 },
        { name: 'train acc', color: '#4e9af1', axis: 'right', points: pts('train_acc'), dots: src.length < 40 },
        { name: 'val acc', color: '#56c271', axis: 'right', points: pts('val_acc'), dots: src.length < 40 },
      ];
      if (mo.history.length && mo.training.length) {
        series.push({ name: 'live val acc', color: '#e879b9', axis: 'right', points: mo.training.filter((e) => e.val_acc != null).map((e) => [Number(e.epoch), Number(e.val_acc)]), line: false, dots: true, dotRadius: 2.5 });
      }
      drawXY(this.curves, {
        series, leftLabel: 'loss', rightLabel: 'accuracy', rightRange: [0, 1], xFormat: (t) => 'ep ' + fmtTick(t),
        legend: series.filter((s) => s.points.length).map((s) => ({ name: s.name, color: s.color })),
        emptyText: 'No training history or training events for this run',
      });
    }
    drawPreds() {
      const mo = this.model;
      if (!mo) { drawCanvasMessage(this.preds, 'No model selected'); return; }
      const bySymbol = new Map();
      for (const p of mo.predictions) {
        if (p.time == null || p.probability == null) continue;
        const sym = p.symbol || '?';
        if (!bySymbol.has(sym)) bySymbol.set(sym, []);
        bySymbol.get(sym).push(p);
      }
      const series = [];
      const legend = [];
      let i = 0;
      for (const [sym, list] of bySymbol) {
        list.sort((a, b) => a.time - b.time);
        const color = SYMBOL_LINE_COLORS[i++ % SYMBOL_LINE_COLORS.length];
        series.push({ name: sym, color, points: list.map((p) => [Number(p.time), Number(p.probability)]), lineWidth: 1, lineAlpha: 0.55, dots: true, dotRadius: 2.5, dotColors: list.map((p) => SPLIT_COLORS[p.split] || '#9aa5b4') });
        legend.push({ name: sym, color });
      }
      for (const [split, color] of Object.entries(SPLIT_COLORS)) legend.push({ name: split, color, dot: true });
      drawXY(this.preds, {
        series, leftLabel: 'probability', leftRange: [0, 1], timeAxis: true, xFormat: (t, span) => fmtShortTime(t, span),
        guides: [{ value: 0.5 }], legend, emptyText: 'No predictions for this run',
      });
    }
  }

  // ---------- Graph view with a force-directed layout ----------
  const EDGE_COLORS = { temporal: '#6f86a6', correlation: '#f1a34e' };

  function seededRandom(seed) {
    let s = seed >>> 0 || 1;
    return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
  }

  class GraphPanel extends Panel {
    init() {
      this.select = el('select', { 'data-testid': 'graph-select', onchange: () => this.loadGraph() });
      this.limit = el('input', { type: 'number', class: 'short', min: 10, max: 5000, value: parseInt(qp('limit', '400'), 10) || 400 });
      this.limit.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.loadGraph(); });
      this.counts = el('span', { class: 'stat-value', 'data-testid': 'graph-counts', text: '0 nodes · 0 edges' });
      this.canvas = el('canvas', { class: 'plot-canvas graph-canvas', 'data-testid': 'graph-canvas' });
      this.details = el('div', { class: 'node-details', 'data-testid': 'graph-node-details' }, el('p', { class: 'hint', text: 'Click a node to see its features. Drag to pan, scroll to zoom.' }));
      this.legend = el('div', { class: 'graph-legend' });
      this.scaffold([
        el('label', { class: 'inline' }, 'Graph ', this.select),
        el('label', { class: 'inline' }, 'Node limit ', this.limit),
        el('button', { class: 'btn', type: 'button', text: 'Reload', onclick: () => this.load() }),
        el('button', { class: 'btn', type: 'button', text: 'Re-layout', onclick: () => this.relayout() }),
        el('button', { class: 'btn', type: 'button', text: 'Fit', onclick: () => { this.fit(); this.draw(); } }),
        el('span', { class: 'spacer' }), this.counts,
      ], [
        el('div', { class: 'graph-layout' },
          el('div', { class: 'canvas-box' }, this.canvas),
          el('aside', { class: 'side-panel' }, this.legend, this.details)),
      ]);
      this.wanted = qp('graph', '');
      this.graphs = [];
      this.nodes = [];
      this.edges = [];
      this.view = { x: 0, y: 0, k: 1 };
      this.selected = null;
      this.userMoved = false;
      this.running = false;
      onResize(this.canvas, () => { if (!this.userMoved) this.fit(); this.draw(); });
      this.bindPointer();
    }
    async load() {
      const token = this.newToken();
      this.setState('loading', 'Loading graphs…');
      let body;
      try { body = await api('/api/graphs'); } catch (e) { if (!this.stale(token)) this.fail(e); return; }
      if (this.stale(token)) return;
      this.graphs = Array.isArray(body.graphs) ? body.graphs : [];
      if (!this.graphs.length) {
        this.select.textContent = '';
        this.nodes = [];
        this.edges = [];
        this.draw();
        this.setState('empty', 'No events yet — no graphs have been built.');
        return;
      }
      const current = this.select.value || this.wanted;
      const chosen = this.graphs.find((g) => g.name === current) || this.graphs[0];
      fillSelect(this.select, this.graphs.map((g) => ({ value: g.name, label: g.name + ' (' + (g.node_count ?? '?') + ' nodes)' })), chosen.name);
      await this.loadGraph();
    }
    async loadGraph() {
      const token = this.newToken();
      const name = this.select.value;
      if (!name) return;
      this.setState('loading', 'Loading graph ' + name + '…');
      let body;
      try { body = await api('/api/graph', { name, limit: parseInt(this.limit.value, 10) || 400 }); } catch (e) { if (!this.stale(token)) this.fail(e); return; }
      if (this.stale(token)) return;
      const rawNodes = Array.isArray(body.nodes) ? body.nodes : [];
      const index = new Map();
      const symbols = [];
      this.nodes = rawNodes.map((n, i) => {
        const sym = n.symbol || '?';
        if (!symbols.includes(sym)) symbols.push(sym);
        const node = { data: n, i, x: 0, y: 0, vx: 0, vy: 0, degree: 0, sym };
        index.set(n.id, node);
        return node;
      });
      this.symbolColor = new Map(symbols.map((s, i) => [s, PALETTE[i % PALETTE.length]]));
      this.edges = [];
      for (const e of Array.isArray(body.edges) ? body.edges : []) {
        const a = index.get(e.src);
        const b = index.get(e.dst);
        if (!a || !b || a === b) continue;
        a.degree += 1;
        b.degree += 1;
        this.edges.push({ a, b, kind: e.kind || 'other', weight: e.weight == null ? 1 : Math.abs(Number(e.weight)) || 0 });
      }
      this.kinds = [...new Set(this.edges.map((e) => e.kind))];
      this.manifest = body.manifest || {};
      this.counts.textContent = this.nodes.length + ' nodes · ' + this.edges.length + ' edges';
      this.renderLegend();
      this.selected = null;
      this.showDetails(null);
      this.relayout();
      if (this.nodes.length) this.setState('ready');
      else this.setState('empty', 'No events yet — graph ' + name + ' has no nodes.');
    }
    renderLegend() {
      this.legend.textContent = '';
      const items = [];
      for (const [s, c] of this.symbolColor) items.push(el('span', { class: 'legend-item' }, el('span', { class: 'swatch dot', style: 'background:' + c }), s));
      for (const k of this.kinds) items.push(el('span', { class: 'legend-item' }, el('span', { class: 'swatch line', style: 'background:' + (EDGE_COLORS[k] || '#9aa5b4') }), k + ' edge'));
      this.legend.append(el('div', { class: 'card-title', text: 'Legend' }), el('div', { class: 'legend wrap' }, items));
    }
    relayout() {
      const n = this.nodes.length;
      const rand = seededRandom(n * 7919 + this.edges.length);
      const syms = [...this.symbolColor.keys()];
      const times = this.nodes.map((d) => Number(d.data.time) || 0);
      const tmin = times.length ? Math.min(...times) : 0;
      const tmax = times.length ? Math.max(...times) : 0;
      const spread = Math.sqrt(n) * 18 + 50;
      for (const d of this.nodes) {
        const tx = tmax > tmin ? ((Number(d.data.time) - tmin) / (tmax - tmin)) - 0.5 : rand() - 0.5;
        const sy = syms.length > 1 ? syms.indexOf(d.sym) / (syms.length - 1) - 0.5 : 0;
        d.x = tx * spread * 2 + (rand() - 0.5) * 20;
        d.y = sy * spread + (rand() - 0.5) * spread * 0.5;
        d.vx = 0;
        d.vy = 0;
      }
      this.alpha = 1;
      this.userMoved = false;
      this.canvas.dataset.settled = 'false';
      this.fit();
      if (!this.running) { this.running = true; requestAnimationFrame(() => this.frame()); }
    }
    tick() {
      const nodes = this.nodes;
      const n = nodes.length;
      const alpha = this.alpha;
      const charge = 900;
      for (let i = 0; i < n; i++) {
        const a = nodes[i];
        for (let j = i + 1; j < n; j++) {
          const b = nodes[j];
          let dx = a.x - b.x;
          let dy = a.y - b.y;
          let d2 = dx * dx + dy * dy;
          if (d2 < 0.01) { dx = (i - j) * 0.01; dy = 0.01; d2 = dx * dx + dy * dy; }
          if (d2 > 250000) continue;
          const f = (charge * alpha) / d2;
          const d = Math.sqrt(d2);
          const fx = (dx / d) * f;
          const fy = (dy / d) * f;
          a.vx += fx; a.vy += fy;
          b.vx -= fx; b.vy -= fy;
        }
      }
      for (const e of this.edges) {
        const dx = e.b.x - e.a.x;
        const dy = e.b.y - e.a.y;
        const d = Math.sqrt(dx * dx + dy * dy) || 0.01;
        const rest = e.kind === 'temporal' ? 22 : 40;
        const strength = 0.08 * Math.min(1, 0.3 + e.weight) / Math.max(1, Math.min(e.a.degree, e.b.degree) * 0.5);
        const f = (d - rest) * strength * alpha;
        const fx = (dx / d) * f;
        const fy = (dy / d) * f;
        e.a.vx += fx; e.a.vy += fy;
        e.b.vx -= fx; e.b.vy -= fy;
      }
      let moved = 0;
      for (const d of nodes) {
        d.vx -= d.x * 0.004 * alpha;
        d.vy -= d.y * 0.004 * alpha;
        d.vx *= 0.55;
        d.vy *= 0.55;
        const vmax = 30;
        d.vx = Math.max(-vmax, Math.min(vmax, d.vx));
        d.vy = Math.max(-vmax, Math.min(vmax, d.vy));
        d.x += d.vx;
        d.y += d.vy;
        moved += Math.abs(d.vx) + Math.abs(d.vy);
      }
      this.alpha *= 0.985;
      return n ? moved / n : 0;
    }
    frame() {
      if (!this.nodes.length) { this.running = false; this.draw(); return; }
      const started = performance.now();
      let movement = Infinity;
      do { movement = this.tick(); } while (performance.now() - started < 12 && this.alpha > 0.004);
      if (!this.userMoved) this.fit();
      this.draw();
      if (this.alpha > 0.004 && movement > 0.02) {
        requestAnimationFrame(() => this.frame());
      } else {
        this.running = false;
        this.canvas.dataset.settled = 'true';
        this.exposeSample();
      }
    }
    // Publishes the on-screen position of one node so automated checks can click it.
    exposeSample() {
      const rect = this.canvas.getBoundingClientRect();
      let best = null;
      let bestD = Infinity;
      for (const d of this.nodes) {
        const [sx, sy] = this.toScreen(d.x, d.y);
        const dd = (sx - rect.width / 2) ** 2 + (sy - rect.height / 2) ** 2;
        if (dd < bestD) { bestD = dd; best = [sx, sy]; }
      }
      if (best) this.canvas.dataset.nodeSample = Math.round(best[0]) + ',' + Math.round(best[1]);
    }
    fit() {
      const rect = this.canvas.getBoundingClientRect();
      if (!this.nodes.length || rect.width < 10 || rect.height < 10) return;
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (const d of this.nodes) { x0 = Math.min(x0, d.x); x1 = Math.max(x1, d.x); y0 = Math.min(y0, d.y); y1 = Math.max(y1, d.y); }
      const pad = 30;
      const k = Math.min((rect.width - 2 * pad) / Math.max(1, x1 - x0), (rect.height - 2 * pad) / Math.max(1, y1 - y0), 4);
      this.view = { k, x: rect.width / 2 - ((x0 + x1) / 2) * k, y: rect.height / 2 - ((y0 + y1) / 2) * k };
    }
    toScreen(x, y) { return [x * this.view.k + this.view.x, y * this.view.k + this.view.y]; }
    toWorld(sx, sy) { return [(sx - this.view.x) / this.view.k, (sy - this.view.y) / this.view.k]; }
    radius(d) { return Math.min(9, 3 + Math.sqrt(d.degree)); }
    draw() {
      if (!this.nodes.length) { drawCanvasMessage(this.canvas, 'No graph loaded'); return; }
      const { ctx } = prepareCanvas(this.canvas);
      const k = this.view.k;
      ctx.save();
      ctx.translate(this.view.x, this.view.y);
      ctx.scale(k, k);
      const sel = this.selected;
      for (const kind of this.kinds) {
        ctx.strokeStyle = EDGE_COLORS[kind] || '#9aa5b4';
        ctx.globalAlpha = kind === 'temporal' ? 0.55 : 0.35;
        ctx.lineWidth = 1 / k;
        ctx.beginPath();
        for (const e of this.edges) {
          if (e.kind !== kind) continue;
          ctx.moveTo(e.a.x, e.a.y);
          ctx.lineTo(e.b.x, e.b.y);
        }
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
      if (sel) {
        ctx.lineWidth = 2.5 / k;
        for (const e of this.edges) {
          if (e.a !== sel && e.b !== sel) continue;
          ctx.strokeStyle = EDGE_COLORS[e.kind] || '#9aa5b4';
          ctx.beginPath(); ctx.moveTo(e.a.x, e.a.y); ctx.lineTo(e.b.x, e.b.y); ctx.stroke();
        }
      }
      for (const d of this.nodes) {
        const r = this.radius(d) / Math.sqrt(k);
        ctx.fillStyle = this.symbolColor.get(d.sym);
        ctx.beginPath();
        ctx.arc(d.x, d.y, Math.max(r, 2.2 / k), 0, Math.PI * 2);
        ctx.fill();
        if (d.data.label === 1) { ctx.strokeStyle = '#ffffff'; ctx.lineWidth = 1 / k; ctx.stroke(); }
      }
      if (sel) {
        ctx.strokeStyle = '#ffffff';
        ctx.lineWidth = 3 / k;
        ctx.beginPath();
        ctx.arc(sel.x, sel.y, this.radius(sel) / Math.sqrt(k) + 4 / k, 0, Math.PI * 2);
        ctx.stroke();
      }
      ctx.restore();
    }
    hit(sx, sy) {
      const [wx, wy] = this.toWorld(sx, sy);
      let best = null;
      let bestD = Infinity;
      for (const d of this.nodes) {
        const dd = (d.x - wx) ** 2 + (d.y - wy) ** 2;
        if (dd < bestD) { bestD = dd; best = d; }
      }
      const tol = (this.radius(best || { degree: 0 }) + 6) / this.view.k;
      return best && bestD <= tol * tol * Math.max(1, this.view.k) ? best : null;
    }
    bindPointer() {
      const c = this.canvas;
      let drag = null;
      c.addEventListener('pointerdown', (e) => {
        c.setPointerCapture(e.pointerId);
        drag = { x: e.offsetX, y: e.offsetY, vx: this.view.x, vy: this.view.y, moved: false };
      });
      c.addEventListener('pointermove', (e) => {
        if (!drag) {
          c.style.cursor = this.hit(e.offsetX, e.offsetY) ? 'pointer' : 'grab';
          return;
        }
        const dx = e.offsetX - drag.x;
        const dy = e.offsetY - drag.y;
        if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
        drag.moved = true;
        this.userMoved = true;
        c.style.cursor = 'grabbing';
        this.view.x = drag.vx + dx;
        this.view.y = drag.vy + dy;
        if (!this.running) this.draw();
      });
      const end = (e) => {
        if (!drag) return;
        if (!drag.moved) {
          this.selected = this.hit(e.offsetX, e.offsetY);
          this.showDetails(this.selected);
          if (!this.running) this.draw();
        }
        drag = null;
        c.style.cursor = 'grab';
      };
      c.addEventListener('pointerup', end);
      c.addEventListener('pointercancel', () => { drag = null; });
      c.addEventListener('wheel', (e) => {
        e.preventDefault();
        const factor = Math.exp(-e.deltaY * 0.0015);
        const k = Math.max(0.02, Math.min(40, this.view.k * factor));
        const [wx, wy] = this.toWorld(e.offsetX, e.offsetY);
        this.view.k = k;
        this.view.x = e.offsetX - wx * k;
        this.view.y = e.offsetY - wy * k;
        this.userMoved = true;
        if (!this.running) this.draw();
      }, { passive: false });
    }
    showDetails(node) {
      this.details.textContent = '';
      if (!node) {
        this.details.append(el('p', { class: 'hint', text: 'Click a node to see its features. Drag to pan, scroll to zoom.' }));
        return;
      }
      const d = node.data;
      const kinds = {};
      for (const e of this.edges) if (e.a === node || e.b === node) kinds[e.kind] = (kinds[e.kind] || 0) + 1;
      const rows = [
        ['node', String(d.id)], ['symbol', d.symbol || '—'], ['time (UTC)', fmtTime(d.time)],
        ['label', d.label == null ? 'unlabelled' : String(d.label)],
        ['edges', Object.entries(kinds).map(([k, v]) => k + ' ' + v).join(', ') || 'none'],
      ];
      const feats = d.features && typeof d.features === 'object' ? Object.entries(d.features) : [];
      this.details.append(
        el('div', { class: 'card-title' }, el('span', { class: 'swatch dot', style: 'background:' + this.symbolColor.get(node.sym) }), ' Node ' + d.id),
        el('table', { class: 'data-table compact' }, el('tbody', null, rows.map(([k, v]) => el('tr', null, el('th', { text: k }), el('td', { class: 'mono', text: v }))))),
        el('div', { class: 'card-title', text: 'Features (' + feats.length + ')' }),
        el('table', { class: 'data-table compact', 'data-testid': 'graph-node-features' }, el('tbody', null,
          feats.map(([k, v]) => el('tr', null, el('th', { text: k }), el('td', { class: 'mono num', text: typeof v === 'number' ? fmtNum(v) : JSON.stringify(v) }))))),
      );
    }
  }

  // ---------- tabs, filter bar and start-up ----------
  panels.webhooks = new WebhooksPanel('webhooks');
  panels.topic = new TopicPanel('topic');
  panels.candles = new CandlesPanel('candles');
  panels.heatmap = new HeatmapPanel('heatmap');
  panels.indicators = new IndicatorsPanel('indicators');
  panels.gnn = new GnnPanel('gnn');
  panels.graph = new GraphPanel('graph');

  const form = document.getElementById('filterbar');
  const note = document.getElementById('filter-note');

  function syncFilterBar(tab) {
    const group = filterGroups[TAB_GROUP[tab]];
    for (const label of form.querySelectorAll('[data-filter]')) {
      const name = label.dataset.filter;
      const input = label.querySelector('input');
      const applies = group.fields.includes(name);
      label.classList.toggle('disabled', !applies);
      input.disabled = !applies;
      input.value = applies ? group.values[name] || '' : '';
      if (name === 'type') input.placeholder = TYPE_PLACEHOLDER[TAB_GROUP[tab]] || 'any type';
    }
    form.querySelector('button').disabled = !group.fields.length;
    note.textContent = group.fields.length ? (TAB_GROUP[tab] === 'market' ? 'applies to the chart, heatmap and indicator tabs' : '') : 'filters do not apply to this tab';
  }

  function activate(tab) {
    if (!panels[tab]) tab = 'webhooks';
    currentTab = tab;
    for (const a of document.querySelectorAll('.tabs a')) {
      const on = a.dataset.tab === tab;
      a.classList.toggle('active', on);
      a.setAttribute('aria-selected', on ? 'true' : 'false');
    }
    for (const [id, p] of Object.entries(panels)) p.root.hidden = id !== tab;
    syncFilterBar(tab);
    const p = panels[tab];
    if (!p.initialized) {
      p.initialized = true;
      try {
        p.init();
      } catch (e) {
        p.root.dataset.state = 'error';
        p.root.append(el('div', { class: 'panel-msg error', text: 'Error: ' + e.message }));
        return;
      }
    }
    if (p.dirty) {
      p.dirty = false;
      Promise.resolve(p.load()).catch((e) => p.fail(e));
    }
    document.title = 'StreamForge · ' + document.querySelector('.tabs a[data-tab="' + tab + '"]').textContent;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const groupName = TAB_GROUP[currentTab];
    const group = filterGroups[groupName];
    for (const f of group.fields) group.values[f] = form.elements[f].value.trim();
    for (const [id, g] of Object.entries(TAB_GROUP)) if (g === groupName && id !== currentTab) panels[id].dirty = true;
    const p = panels[currentTab];
    Promise.resolve(p.load()).catch((err) => p.fail(err));
  });

  window.addEventListener('hashchange', () => activate(location.hash.slice(1)));
  if (configError) {
    const banner = el('div', { class: 'panel-msg error config-error', text: configError });
    document.body.insertBefore(banner, document.getElementById('panels'));
  }
  activate(location.hash.slice(1) || 'webhooks');
})();
