// SPDX-License-Identifier: MIT
// The chat page in a real headless Chromium against the real chatd binary on a loopback port:
// register, log in, see each other online, chat (hostile text stays text), reconnect, log out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.CHATD_BIN || join(here, '../../build/chatd');
const chromiumPath = process.env.CHATD_CHROMIUM || '/usr/bin/chromium';
const HOSTILE = '<b>bold</b><img src=x onerror="window.__pwned=1">';

let server, dataDir, url, browser, apiKey, serverLog = '';

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(bin, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--registration', 'open',
                         '--presence-grace-ms', '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => reject(new Error('chatd did not start: ' + serverLog)), 10000);
    server.stdout.on('data', (d) => {
      const m = String(d).match(/serving on (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    server.stderr.on('data', (d) => { serverLog += d; });
    server.on('exit', (code) => reject(new Error('chatd exited ' + code + ': ' + serverLog)));
  });
}

function stopServer() {
  return new Promise((resolve) => {
    if (!server || server.exitCode !== null) return resolve();
    const kill = setTimeout(() => server.kill('SIGKILL'), 5000);
    server.once('exit', () => { clearTimeout(kill); resolve(); });
    server.kill('SIGTERM');
  });
}

// A fresh browser context (its own cookies and storage) at a phone-sized viewport, recording
// console errors, page errors and CSP violations.
async function newPage(problems) {
  const context = await browser.newContext({ viewport: { width: 360, height: 640 } });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  await page.goto(url);
  return page;
}

async function register(page, name, password) {
  await page.fill('#login-user', name);
  await page.fill('#login-password', password);
  await page.click('#register');
  await page.waitForSelector('#chat:not([hidden])', { timeout: 10000 });
  await page.locator('#status.live').waitFor({ timeout: 10000 });
}

async function openSidebar(page) {
  if (await page.isVisible('#menu')) {
    if (!(await page.isVisible('#sidebar'))) await page.click('#menu');
  }
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'chatd-browser-'));
  const key = spawnSync(bin, ['--data-dir', dataDir, 'apikey', 'add', 'page-test'], { encoding: 'utf8' });
  assert.equal(key.status, 0, key.stderr);
  apiKey = key.stdout.trim();
  url = await startServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
           '--autoplay-policy=no-user-gesture-required'],
  });
});

after(async () => {
  if (browser) await browser.close();
  await stopServer();
  rmSync(dataDir, { recursive: true, force: true });
});

test('the page never turns data into HTML (static check)', () => {
  const www = join(here, '../../www');
  for (const f of readdirSync(www).filter((n) => n.endsWith('.js'))) {
    const src = readFileSync(join(www, f), 'utf8');
    for (const bad of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write']) {
      assert.ok(!src.includes(bad), `${f} uses ${bad}`);
    }
  }
});

