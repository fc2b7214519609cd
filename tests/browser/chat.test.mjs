// SPDX-License-Identifier: MIT
// The chat page as people use it, in headless Chromium against the real binary: a conversation
// with someone offline, unread counts that are right after login and across devices, delivered
// and read marks, a message that survives a server restart and a reload, hostile text, the phone
// layout, an accessibility audit (axe-core) and the screenshots of docs/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  Server, launch, newPage, register, login, openSidebar, startConversation, send, conversationItem,
  realProblems, screenshotDir, DESKTOP, PHONE,
} from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let server, url, browser;
const problems = [];
const PASSWORD = 'correct-horse-battery';

before(async () => {
  server = new Server();
  url = await server.start();
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  await server.remove();
  assert.deepEqual(realProblems(problems), [], 'console errors, page errors or CSP violations');
});

async function person(name, viewport = DESKTOP, options = {}) {
  const page = await newPage(browser, url, problems, { viewport, ...options });
  await register(page, name, PASSWORD);
  return page;
}

async function logOut(page) {
  await page.click('#logout');
  await page.waitForSelector('#login:not([hidden])', { timeout: 10000 });
}

const countOf = (page, title) => conversationItem(page, title).locator('.count');

// (waitForFunction evaluates a string, which the page's CSP refuses: poll from here instead.)
async function waitTitle(page, title, ms = 10000) {
  const end = Date.now() + ms;
  while ((await page.title()) !== title) {
    if (Date.now() > end) assert.fail(`title is "${await page.title()}", not "${title}"`);
    await page.waitForTimeout(50);
  }
}

// Runs `fn` with the server stopped for a while: the page's refused reconnects are expected then.
async function whileDown(fn) {
  const mark = problems.length;
  await server.stop();
  try {
    await fn();
  } finally {
    await server.start();
  }
  return () => problems.splice(mark, Infinity, ...problems.splice(mark).filter((p) => !/ERR_CONNECTION_REFUSED/.test(p)));
}

test('a conversation with someone offline: found by name, waiting for them, counted right', async () => {
  const bob = await person('bob');
  await logOut(bob);  // bob is offline now: only the directory knows him

  const alice = await person('alice');
  await startConversation(alice, 'bob');
  assert.match(await alice.textContent('#conv-sub'), /offline/);
  for (const text of ['are you there?', 'second', 'third']) await send(alice, text);
  await alice.locator('.msg.mine .state', { hasText: 'Sent' }).nth(2).waitFor({ timeout: 10000 });
  assert.equal(await alice.locator('.msg.mine').count(), 3);

  // bob logs in: three unread from alice, not more (the welcome's count and the replayed
  // messages are one and the same), in the sidebar, the title and the favicon.
  await login(bob, 'bob', PASSWORD);
  await countOf(bob, 'alice').waitFor({ timeout: 10000 });
  await bob.waitForTimeout(500);  // anything counted twice would show by now
  assert.equal(await countOf(bob, 'alice').textContent(), '3');
  assert.equal(await bob.title(), '(3) chatd');
  assert.match(decodeURIComponent(await bob.getAttribute('link[rel="icon"]', 'href')), />3<\/text>/);
  assert.match(await conversationItem(bob, 'alice').locator('.preview').textContent(), /third/);
  // Once his device acked them, alice sees them delivered.
  await alice.locator('.msg.mine .state', { hasText: 'Delivered' }).nth(2).waitFor({ timeout: 10000 });

  // He opens it: a "New messages" line above the first of the three, the counts clear, and
  // alice's messages turn to read.
  await conversationItem(bob, 'alice').click();
  await bob.locator('.msg .text', { hasText: 'third' }).waitFor({ timeout: 10000 });
  const firstAfterLine = bob.locator('.new-line + .msg .text');
  assert.equal(await firstAfterLine.textContent(), 'are you there?');
  await waitTitle(bob, 'chatd');
  assert.equal(await countOf(bob, 'alice').count(), 0);
  await alice.locator('.msg.mine .state', { hasText: 'Read' }).nth(2).waitFor({ timeout: 10000 });
  // Days are marked.
  assert.equal(await bob.locator('#message-list .day').first().textContent(), 'Today');

  // A reply arrives live in alice's open conversation.
  await send(bob, 'yes, back now');
  await alice.locator('.msg:not(.mine) .text', { hasText: 'yes, back now' }).waitFor({ timeout: 10000 });
  await alice.context().close();
  await bob.context().close();
});

