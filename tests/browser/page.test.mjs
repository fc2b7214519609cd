// SPDX-License-Identifier: MIT
// The chat page in a real headless Chromium against the real chatd binary on a loopback port:
// register, log in, see each other online, chat (hostile text stays text), reconnect, log out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, launch, newPage as openPage, register, openSidebar, realProblems } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const HOSTILE = '<b>bold</b><img src=x onerror="window.__pwned=1">';

let server, url, browser, apiKey, dataDir;

const newPage = (problems) => openPage(browser, url, problems);
const publish = (body) => server.publish(apiKey, body);

before(async () => {
  server = new Server();
  dataDir = server.dataDir;
  apiKey = server.apiKey('page-test');
  url = await server.start();
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  await server.remove();
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

  assert.deepEqual(realProblems(problems), [], 'console errors, page errors or CSP violations');
});

test('a publish rings the bell: count, list, sound, mark all read', async () => {
  const problems = [];
  // Count the chimes: every oscillator the page starts.
  const page = await openPage(browser, url, problems, {
    viewport: { width: 1024, height: 700 },
    init: () => {
      window.__chimes = 0;
      const start = OscillatorNode.prototype.start;
      OscillatorNode.prototype.start = function (...args) { window.__chimes += 1; return start.apply(this, args); };
    },
  });
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
  await page.context().close();
  assert.deepEqual(realProblems(problems), [], 'console errors, page errors or CSP violations');
});
