// SPDX-License-Identifier: MIT
// The chat page in a real headless Chromium against the real chatd binary on a loopback port:
// register, log in, see each other online, chat (hostile text stays text), reconnect, log out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.CHATD_BIN || join(here, '../../build/chatd');
const chromiumPath = process.env.CHATD_CHROMIUM || '/usr/bin/chromium';
const HOSTILE = '<b>bold</b><img src=x onerror="window.__pwned=1">';

let server, dataDir, url, browser, serverLog = '';

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
  url = await startServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
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
