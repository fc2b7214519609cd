// SPDX-License-Identifier: MIT
// chatd's WebSocket client: hello/welcome, catch-up with a cursor, acks, resends of unanswered
// sends with the same cid, and reconnects with backoff. No DOM here: app.js listens to events.

const RETRY_MS = [1000, 2000, 5000, 10000];

export class ChatClient extends EventTarget {
  constructor() {
    super();
    this.ws = null;
    this.user = null;
    this.nextId = 1;
    this.pending = new Map();   // id -> {resolve, reject, request}
    this.outbox = new Map();    // cid -> send request still waiting for its ok
    this.ackTimer = null;
    this.handledUpto = 0;       // largest mid handled in this session
    this.attempt = 0;
    this.stopped = true;
    this.live = false;
  }

  cursorKey() { return 'chatd.cursor.' + (this.user || '').toLowerCase(); }
  get cursor() { return Number(localStorage.getItem(this.cursorKey()) || 0); }
  set cursor(mid) { if (mid > this.cursor) localStorage.setItem(this.cursorKey(), String(mid)); }

  start(user) {
    this.user = user;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000, 'bye');
    this.ws = null;
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  connect() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    const ws = new WebSocket(url, 'chatd.v1');
    this.ws = ws;
    this.live = false;
    this.emit('status', { state: 'connecting' });
    ws.onopen = () => {
      const hello = { type: 'hello', device: 'web' };
      const token = sessionStorage.getItem('chatd.token');
      if (token) hello.token = token;
      if (this.cursor > 0) hello.cursor = this.cursor;
      this.request(hello).then((welcome) => {
        this.attempt = 0;
        this.emit('welcome', welcome);
      }, (err) => {
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
      for (const p of this.pending.values()) p.reject({ code: 'closed', message: 'connection closed' });
      this.pending.clear();
      this.emit('status', { state: 'offline', code: ev.code, reason: ev.reason });
      if (this.stopped) return;
      if (ev.code === 1008 && /login|authentication/.test(ev.reason)) {
        this.stopped = true;
        this.emit('auth-failed', { code: 'unauthorized', message: ev.reason });
        return;
      }
      const delay = RETRY_MS[Math.min(this.attempt++, RETRY_MS.length - 1)];
      this.retryTimer = setTimeout(() => this.connect(), delay);
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
        this.resendOutbox();
        break;
      case 'error':
        this.emit('error', msg);
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

  // Sends a message; resolves with the ok. Unanswered sends are sent again, with the same cid,
  // after a reconnect (the server answers a repeat with the same mid and stores it once).
  send(target, text) {
    const cid = 'w-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
    const req = { type: 'send', cid, text, ...target };
    return new Promise((resolve, reject) => {
      this.outbox.set(cid, { req, resolve, reject });
      this.trySend(cid);
    });
  }

  trySend(cid) {
    const entry = this.outbox.get(cid);
    if (!entry || !this.live) return;
    this.request(entry.req).then((ok) => {
      this.outbox.delete(cid);
      entry.resolve(ok);
    }, (err) => {
      if (err.code === 'closed' || err.code === 'offline') return;  // resent after reconnect
      if (err.code === 'rate_limited' && err.retry_ms) {
        setTimeout(() => this.trySend(cid), err.retry_ms);
        return;
      }
      this.outbox.delete(cid);
      entry.reject(err);
    });
  }

  resendOutbox() { for (const cid of this.outbox.keys()) this.trySend(cid); }
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