test('unread counts follow reading on another device of the same user', async () => {
  const carol1 = await person('carol');
  const carol2 = await newPage(browser, url, problems, { viewport: DESKTOP });
  await login(carol2, 'carol', PASSWORD);
  const dave = await person('dave');
  await startConversation(dave, 'carol');
  await send(dave, 'one');
  await send(dave, 'two');
  for (const page of [carol1, carol2]) {
    await countOf(page, 'dave').filter({ hasText: '2' }).waitFor({ timeout: 10000 });
    assert.equal(await page.title(), '(2) chatd');
  }
  // Reading on the first device clears the count on the second.
  await conversationItem(carol1, 'dave').click();
  await carol1.locator('.msg .text', { hasText: 'two' }).waitFor({ timeout: 10000 });
  await waitTitle(carol2, 'chatd');
  assert.equal(await countOf(carol2, 'dave').count(), 0);
  // A reconnect (reload) keeps it right: nothing unread.
  await carol2.reload();
  await carol2.locator('#status.live').waitFor({ timeout: 10000 });
  await conversationItem(carol2, 'dave').waitFor({ timeout: 10000 });
  await carol2.waitForTimeout(300);
  assert.equal(await countOf(carol2, 'dave').count(), 0);
  assert.equal(await carol2.title(), 'chatd');
  for (const p of [carol1, carol2, dave]) await p.context().close();
});

test('a message sent while the server restarts arrives exactly once, even across a reload', async () => {
  const erin = await person('erin');
  const frank = await person('frank');
  await startConversation(erin, 'frank');
  await send(erin, 'before the restart');
  await frank.locator('#conversations .item .label', { hasText: /^erin$/ }).waitFor({ timeout: 10000 });
  await conversationItem(frank, 'erin').click();
  await frank.locator('.msg .text', { hasText: 'before the restart' }).waitFor({ timeout: 10000 });

  let forgive = await whileDown(async () => {
    await erin.locator('#status.offline').waitFor({ timeout: 10000 });
    assert.match(await erin.textContent('#status-text'), /offline|reconnecting/);
    await send(erin, 'while it was down');
    await erin.locator('.msg.sending .state', { hasText: 'Sending…' }).waitFor({ timeout: 5000 });
  });
  // The page comes back by itself and sends what it held.
  await erin.locator('#status.live').waitFor({ timeout: 40000 });
  await frank.locator('.msg .text', { hasText: 'while it was down' }).waitFor({ timeout: 40000 });
  forgive();

  // Queued, then a reload before the server answered: the queue survives and the same cid means
  // one message, however many times it was sent.
  forgive = await whileDown(async () => {
    await erin.locator('#status.offline').waitFor({ timeout: 10000 });
    await send(erin, 'queued across a reload');
  });
  await erin.reload();
  await erin.locator('#status.live').waitFor({ timeout: 20000 });
  await frank.locator('#status.live').waitFor({ timeout: 40000 });
  forgive();
  await frank.locator('.msg .text', { hasText: 'queued across a reload' }).waitFor({ timeout: 20000 });
  await frank.waitForTimeout(1000);
  for (const text of ['before the restart', 'while it was down', 'queued across a reload']) {
    assert.equal(await frank.locator('.msg .text', { hasText: text }).count(), 1, text);
  }
  await conversationItem(erin, 'frank').click();
  await erin.locator('.msg.mine:not(.sending) .text', { hasText: 'queued across a reload' }).waitFor({ timeout: 10000 });
  assert.equal(await erin.locator('.msg .text', { hasText: 'queued across a reload' }).count(), 1);
  assert.equal(await erin.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('chatd.outbox')).length), 0);
  await erin.context().close();
  await frank.context().close();
});

test('scrolling up loads older history above, and the view stays where it was', async () => {
  const paul = await person('paul');
  let quinn = await person('quinn');
  await startConversation(paul, 'quinn');
  const N = 90;  // under the send burst: no waiting for the rate limit
  for (let i = 1; i <= N; i++) await send(paul, 'line ' + i);
  await paul.locator('.msg.mine:not(.sending)').nth(N - 1).waitFor({ timeout: 20000 });
  // quinn's first device got (and acked) them all; a new device has only the history to go by.
  await paul.locator('.msg.mine .state', { hasText: 'Delivered' }).nth(N - 1).waitFor({ timeout: 20000 });
  await quinn.context().close();
  quinn = await newPage(browser, url, problems, { viewport: DESKTOP });
  await login(quinn, 'quinn', PASSWORD);
  await conversationItem(quinn, 'paul').click();
  await quinn.locator('.msg .text', { hasText: /^line 90$/ }).waitFor({ timeout: 10000 });
  // The first page is the newest 50; the oldest of them is the anchor.
  assert.equal(await quinn.locator('#message-list .msg').count(), 50);
  // To the top (the scroll loads the older page); where the anchor was, in the same turn.
  const before = await quinn.evaluate(() => {
    document.getElementById('messages').scrollTop = 0;
    return [...document.querySelectorAll('.msg .text')].find((n) => n.textContent === 'line 41').getBoundingClientRect().y;
  });
  await quinn.locator('.msg .text', { hasText: /^line 1$/ }).waitFor({ state: 'attached', timeout: 10000 });
  assert.equal(await quinn.locator('#message-list .msg').count(), N);
  // Loaded above: what was on screen has not moved away (within a line's height).
  const after = await quinn.locator('.msg .text', { hasText: /^line 41$/ }).boundingBox();
  assert.ok(Math.abs(after.y - before) < 60, `the view jumped from ${before} to ${after.y}`);
  assert.ok(await quinn.isHidden('#older'));
  const texts = await quinn.locator('#message-list .msg .text').allTextContents();
  assert.deepEqual(texts, Array.from({ length: N }, (_, i) => 'line ' + (i + 1)));
  await paul.context().close();
  await quinn.context().close();
});

