// SPDX-License-Identifier: MIT
// web-msg-sender's demo page, unchanged in what it does, against chatd in headless Chromium: a
// page of another site (its own origin) loads the socket.io 1.3.7 browser bundle, connects to
// chatd, logs in with a plain uid from its connect handler (or with a token the site signed),
// writes update_online_count into its footer and every new_msg into its notice with innerHTML,
// as the old page did. The server's escaping is what keeps a pushed <img onerror> inert there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, launch, realProblems, DESKTOP } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BUNDLE = join(here, '.cache/socket.io-1.3.7.js');  // run.sh fetches it (npm pack socket.io-client@1.3.7)
const SECRET = 'browser-socketio-site-secret-0123456789';

function siteToken(sub) {
  const b64 = (s) => Buffer.from(s).toString('base64url');
  const head = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 600 }));
  return `${head}.${body}.${createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url')}`;
}

// The demo page, written for this test after the old one: plain DOM where it had jQuery, the
// same socket.io calls, and innerHTML where it had .html(). `login` is the JavaScript
// expression it logs in with.
function demoPage(chatdPort, login) {
  return `<!doctype html>
<html lang="zh">
<head>
<meta charset="utf-8">
<title>web-msg-sender demo</title>
<script src="/socket.io.js"></script>
</head>
<body>
<div class="notification"><p id="content"></p></div>
<div class="wrapper"><h3>web-msg-sender demo</h3></div>
<div id="online_box"></div>
<script>
var HOST = '127.0.0.1';
var PORT = ${chatdPort};
var uid = ${login};
var socket = io('http://' + HOST + ':' + PORT);
socket.on('connect', function () {
  socket.emit('login', uid);
});
socket.on('new_msg', function (msg) {
  document.getElementById('content').innerHTML = '收到消息：' + msg;
});
socket.on('update_online_count', function (s) {
  document.getElementById('online_box').innerHTML = s;
});
</script>
</body>
</html>
`;
}

// The site: its pages and the bundle, on a port of its own (another origin than chatd's).
const pages = new Map();
let site, siteOrigin, browser;
const servers = [];
const problems = [];

before(async () => {
  assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run.sh fetches it`);
  const bundle = readFileSync(BUNDLE);
  site = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/socket.io.js') {
      res.writeHead(200, { 'Content-Type': 'application/javascript' });
      return res.end(bundle);
    }
    if (pages.has(path)) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(pages.get(path));
    }
    res.writeHead(path === '/favicon.ico' ? 204 : 404);
    res.end();
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteOrigin = `http://127.0.0.1:${site.address().port}`;
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  for (const s of servers) await s.remove();
  if (site) await new Promise((resolve) => site.close(resolve));
  assert.deepEqual(realProblems(problems), [], 'console errors, page errors or CSP violations');
});

async function chatd(extraArgs) {
  const s = new Server(['--allowed-origins', siteOrigin, '--site-secret', SECRET, ...extraArgs]);
  servers.push(s);
  await s.start();
  return s;
}

async function push(server, key, to, content) {
  const r = await fetch(server.url + 'push', {
    method: 'POST', body: new URLSearchParams({ type: 'publish', to, content, key }), signal: AbortSignal.timeout(5000),
  });
  return r.text();
}

// What chatd answered the page's last socket.io requests, for a failure's message.
const exchanges = new WeakMap();
function record(page) {
  const log = [];
  exchanges.set(page, log);
  page.on('response', async (r) => {
    if (!r.url().includes('/socket.io/')) return;
    let body = '';
    try { body = (await r.body()).toString('latin1'); } catch { /* a long poll the page dropped */ }
    log.push(`${r.request().method()} ${new URL(r.url()).search} -> ${r.status()} ${r.headers()['content-type'] || ''} ` +
             JSON.stringify(body.slice(0, 160)));
    if (log.length > 6) log.shift();
  });
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => { log.push('ws< ' + String(f.payload).slice(0, 160)); if (log.length > 6) log.shift(); });
  });
}

// (Polled from here, as the other browser tests do.)
async function waitText(page, selector, expected, ms = 10000) {
  const end = Date.now() + ms;
  let text;
  while ((text = await page.textContent(selector)) !== expected) {
    if (Date.now() > end) {
      assert.fail(`${selector} says ${JSON.stringify(text)}, not ${JSON.stringify(expected)}; ` +
                  `the page's last socket.io exchanges:\n  ${(exchanges.get(page) || []).join('\n  ')}`);
    }
    await page.waitForTimeout(50);
  }
}

async function open(path, html, contexts) {
  pages.set(path, html);
  const context = await browser.newContext({ viewport: DESKTOP });
  contexts.push(context);
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  record(page);
  await page.goto(siteOrigin + path);
  return page;
}

test('the old demo page (plain uid): online count, a push, a hostile push shown as text', { timeout: 60000 }, async () => {
  const server = await chatd(['--socketio-trust-uid', 'true']);
  const key = server.apiKey('site');
  const contexts = [];
  try {
    const page = await open('/old', demoPage(server.port, '1445590039000'), contexts);
    await waitText(page, '#online_box', '当前1人在线，共打开1个页面');
    assert.equal(await page.locator('#online_box b').count(), 2, 'the template\'s <b> are markup');

    assert.equal(await push(server, key, '1445590039000', 'Hello from the site'), 'ok');
    await waitText(page, '#content', '收到消息：Hello from the site');

    const hostile = '<img src=x onerror="document.title=\'pwned\'">';
    assert.equal(await push(server, key, '1445590039000', hostile), 'ok');
    await waitText(page, '#content', '收到消息：' + hostile);
    assert.equal(await page.locator('#content img').count(), 0, 'an img element was made from the push');
    assert.notEqual(await page.title(), 'pwned');

    // The bundle upgraded from polling to a WebSocket, as it does against web-msg-sender.
    const end = Date.now() + 10000;
    let transport;
    while ((transport = await page.evaluate(() => window.socket.io.engine.transport.name)) !== 'websocket') {
      if (Date.now() > end) assert.fail(`the page's transport is ${transport}, not websocket`);
      await page.waitForTimeout(100);
    }
    assert.equal(await push(server, key, '1445590039000', 'over the WebSocket'), 'ok');
    await waitText(page, '#content', '收到消息：over the WebSocket');

    // A second visitor: both footers count two.
    const other = await open('/old-2', demoPage(server.port, '1445590039001'), contexts);
    await waitText(other, '#online_box', '当前2人在线，共打开2个页面');
    await waitText(page, '#online_box', '当前2人在线，共打开2个页面');
    await other.context().close();
    await waitText(page, '#online_box', '当前1人在线，共打开1个页面');
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
  }
});

test('the demo page logging in with a token the site signed', { timeout: 60000 }, async () => {
  const server = await chatd([]);
  const key = server.apiKey('site');
  const contexts = [];
  try {
    const page = await open('/token', demoPage(server.port, JSON.stringify(siteToken('member-7'))), contexts);
    await waitText(page, '#online_box', '当前1人在线，共打开1个页面');
    assert.equal(await push(server, key, 'member-7', 'Your order <#17> is paid'), 'ok');
    await waitText(page, '#content', '收到消息：Your order <#17> is paid');
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
  }
});