test('register, log in, chat, reconnect, log out', async () => {
  const problems = [];
  const alice = await newPage(problems);
  // Bad input gets a clear error, shown as text.
  await alice.fill('#login-user', 'alice');
  await alice.fill('#login-password', 'short');
  await alice.click('#register');
  assert.match(await alice.textContent('#login-error'), /at least 8/);

  await register(alice, 'alice', 'alice-password');
  assert.equal(await alice.textContent('#me-name'), 'alice');

  const bob = await newPage(problems);
  await register(bob, 'bob', 'bob-password');

  // Each sees the other online.
  await openSidebar(alice);
  await alice.locator('#online .label', { hasText: /^bob$/ }).waitFor({ timeout: 20000 });
  await openSidebar(bob);
  await bob.locator('#online .label', { hasText: /^alice$/ }).waitFor({ timeout: 20000 });

  // alice opens a conversation with bob and sends hostile text: it arrives as text.
  await alice.click('#online .item:has-text("bob")');
  await alice.fill('#text', HOSTILE);
  await alice.press('#text', 'Enter');
  await alice.waitForSelector('.msg.mine:not(.sending) .text', { timeout: 10000 });
  assert.equal(await alice.textContent('.msg.mine .text'), HOSTILE);

  await openSidebar(bob);
  await bob.waitForSelector('#conversations .item:has-text("alice") .count', { timeout: 10000 });
  await bob.click('#conversations .item:has-text("alice")');
  await bob.waitForSelector('.msg .text', { timeout: 10000 });
  assert.equal(await bob.textContent('.msg .text'), HOSTILE);
  assert.equal(await bob.locator('.msg .text img, .msg .text b').count(), 0);
  assert.equal(await bob.evaluate(() => window.__pwned), undefined);
  assert.equal(await alice.evaluate(() => window.__pwned), undefined);

  // A link is a real link, checked, opening elsewhere.
  await bob.fill('#text', 'see https://example.org/x and javascript:alert(1)');
  await bob.press('#text', 'Enter');
  await alice.waitForSelector('.msg:not(.mine) a', { timeout: 10000 });
  assert.equal(await alice.getAttribute('.msg:not(.mine) a', 'href'), 'https://example.org/x');
  assert.equal(await alice.getAttribute('.msg:not(.mine) a', 'rel'), 'noopener noreferrer');
  assert.equal(await alice.locator('.msg a[href^="javascript"]').count(), 0);

  // A reload logs back in with the cookie and shows the conversation's history.
  await bob.reload();
  await bob.waitForSelector('#chat:not([hidden])', { timeout: 10000 });
  await openSidebar(bob);
  await bob.click('#conversations .item:has-text("alice")');
  await bob.locator('.msg .text', { hasText: HOSTILE }).first().waitFor({ timeout: 10000 });

  // Rooms: join from the sidebar; a message to the room reaches the other member.
  await openSidebar(alice);
  await alice.fill('#join-room', 'general');
  await alice.press('#join-room', 'Enter');
  await alice.locator('#conv-title', { hasText: '#general' }).waitFor({ timeout: 10000 });
  await openSidebar(bob);
  await bob.fill('#join-room', 'general');
  await bob.press('#join-room', 'Enter');
  await bob.locator('#conv-title', { hasText: '#general' }).waitFor({ timeout: 10000 });
  await alice.fill('#text', 'hello room');
  await alice.press('#text', 'Enter');
  await bob.locator('.msg .text', { hasText: 'hello room' }).waitFor({ timeout: 10000 });

  // Log out: back to the login screen; a reload does not log in again.
  await alice.click('#logout');
  await alice.waitForSelector('#login:not([hidden])', { timeout: 10000 });
  await alice.reload();
  await alice.waitForSelector('#login:not([hidden])', { timeout: 10000 });
  assert.ok(await alice.isHidden('#chat'));

  // Looks finished at phone size: nothing wider than the screen.
  const overflow = await bob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page overflows a 360 px screen by ${overflow} px`);
  await bob.screenshot({ path: join(dataDir, 'phone.png') });

  const real = problems.filter((p) => !/Failed to load resource.*(401|403)/.test(p));
  assert.deepEqual(real, [], 'console errors, page errors or CSP violations');
});

async function publish(body) {
  const r = await fetch(url + 'api/publish', {
    method: 'POST', headers: { Authorization: 'Bearer ' + apiKey, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
}

test('a publish rings the bell: count, list, sound, mark all read', async () => {
  const problems = [];
  const context = await browser.newContext({ viewport: { width: 1024, height: 700 } });
  // Count the chimes: every oscillator the page starts.
  await context.addInitScript(() => {
    window.__chimes = 0;
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...args) { window.__chimes += 1; return start.apply(this, args); };
  });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  await page.goto(url);
  await register(page, 'carol', 'carol-password');
  assert.ok(await page.isHidden('#bell-count'));
  await page.click('#bell');  // a user gesture: audio may start
  await page.locator('#notifications-empty').waitFor({ timeout: 10000 });

  const sent = await publish({ to: 'carol', title: 'New order ' + HOSTILE, text: 'Order #17 ' + HOSTILE,
                               data: { url: '/orders/17' } });
  assert.deepEqual(sent.delivered, { carol: true });
  await page.locator('#bell-count', { hasText: '1' }).waitFor({ timeout: 10000 });
  assert.equal(await page.getAttribute('#bell', 'aria-label'), 'Notifications, 1 unread');
  const item = page.locator('#notification-list .notification').first();
  await item.waitFor({ timeout: 10000 });
  assert.equal(await item.locator('.n-title').textContent(), 'New order ' + HOSTILE);
  assert.equal(await item.locator('.n-text').textContent(), 'Order #17 ' + HOSTILE);
  assert.equal(await item.locator('img, b').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(new URL(await item.locator('a.n-open').getAttribute('href')).pathname, '/orders/17');
  assert.ok(await item.evaluate((n) => n.classList.contains('unread')));
  assert.ok((await page.evaluate(() => window.__chimes)) >= 1, 'no sound was played');
  assert.match(await page.title(), /^\(1\) chatd$/);

  // A second one while the panel is closed; a javascript: link is not a link.
  await page.keyboard.press('Escape');
  assert.ok(await page.isHidden('#notifications'));
  await publish({ to: 'carol', title: 'Second', text: 'two', data: { url: 'javascript:alert(1)' } });
  await page.locator('#bell-count', { hasText: '2' }).waitFor({ timeout: 10000 });
  await page.click('#bell');
  await page.locator('#notification-list .notification .n-title', { hasText: 'Second' }).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#notification-list .notification').first().locator('a').count(), 0);

  // Mark all read: the count goes, and stays gone after a reload (the server keeps the marker).
  await page.click('#mark-all-read');
  await page.waitForSelector('#bell-count[hidden]', { state: 'attached', timeout: 10000 });
  assert.equal(await page.locator('#notification-list .notification.unread').count(), 0);
  await page.waitForTimeout(300);
  await page.reload();
  await page.waitForSelector('#chat:not([hidden])', { timeout: 10000 });
  await page.locator('#status.live').waitFor({ timeout: 10000 });
  assert.ok(await page.isHidden('#bell-count'));
  // The list comes back from the server's history of the feed.
  await page.click('#bell');
  await page.locator('#notification-list .notification').nth(1).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#notification-list .notification .n-title').first().textContent(), 'Second');
  await page.screenshot({ path: join(dataDir, 'bell.png') });
  await context.close();
  const real = problems.filter((p) => !/Failed to load resource.*(401|403)/.test(p));
  assert.deepEqual(real, [], 'console errors, page errors or CSP violations');
});
