// SPDX-License-Identifier: MIT
// What the socket.io tests share: both generations of the real socket.io client from npm, a
// client wrapper that records every event it gets (so a test never misses one that came before
// it started waiting, and every wait is bounded), site tokens, web-msg-sender's /push call, and
// a scope that closes clients and stops servers whatever happens.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import WebSocket from 'ws';
import { Server } from '../browser/harness.mjs';

const require = createRequire(import.meta.url);

export const SECRET = 'socketio-test-site-secret-0123456789abcdef';

// The two client generations every case runs against.
export const GENERATIONS = [
  { name: 'socket.io-client 2.x (Engine.IO 3)', major: 2, eio: 3, io: require('socket.io-client-2') },
  { name: 'socket.io-client 4.x (Engine.IO 4)', major: 4, eio: 4, io: require('socket.io-client-4').io },
];

// web-msg-sender's text, with the numbers pulled out.
export const ONLINE_RE = /^当前<b>(\d+)<\/b>人在线，共打开<b>(\d+)<\/b>个页面$/;
export function onlineText(users, pages) {
  return `当前<b>${users}</b>人在线，共打开<b>${pages}</b>个页面`;
}

// PHP's htmlspecialchars($s, ENT_QUOTES), what new_msg carries.
export function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
          .replace(/"/g, '&quot;').replace(/'/g, '&#039;');
}