const PAYLOADS = [
  '<script>window.__pwned=1</script>',
  '<img src=x onerror="window.__pwned=1">',
  '<svg onload="window.__pwned=1"></svg>',
  '<iframe src="javascript:window.__pwned=1"></iframe>',
  '<a href="javascript:window.__pwned=1">click</a>',
  '"><script>window.__pwned=1</script>',
  "'><img src=x onerror=window.__pwned=1>",
  '<body onload="window.__pwned=1">',
  '<details open ontoggle="window.__pwned=1">',
  '<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>',
  '<input autofocus onfocus="window.__pwned=1">',
  '<video><source onerror="window.__pwned=1"></video>',
  '<style>@import "javascript:window.__pwned=1";</style>',
  '<object data="javascript:window.__pwned=1"></object>',
  '<marquee onstart="window.__pwned=1">x</marquee>',
  '{{constructor.constructor("window.__pwned=1")()}}',
  '<img src="x` `<script>window.__pwned=1</script>"` `>',
  'javascript:window.__pwned=1',
  '<a href="https://example.org/"onmouseover="window.__pwned=1">hover</a>',
  '&lt;b&gt;not bold&lt;/b&gt; &amp; <b>bold</b>',
];

test('20 hostile payloads render as text and run nothing', async () => {
  const gina = await person('gina');
  const hank = await person('hank');
  await startConversation(gina, 'hank');
  for (const p of PAYLOADS) await send(gina, p);
  await gina.locator('.msg.mine .state', { hasText: /Sent|Delivered|Read/ }).nth(PAYLOADS.length - 1).waitFor({ timeout: 15000 });
  await conversationItem(hank, 'gina').click();
  await hank.locator('.msg .text').nth(PAYLOADS.length - 1).waitFor({ timeout: 15000 });
  for (const page of [gina, hank]) {
    const texts = await page.locator('#message-list .msg .text').allTextContents();
    assert.deepEqual(texts, PAYLOADS);
    const made = await page.locator('#message-list :is(script, img, svg, iframe, object, video, style, input, details, math, marquee, body, b)').count();
    assert.equal(made, 0, 'an element was made from message text');
    assert.equal(await page.locator('#message-list a[href^="javascript"]').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await page.hover('#message-list .msg >> nth=18');
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  }
  // The sidebar's preview is text too.
  assert.equal(await conversationItem(hank, 'gina').locator('.preview').textContent(), PAYLOADS.at(-1));
  await gina.context().close();
  await hank.context().close();
});

test('on a phone: the sidebar folds away and a badge on the menu button says something came', async () => {
  const ivan = await person('ivan', PHONE, { hasTouch: true, isMobile: true });
  const judy = await person('judy');
  const kim = await person('kim');
  // ivan is in a conversation with judy, sidebar closed.
  await startConversation(ivan, 'judy');
  assert.ok(await ivan.isHidden('#sidebar'));
  assert.ok(await ivan.isHidden('#menu-count'));
  // kim writes to ivan: the menu button shows it, the title too; the open conversation stays.
  await startConversation(kim, 'ivan');
  await send(kim, 'psst, over here');
  await ivan.locator('#menu-count:not([hidden])').waitFor({ timeout: 10000 });
  assert.equal(await ivan.textContent('#menu-count'), '1');
  assert.equal(await ivan.getAttribute('#menu', 'aria-label'), 'Conversations, 1 unread');
  assert.equal(await ivan.title(), '(1) chatd');
  assert.equal(await ivan.textContent('#conv-title'), 'judy');
  await openSidebar(ivan);
  await countOf(ivan, 'kim').waitFor({ timeout: 10000 });
  await conversationItem(ivan, 'kim').click();
  assert.ok(await ivan.isHidden('#sidebar'));
  await ivan.locator('.msg .text', { hasText: 'psst, over here' }).waitFor({ timeout: 10000 });
  await ivan.locator('#menu-count[hidden]').waitFor({ state: 'attached', timeout: 10000 });
  const overflow = await ivan.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page overflows a 360 px screen by ${overflow} px`);
  // Keyboard: Ctrl+K opens the search wherever one is; Escape folds the sidebar away again.
  await ivan.keyboard.press('Control+k');
  assert.ok(await ivan.isVisible('#sidebar'));
  assert.equal(await ivan.evaluate(() => document.activeElement.id), 'search');
  await ivan.keyboard.press('Escape');
  assert.ok(await ivan.isHidden('#sidebar'));
  for (const p of [ivan, judy, kim]) await p.context().close();
});

async function audit(page, what) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], what + ': ' + JSON.stringify(bad));
}

test('axe-core finds no serious or critical problems, light and dark, desktop and phone', async () => {
  const shots = screenshotDir(join(server.dataDir, 'screenshots'));
  for (const [scheme, viewport, name] of [['light', DESKTOP, 'desktop-light'], ['dark', DESKTOP, 'desktop-dark'],
                                          ['light', PHONE, 'phone']]) {
    // The audit script is injected, which the page's CSP forbids: only this context bypasses it.
    const page = await newPage(browser, url, problems, { viewport, colorScheme: scheme, bypassCSP: true });
    await audit(page, name + ' login');
    await page.close();
  }
  // A busy room and a 1:1 conversation, for the audit and the screenshots.
  const names = ['lena', 'mario', 'nora', 'omar'];
  const pages = [];
  for (const n of names) pages.push(await person(n, DESKTOP, { bypassCSP: true }));
  for (const p of pages) {
    await openSidebar(p);
    await p.fill('#join-room', 'general');
    await p.press('#join-room', 'Enter');
    await p.locator('#conv-title', { hasText: '#general' }).waitFor({ timeout: 10000 });
  }
  const lines = [
    [0, 'Morning all! The release notes are up: https://example.org/releases/2.0'],
    [1, 'Thanks Lena, reading them now.'],
    [2, 'The new offline delivery is great: I wrote to Omar while he was away and he got it all when he came back.'],
    [3, 'Confirmed, nothing lost.'],
    [3, 'Also the unread counts are finally right.'],
    [0, 'Standup in 10 minutes, same link as always.'],
    [1, 'On my way.'],
  ];
  for (const [who, text] of lines) {
    await send(pages[who], text);
    await pages[0].locator('.msg .text', { hasText: text.slice(0, 20) }).first().waitFor({ timeout: 10000 });
  }
  await startConversation(pages[1], 'lena');
  await send(pages[1], 'Do you have a minute after standup?');
  await pages[0].locator('#typing').waitFor({ state: 'attached' });
  await pages[0].locator('#conversations .item.has-unread').first().waitFor({ timeout: 10000 });
  await audit(pages[0], 'desktop chat');
  await pages[0].screenshot({ path: join(shots, 'desktop-light.png') });
  const dark = await newPage(browser, url, problems, { viewport: DESKTOP, colorScheme: 'dark', bypassCSP: true });
  await login(dark, 'mario', PASSWORD);
  await conversationItem(dark, '#general').click();
  await dark.locator('.msg .text', { hasText: 'On my way.' }).waitFor({ timeout: 10000 });
  await audit(dark, 'desktop dark chat');
  await dark.screenshot({ path: join(shots, 'desktop-dark.png') });
  const phone = await newPage(browser, url, problems, { viewport: PHONE, bypassCSP: true, isMobile: true, hasTouch: true });
  await login(phone, 'nora', PASSWORD);
  await openSidebar(phone);
  await conversationItem(phone, '#general').click();
  await phone.locator('.msg .text', { hasText: 'On my way.' }).waitFor({ timeout: 10000 });
  await audit(phone, 'phone chat');
  await phone.screenshot({ path: join(shots, 'phone.png') });
  await openSidebar(phone);
  await phone.screenshot({ path: join(shots, 'phone-sidebar.png') });
  await conversationItem(pages[0], '#general').click();
  await pages[0].locator('.msg .text', { hasText: 'On my way.' }).waitFor({ timeout: 10000 });
  // The room's members, online or not; one of them is a click away from a 1:1 conversation.
  await pages[0].click('#members');
  await pages[0].locator('#member-list .item').nth(3).waitFor({ timeout: 10000 });
  assert.deepEqual(await pages[0].locator('#member-list .label').allTextContents(), names);
  await audit(pages[0], 'members');
  await pages[0].screenshot({ path: join(shots, 'busy-room.png') });
  await pages[0].locator('#member-list .item', { hasText: 'omar' }).click();
  await pages[0].locator('#conv-title', { hasText: /^omar$/ }).waitFor({ timeout: 10000 });
  for (const p of [...pages, dark, phone]) await p.context().close();
});
