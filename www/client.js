// SPDX-License-Identifier: MIT
// chatd's WebSocket client: hello/welcome, catch-up with a cursor, acks, an outbox that survives
// a reload, and reconnects with backoff. No DOM here: app.js listens to its events.
//
// Events: status {state: connecting|reconnecting|live|offline, retryMs}, welcome, auth-failed, message,
// notification, sent {cid, req, ok}, send-failed {cid, req, err}, outbox (the queue changed), and
// every other server frame by its type (presence, typing, read, receipt, delivered, member, ...).

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30000;

export class ChatClient extends EventTarget {
  constructor() {
    super();
    this.ws = null;
    this.user = null;
    this.nextId = 1;
    this.pending = new Map();   // request id -> {resolve, reject}
    this.outbox = new Map();    // cid -> send request, until its ok (kept in localStorage)
    this.inFlight = new Set();  // cids sent on this connection and not answered yet
    this.outboxOf = null;       // whose queue `outbox` holds
    this.ackTimer = null;
    this.retryTimer = null;
    this.handledUpto = 0;       // largest mid handled in this session
    this.attempt = 0;
    this.stopped = true;
    this.live = false;
  }

  key(what) { return 'chatd.' + what + '.' + (this.user || '').toLowerCase(); }
  get cursor() { return Number(localStorage.getItem(this.key('cursor')) || 0); }
  set cursor(mid) { if (mid > this.cursor) localStorage.setItem(this.key('cursor'), String(mid)); }

  // The user is known (from the welcome): their queued sends from an earlier page come back.
  setUser(user) {
    this.user = user;
    if (this.outboxOf === user.toLowerCase()) return;
    this.outboxOf = user.toLowerCase();
    this.outbox.clear();
    try {
      for (const req of JSON.parse(localStorage.getItem(this.key('outbox')) || '[]')) {
        if (req && req.cid && req.type === 'send') this.outbox.set(req.cid, req);
      }
    } catch { /* a damaged queue is dropped */ }
    this.emit('outbox');
  }

  saveOutbox() {
    if (!this.user) return;
    const list = [...this.outbox.values()];
    if (list.length) localStorage.setItem(this.key('outbox'), JSON.stringify(list));
    else localStorage.removeItem(this.key('outbox'));
    this.emit('outbox');
  }

  start(user) {
    if (user) this.user = user;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ws) this.ws.close(1000, 'bye');
    this.ws = null;
    this.live = false;
  }

  // The network came back or the tab is visible again: no need to wait for the backoff.
  reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  connect() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    const ws = new WebSocket(url, 'chatd.v1');
    this.ws = ws;
    this.live = false;
    this.emit('status', { state: this.attempt > 0 ? 'reconnecting' : 'connecting' });
    ws.onopen = () => {
      const hello = { type: 'hello', device: 'web' };
      const token = sessionStorage.getItem('chatd.token');
      if (token) hello.token = token;
      if (this.user && this.cursor > 0) hello.cursor = this.cursor;
      this.request(hello).then((welcome) => {
        this.attempt = 0;
        this.setUser(welcome.user);
        this.emit('welcome', welcome);
      }, (err) => {
        if (err.code === 'closed') return;
        this.stopped = true;
        this.emit('auth-failed', err);
      });
    };
    ws.onmessage = (ev) => {
      for (const line of String(ev.data).split('\n')) {
        if (!line.trim()) continue;
        let msg;
        try { msg = JSON.parse(line); } catch { continue; }
        this.handle(msg);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.live = false;
      this.inFlight.clear();
      for (const p of this.pending.values()) p.reject({ code: 'closed', message: 'connection closed' });
      this.pending.clear();
      if (!this.stopped && ev.code === 1008 && /login|authentication|logged out/.test(ev.reason)) {
        this.stopped = true;
        this.emit('auth-failed', { code: 'unauthorized', message: ev.reason });
      }
      if (this.stopped) {
        this.emit('status', { state: 'offline', code: ev.code, reason: ev.reason });
        return;
      }
      // Exponential backoff with jitter: a restarted server is not met by every page at once.
      const base = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(this.attempt++, 10));
      const delay = Math.round(base / 2 + Math.random() * base / 2);
      this.emit('status', { state: 'offline', code: ev.code, reason: ev.reason, retryMs: delay });
      this.retryTimer = setTimeout(() => { this.retryTimer = null; this.connect(); }, delay);
    };
  }

  handle(msg) {
    if (msg.re !== undefined && this.pending.has(msg.re)) {
      const p = this.pending.get(msg.re);
      this.pending.delete(msg.re);
      if (msg.type === 'error') p.reject(msg); else p.resolve(msg);
      return;
    }
    switch (msg.type) {
      case 'message':
      case 'notification':
        this.handledUpto = Math.max(this.handledUpto, msg.mid);
        this.emit(msg.type, msg);
        this.scheduleAck();
        break;
      case 'live':
        this.live = true;
        this.handledUpto = Math.max(this.handledUpto, msg.mid);
        this.scheduleAck();
        this.emit('status', { state: 'live' });
        this.flushOutbox();
        break;
      default:
        this.emit(msg.type, msg);
    }
  }

  scheduleAck() {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      const upto = this.handledUpto;
      if (upto > 0 && this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify({ type: 'ack', upto }));
        this.cursor = upto;
      }
    }, 200);
  }

  request(obj) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject({ code: 'offline', message: 'not connected' });
        return;
      }
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...obj, id }));
    });
  }

  notify(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  // Queues a message and returns its cid. It stays queued (across reloads) until the server's
  // ok, and is sent again with the same cid after a reconnect: the server stores a repeat once
  // and answers it with the same mid.
  send(target, text) {
    const cid = 'w-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
    const req = { type: 'send', cid, text, ...target };
    this.outbox.set(cid, req);
    this.saveOutbox();
    this.trySend(cid);
    return cid;
  }

  // Gives up on a queued message (the user removed it).
  discard(cid) {
    if (this.outbox.delete(cid)) this.saveOutbox();
  }

  trySend(cid) {
    const req = this.outbox.get(cid);
    if (!req || !this.live || this.inFlight.has(cid)) return;
    this.inFlight.add(cid);
    this.request(req).then((ok) => {
      this.inFlight.delete(cid);
      if (!this.outbox.delete(cid)) return;
      this.saveOutbox();
      this.emit('sent', { cid, req, ok });
    }, (err) => {
      this.inFlight.delete(cid);
      if (err.code === 'closed' || err.code === 'offline' || err.code === 'busy') return;  // after the reconnect
      if (err.code === 'rate_limited' || err.code === 'storage_full') {
        setTimeout(() => this.trySend(cid), Math.max(err.retry_ms || 0, 1000));
        return;
      }
      this.outbox.delete(cid);
      this.saveOutbox();
      this.emit('send-failed', { cid, req, err });
    });
  }

  flushOutbox() { for (const cid of this.outbox.keys()) this.trySend(cid); }
}

export async function api(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  let data = {};
  try { data = await res.json(); } catch { /* empty body */ }
  if (!res.ok) {
    const e = data.error || { code: 'internal', message: 'HTTP ' + res.status };
    e.status = res.status;
    throw e;
  }
  return data;
}
