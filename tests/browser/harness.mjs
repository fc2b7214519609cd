// SPDX-License-Identifier: MIT
// What the browser tests share: the real chatd binary on a loopback port (restartable on the same
// port, same data), Debian's headless Chromium through playwright-core, pages that record
// console errors and CSP violations, and the steps a person takes (register, log in, search).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const bin = process.env.CHATD_BIN || join(here, '../../build/chatd');
const chromiumPath = process.env.CHATD_CHROMIUM || '/usr/bin/chromium';

export class Server {
  constructor(extraArgs = []) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'chatd-browser-'));
    this.extraArgs = extraArgs;
    this.proc = null;
    this.port = 0;
    this.log = '';
  }

  apiKey(name) {
    const r = spawnSync(bin, ['--data-dir', this.dataDir, 'apikey', 'add', name], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  }

  // Starts on the port it had before (0 the first time: the kernel picks one).
  start() {
    return new Promise((resolve, reject) => {
      const proc = spawn(bin, ['--listen', '127.0.0.1:' + this.port, '--data-dir', this.dataDir,
                               '--registration', 'open', '--presence-grace-ms', '200', ...this.extraArgs],
                         { stdio: ['ignore', 'pipe', 'pipe'] });
      this.proc = proc;
      const timer = setTimeout(() => reject(new Error('chatd did not start: ' + this.log)), 10000);
      proc.stdout.on('data', (d) => {
        const m = String(d).match(/serving on (http:\/\/127\.0\.0\.1:(\d+)\/)/);
        if (m) {
          clearTimeout(timer);
          this.url = m[1];
          this.port = Number(m[2]);
          resolve(this.url);
        }
      });
      proc.stderr.on('data', (d) => { this.log += d; });
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error('chatd exited ' + code + ': ' + this.log)); });
    });
  }

  stop() {
    return new Promise((resolve) => {
      const proc = this.proc;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => { clearTimeout(kill); resolve(); });
      proc.kill('SIGTERM');
    });
  }

  async remove() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async publish(apiKey, body) {
    const r = await fetch(this.url + 'api/publish', {
      method: 'POST', headers: { Authorization: 'Bearer ' + apiKey, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    return JSON.parse(text);
  }
}

// playwright-core is loaded here, not at the top, so that the socket.io tests (tests/socketio)
// can share the Server class without installing the browser tests' packages.
export async function launch() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
           '--autoplay-policy=no-user-gesture-required'],
  });
}

export const DESKTOP = { width: 1100, height: 720 };
export const PHONE = { width: 360, height: 640 };

// A fresh browser context (its own cookies and storage), recording console errors, page errors
// and CSP violations into `problems`. `init` (optional) runs in the page before its scripts.
export async function newPage(browser, url, problems, { init, ...options } = {}) {
  const context = await browser.newContext({ viewport: PHONE, ...options });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  await page.goto(url);
  return page;
}

// What should have gone wrong: nothing (a 401/403 before the login is the cookie check).
export function realProblems(problems) {
  return problems.filter((p) => !/Failed to load resource.*(401|403)/.test(p));
}

async function waitLive(page) {
  await page.waitForSelector('#chat:not([hidden])', { timeout: 10000 });
  await page.locator('#status.live').waitFor({ timeout: 10000 });
}

export async function register(page, name, password) {
  await page.fill('#login-user', name);
  await page.fill('#login-password', password);
  await page.click('#register');
  await waitLive(page);
}

export async function login(page, name, password) {
  await page.fill('#login-user', name);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await waitLive(page);
}

export async function openSidebar(page) {
  if (await page.isVisible('#menu') && !(await page.isVisible('#sidebar'))) await page.click('#menu');
}

// Finds someone through the directory and opens the conversation with them.
export async function startConversation(page, name) {
  await openSidebar(page);
  await page.fill('#search', name);
  const person = page.locator('#people .item', { has: page.locator('.label', { hasText: new RegExp('^' + name + '$') }) });
  await person.waitFor({ timeout: 10000 });
  await person.click();
  await page.locator('#conv-title', { hasText: name }).waitFor({ timeout: 10000 });
}

export async function send(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

export function conversationItem(page, title) {
  return page.locator('#conversations .item', { has: page.locator('.label', { hasText: new RegExp('^' + title + '$') }) });
}

// Where screenshots go: CHATD_SCREENSHOTS (docs/screenshots when refreshing them) or a temp folder.
export function screenshotDir(fallback) {
  const dir = process.env.CHATD_SCREENSHOTS || fallback;
  mkdirSync(dir, { recursive: true });
  return dir;
}