// An HS256 JWT as the site signs it.
export function siteToken(sub, { secret = SECRET, expIn = 600 } = {}) {
  const b64 = (s) => Buffer.from(s).toString('base64url');
  const head = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64(JSON.stringify({ sub: String(sub), exp: Math.floor(Date.now() / 1000) + expIn }));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A port that was free a moment ago on 127.0.0.1.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// web-msg-sender's push, as a PHP backend sends it with curl: a form body, the key as a field
// (or, with `bearer`, as a header). Answers the body's text and the status.
export async function push(server, key, fields, { bearer = false, base } = {}) {
  const form = new URLSearchParams({ type: 'publish', ...fields });
  if (!bearer) form.set('key', key);
  const headers = bearer ? { Authorization: 'Bearer ' + key } : {};
  const r = await fetch((base || server.url) + 'push', { method: 'POST', headers, body: form,
                                                         signal: AbortSignal.timeout(5000) });
  return { status: r.status, text: await r.text() };
}

const EVENTS = ['connect', 'disconnect', 'connect_error', 'login_error', 'new_msg', 'update_online_count'];

const show = (v) => {
  const s = v === undefined ? '' : typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 160 ? s.slice(0, 160) + '…' : s;
};

// One socket.io client. `login` (optional): what it emits as `login` on every connect, as a page
// does; each ack is recorded as the event `login_ack`.
export class Client {
  constructor(gen, url, { login, label, ...options } = {}) {
    this.gen = gen;
    this.label = label || 'client';
    this.events = [];
    this.waiters = new Set();
    this.socket = gen.io(url, { forceNew: true, timeout: 5000, ...options });
    for (const name of EVENTS) this.socket.on(name, (...args) => this.record(name, args));
    if (login !== undefined) {
      this.socket.on('connect', () => this.socket.emit('login', login, (...args) => this.record('login_ack', args)));
    }
  }

  record(name, args) {
    this.events.push({ name, args, at: Date.now() });
    for (const look of [...this.waiters]) look();
  }

  summary() {
    return this.events.map((e) => e.name + '(' + e.args.map(show).join(', ') + ')').join(' ') || 'none';
  }

  // The first event `name` not taken yet (for which `match(arg)` holds), waiting at most `ms`;
  // resolves to its first argument.
  take(name, { ms = 5000, match = () => true, what } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const look = () => {
        const e = this.events.find((x) => !x.used && x.name === name && match(...x.args));
        if (!e) return false;
        e.used = true;
        clearTimeout(timer);
        this.waiters.delete(look);
        resolve(e.args[0]);
        return true;
      };
      if (look()) return;
      timer = setTimeout(() => {
        this.waiters.delete(look);
        reject(new Error(`${this.label} (${this.gen.name}): no ${what || name} within ${ms} ms; ` +
                         `its events: ${this.summary()}`));
      }, ms);
      this.waiters.add(look);
    });
  }

  // Waits `ms` and fails if an event `name` that was not taken came in the meantime (or before).
  async quiet(name, ms = 1500) {
    await sleep(ms);
    const extra = this.events.filter((x) => !x.used && x.name === name);
    assert.equal(extra.length, 0, `${this.label} (${this.gen.name}): unexpected ${name}: ${this.summary()}`);
  }

  // Emits `login` by hand; resolves to the ack's argument.
  login(arg, ms = 5000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label} (${this.gen.name}): no ack for login within ${ms} ms; ` +
                                                      `its events: ${this.summary()}`)), ms);
      this.socket.emit('login', arg, (ack) => { clearTimeout(timer); resolve(ack); });
    });
  }

  get transport() {
    return this.socket.io.engine && this.socket.io.engine.transport ? this.socket.io.engine.transport.name : null;
  }

  async waitTransport(name, ms = 5000) {
    const end = Date.now() + ms;
    while (this.transport !== name) {
      if (Date.now() > end) assert.fail(`${this.label} (${this.gen.name}): transport is ${this.transport}, not ${name} after ${ms} ms`);
      await sleep(25);
    }
  }

  close() {
    this.socket.close();
  }
}

// A chatd /ws connection (the server's own protocol), logged in with a site token.
export class ChatdWs {
  static async open(server, token) {
    const c = new ChatdWs();
    c.ws = new WebSocket(server.url.replace(/^http/, 'ws') + 'ws', 'chatd.v1');
    c.inbox = [];
    c.waiters = new Set();
    c.ws.on('message', (data) => {
      for (const line of String(data).split('\n')) if (line) c.inbox.push(JSON.parse(line));
      for (const look of [...c.waiters]) look();
    });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('/ws did not open')), 5000);
      c.ws.once('open', () => { clearTimeout(timer); resolve(); });
      c.ws.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
    c.ws.send(JSON.stringify({ type: 'hello', id: 1, token }));
    const welcome = await c.take((m) => m.re === 1);
    assert.equal(welcome.type, 'welcome', JSON.stringify(welcome));
    await c.take((m) => m.type === 'live');
    return c;
  }

  take(match, ms = 5000) {
    return new Promise((resolve, reject) => {
      let timer;
      const look = () => {
        const i = this.inbox.findIndex(match);
        if (i < 0) return false;
        clearTimeout(timer);
        this.waiters.delete(look);
        resolve(this.inbox.splice(i, 1)[0]);
        return true;
      };
      if (look()) return;
      timer = setTimeout(() => {
        this.waiters.delete(look);
        reject(new Error('/ws: no such message within ' + ms + ' ms; got ' + JSON.stringify(this.inbox)));
      }, ms);
      this.waiters.add(look);
    });
  }

  async send(to, text) {
    const id = 'send-' + Math.random().toString(36).slice(2);
    this.ws.send(JSON.stringify({ type: 'send', id, cid: id, to, text }));
    const answer = await this.take((m) => m.re === id);
    assert.equal(answer.type, 'ok', JSON.stringify(answer));
    return answer;
  }

  close() {
    this.ws.close();
  }
}

// What one test case starts: servers and clients, closed in reverse order at its end.
export class Scope {
  constructor() {
    this.items = [];
    this.servers = [];
  }

  async server(args = [], { secret = true } = {}) {
    const s = new Server([...(secret ? ['--site-secret', SECRET] : []), ...args]);
    this.items.push(() => s.remove());
    this.servers.push(s);
    await s.start();
    return s;
  }

  client(gen, url, options) {
    const c = new Client(gen, url, options);
    this.items.push(() => c.close());
    return c;
  }

  async ws(server, token) {
    const c = await ChatdWs.open(server, token);
    this.items.push(() => c.close());
    return c;
  }

  async dispose() {
    for (const close of this.items.reverse()) {
      try { await close(); } catch { /* closing what is already gone */ }
    }
  }
}

// A test case with its own scope and a time limit; a failure shows the end of chatd's log.
export function scoped(name, fn, { timeout = 30000, skip } = {}) {
  test(name, { timeout, skip }, async () => {
    const scope = new Scope();
    try {
      await fn(scope);
    } catch (e) {
      const logs = scope.servers.map((s) => s.log.slice(-1500)).filter(Boolean);
      if (logs.length) e.message += '\n--- chatd stderr (end) ---\n' + logs.join('\n---\n');
      throw e;
    } finally {
      await scope.dispose();
    }
  });
}
