// SPDX-License-Identifier: MIT
//
// Turns the load generator's result lines (RESULTS/<scenario>.chatd, RESULTS/<scenario>.peer,
// each one line of key=value) into
//   node report.js line RESULTS NAME   one line: each figure for chatd and the peer, and the ratio
//   node report.js table RESULTS       the Markdown table for docs/performance.md, on stdout
// No dependencies beyond Node.js itself.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

// For each scenario: [key, what it is, which way is better ('up', 'down' or '')].
const IDLE = [
  ['rss_per_conn_bytes', 'server RSS per connection, bytes', 'down'],
  ['logins_per_s', 'connects + logins per second (returning users)', 'up'],
  ['first_logins_per_s', 'connects + logins per second (first login creates the user)', 'up'],
  ['login_p99_ms', 'login p99 (connect to live), ms', 'down'],
  ['failures', 'failures (must be 0)', 'down'],
  ['room', 'room join', ''],
  ['server_cpu_s', 'server CPU for all logins, s', 'down'],
];
const FIGURES = {
  'idle-10000': { title: '(a) idle: 10,000 logged-in connections', rows: IDLE },
  'idle-19500': { title: '(a) idle: 19,500 logged-in connections', rows: IDLE },
  'one-to-one': {
    title: '(b) 1:1 messages, 100 pairs, ok after durable',
    rows: [
      ['max_msgs_per_s', 'messages/s with p99 send->ok under 10 ms', 'up'],
      ['ok_p50_ms', 'send->ok p50 at that rate, ms', 'down'],
      ['ok_p99_ms', 'send->ok p99 at that rate, ms', 'down'],
      ['deliver_p99_ms', 'send->delivery p99 at that rate, ms', 'down'],
      ['server_cpu_pct', 'server CPU at that rate, % of a core', ''],
      ['client_cpu_pct', 'generator CPU at that rate, % of a core', ''],
      ['history', 'conversation found in history afterwards', ''],
      ['failures', 'failures', 'down'],
    ],
  },
  fanout: {
    title: '(c) room fan-out, 1,000 members',
    rows: [
      ['max_deliveries_per_s', 'deliveries/s with 99 % arriving', 'up'],
      ['msgs_per_s', 'publisher messages/s at that point', 'up'],
      ['deliver_p50_ms', 'send->delivery p50 at that point, ms', 'down'],
      ['deliver_p99_ms', 'send->delivery p99 at that point, ms', 'down'],
      ['server_cpu_pct', 'server CPU at that point, % of a core', ''],
      ['client_cpu_pct', 'generator CPU at that point, % of a core', ''],
      ['lat_max_deliveries_per_s', 'deliveries/s with 99 % arriving and p99 within 50 ms', 'up'],
      ['lat_msgs_per_s', '... publisher messages/s', 'up'],
      ['lat_deliver_p50_ms', '... send->delivery p50, ms', 'down'],
      ['lat_deliver_p99_ms', '... send->delivery p99, ms', 'down'],
      ['lat_server_cpu_pct', '... server CPU, % of a core', ''],
      ['first_delivered_pct', 'at 100 msgs/s (100,000 deliveries/s): % delivered within 1 s', 'up'],
      ['first_deliver_p50_ms', '... send->delivery p50, ms', 'down'],
      ['first_deliver_p99_ms', '... send->delivery p99, ms', 'down'],
      ['failures', 'failures', 'down'],
    ],
  },
  latency: {
    title: '(d) latency',
    rows: [
      ['same_ok_p50_ms', '1 pair, 200 msgs/s, same core: send->ok p50, ms', 'down'],
      ['same_ok_p99_ms', '... send->ok p99, ms', 'down'],
      ['same_deliver_p99_ms', '... send->delivery p99, ms', 'down'],
      ['cross_ok_p50_ms', '1 pair, 200 msgs/s, cross core: send->ok p50, ms', 'down'],
      ['cross_ok_p99_ms', '... send->ok p99, ms', 'down'],
      ['cross_deliver_p99_ms', '... send->delivery p99, ms', 'down'],
      ['half_rate', '100 pairs at 50 % of (b): messages/s', 'up'],
      ['half_ok_p99_ms', '... send->ok p99, ms', 'down'],
      ['half_deliver_p99_ms', '... send->delivery p99, ms', 'down'],
    ],
  },
  offline: {
    title: '(e) offline pool',
    rows: [
      ['store_msgs_per_s', 'stored messages/s, 1,000 offline users', 'up'],
      ['store_ok_p99_ms', 'send->ok p99 while storing, ms', 'down'],
      ['drain100_ms', 'login with 100 pending: hello->live, ms', 'down'],
      ['drain100000_ms', 'login with 100,000 pending: hello->live, ms', 'down'],
      ['drain100000_msgs_per_s', '... drained messages/s', 'up'],
      ['drain100000_received', '... messages received', ''],
      ['drain100000_in_order', '... oldest first', ''],
      ['failures', 'failures', 'down'],
    ],
  },
  coldstart: {
    title: '(f) start-up and size',
    rows: [
      ['cold_empty_ms', 'exec -> first accepted upgrade, empty, ms', 'down'],
      ['cold_full_ms', 'exec -> first accepted upgrade, with stored messages, ms', 'down'],
      ['stored_messages', '... messages stored', ''],
      ['data_kib', '... data directory, KiB', ''],
      ['stripped_bytes', 'stripped binary, bytes', 'down'],
      ['idle_rss_kib', 'RSS of the idle server after start, KiB', 'down'],
      ['failures', 'failures', 'down'],
    ],
  },
  presence: {
    title: '(g) presence storm: 10,000 users in 100 rooms, 1,000 reconnect at once',
    rows: [
      ['a_relogin_ms', 'reconnect within the 5 s grace: all 1,000 live again after the close, ms', 'down'],
      ['a_login_p99_ms', '... connect->live p99, ms', 'down'],
      ['a_presence_events', '... presence events to those who stayed (0 expected)', 'down'],
      ['a_server_cpu_max_pct', '... server CPU, most of any 100 ms, % of a core', 'down'],
      ['a_server_cpu_avg_pct', '... server CPU while busy, % of a core', ''],
      ['a_server_cpu_s', '... server CPU for the phase, s', 'down'],
      ['b_relogin_ms', 'back after 7 s away: all 1,000 live again after the reconnect, ms', 'down'],
      ['b_login_p99_ms', '... connect->live p99, ms', 'down'],
      ['b_offline_events', '... offline events to those who stayed', ''],
      ['b_online_events', '... online events to those who stayed', ''],
      ['b_expected_events', '... expected of each', ''],
      ['b_offline_per_s', '... offline events/s', 'up'],
      ['b_online_per_s', '... online events/s', 'up'],
      ['b_server_cpu_max_pct', '... server CPU, most of any 100 ms (grace expiry included), % of a core', 'down'],
      ['b_server_cpu_avg_pct', '... server CPU while they log in, % of a core', ''],
      ['b_server_cpu_s', '... server CPU for the phase (close, away, return), s', 'down'],
      ['presence', 'presence events sent', ''],
      ['failures', 'failures (must be 0)', 'down'],
    ],
  },
  publish: {
    title: '(h) site publish API, 1,000 users online, 8 HTTP connections',
    rows: [
      ['user_publish_per_s', 'POST /api/publish to one user: publishes/s answered 200', 'up'],
      ['user_http_p50_ms', '... HTTP round trip p50, ms', 'down'],
      ['user_http_p99_ms', '... HTTP round trip p99, ms', 'down'],
      ['user_arrived_pct', '... % of the notifications that reached the user', 'up'],
      ['user_deliver_p99_ms', '... publish->notification p99, ms', 'down'],
      ['user_server_cpu_pct', '... server CPU, % of a core', ''],
      ['everyone_publish_per_s', 'POST /api/publish to "*": publishes/s answered 200', 'up'],
      ['everyone_deliveries_per_s', '... notifications delivered/s', 'up'],
      ['everyone_http_p99_ms', '... HTTP round trip p99, ms', 'down'],
      ['everyone_arrived_pct', '... % of the notifications that arrived', 'up'],
      ['everyone_deliver_p99_ms', '... publish->notification p99, ms', 'down'],
      ['failures', 'failures (must be 0)', 'down'],
    ],
  },
  'closed-loop-100': {
    title: '(j) 1:1 closed loop, 100 pairs: one send in flight per connection, ok after durable',
    rows: [
      ['msgs_per_s', 'messages/s', 'up'],
      ['ok_p50_ms', '... send->ok p50, ms', 'down'],
      ['ok_p99_ms', '... send->ok p99, ms', 'down'],
      ['ok_p999_ms', '... send->ok p99.9, ms', 'down'],
      ['server_cpu_pct', '... server CPU, % of a core', ''],
      ['failures', 'failures (must be 0)', 'down'],
    ],
  },
  socketio: {
    title: '(i) web-msg-sender pages: chatd over /socket.io/ ("chatd" column) beside chatd over /ws ("peer" column), ' +
      '1,000 users, 8 HTTP connections publishing',
    // Both columns are chatd: the two transports of the same build, measured one after the other.
    targets: ['socketio', 'ws'],
    rows: [
      ['logins_per_s', 'connect + upgrade + login: logins/s', 'up'],
      ['login_server_us', '... server CPU per login, µs', 'down'],
      ['user_publish_per_s', 'POST /api/publish to one user: publishes/s answered 200', 'up'],
      ['user_deliver_p99_ms', '... publish->new_msg (notification) p99, ms', 'down'],
      ['user_arrived_pct', '... % that reached the user', 'up'],
      ['everyone_publish_per_s', 'POST /api/publish to "*": publishes/s answered 200', 'up'],
      ['everyone_deliveries_per_s', '... notifications delivered/s', 'up'],
      ['everyone_deliver_p99_ms', '... publish->new_msg (notification) p99, ms', 'down'],
      ['everyone_arrived_pct', '... % that arrived', 'up'],
      ['failures', 'failures (must be 0)', 'down'],
    ],
  },
};
FIGURES['closed-loop-1000'] = { ...FIGURES['closed-loop-100'], title: FIGURES['closed-loop-100'].title.replace('100 pairs', '1,000 pairs') };
const ORDER = ['idle-10000', 'idle-19500', 'one-to-one', 'fanout', 'latency', 'offline', 'coldstart', 'presence',
  'publish', 'socketio', 'closed-loop-100', 'closed-loop-1000'];

// The two result files a scenario compares: chatd and the peer, or its own pair.
function targetsOf(name) {
  return (FIGURES[name] && FIGURES[name].targets) || ['chatd', 'peer'];
}

function parseLine(text) {
  const out = {};
  for (const tok of text.trim().split(/\s+/)) {
    const eq = tok.indexOf('=');
    if (eq > 0) out[tok.slice(0, eq)] = tok.slice(eq + 1);
  }
  return out;
}

function load(dir, name, target) {
  const file = path.join(dir, `${name}.${target}`);
  if (!fs.existsSync(file)) return null;
  return parseLine(fs.readFileSync(file, 'utf8').split('\n')[0] || '');
}

function isNum(v) {
  return typeof v === 'string' && /^-?[0-9]+(\.[0-9]+)?$/.test(v);
}

function ratio(a, b) {
  if (!isNum(a) || !isNum(b) || Number(b) === 0) return '-';
  const r = Number(a) / Number(b);
  return r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

function rowsFor(name, chatd, peer) {
  if (FIGURES[name]) return FIGURES[name].rows;
  const keys = Object.keys(chatd || peer || {}).filter((k) => k !== 'scenario' && k !== 'target');
  return keys.map((k) => [k, k, '']);
}

function oneLine(dir, name) {
  const [first, second] = targetsOf(name);
  const chatd = load(dir, name, first);
  const peer = load(dir, name, second);
  const parts = [name];
  for (const [key] of rowsFor(name, chatd, peer)) {
    const c = chatd ? chatd[key] ?? '-' : '-';
    const p = peer ? peer[key] ?? (peer.skipped ? 'n/a' : '-') : 'n/a';
    let s = `${key}: ${first}=${c} ${second}=${p}`;
    const r = ratio(c, p);
    if (r !== '-') s += ` ratio=${r}`;
    parts.push(s);
  }
  for (const [label, line] of [['chatd', chatd], ['peer', peer]]) {
    if (line && line.why) parts.push(`${label} why=${line.why}`);
    if (line && line.send) parts.push(`${label} send=${line.send}`);
    if (line && line.server_failures) parts.push(`${label} server_failures=${line.server_failures} (see stderr)`);
    if (line && line.fill_why) parts.push(`${label} fill_why=${line.fill_why}`);
  }
  return parts.join(' | ');
}

function machine(root) {
  const cpus = os.cpus();
  let commit = '-';
  try {
    commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch (e) {
    // not a git checkout
  }
  return [
    `- Machine: ${cpus.length} × ${cpus[0] ? cpus[0].model : '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `Linux ${os.release()}, loopback only`,
    `- chatd commit ${commit}; reference peer on Node.js ${process.version} with the \`ws\` package`,
    `- Load average before the run ${process.env.BENCH_LOAD_BEFORE || '-'}, after it ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} ` +
      '(anything else running on the machine shows in the figures)',
    `- Written ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by bench/run-all`,
  ].join('\n');
}

function table(dir) {
  const root = path.resolve(__dirname, '..');
  const out = [];
  out.push('# chatd performance');
  out.push('');
  out.push(machine(root));
  out.push('');
  out.push('Server pinned to one CPU, load generator to the other (see bench/README.md for the method and');
  out.push('its limits). "ratio" is chatd divided by the reference peer; the arrow says which way is');
  out.push('better. "n/a": the peer stores nothing, so it has no figure there.');
  out.push('');
  out.push('| Scenario | Figure | chatd | peer | ratio | better |');
  out.push('|---|---|---:|---:|---:|:---:|');
  const names = ORDER.filter((n) => targetsOf(n).some((t) => fs.existsSync(path.join(dir, `${n}.${t}`))));
  for (const name of names) {
    const chatd = load(dir, name, targetsOf(name)[0]);
    const peer = load(dir, name, targetsOf(name)[1]);
    const title = FIGURES[name] ? FIGURES[name].title : name;
    let first = true;
    for (const [key, label, better] of rowsFor(name, chatd, peer)) {
      const c = chatd ? chatd[key] ?? '-' : '-';
      const p = peer ? peer[key] ?? (peer.skipped ? 'n/a' : '-') : 'n/a';
      const arrow = better === 'up' ? '↑' : better === 'down' ? '↓' : '';
      out.push(`| ${first ? title : ''} | ${label} | ${c} | ${p} | ${ratio(c, p)} | ${arrow} |`);
      first = false;
    }
  }
  out.push('');
  out.push('<details><summary>Raw result lines</summary>');
  out.push('');
  out.push('```');
  for (const name of names) {
    for (const target of targetsOf(name)) {
      const file = path.join(dir, `${name}.${target}`);
      if (fs.existsSync(file)) out.push(fs.readFileSync(file, 'utf8').trim());
    }
  }
  out.push('```');
  out.push('</details>');
  return out.join('\n') + '\n';
}

// --- Charts: a ramp's steps (RESULTS/NAME.TARGET.steps, kept by lib.sh's save) as rate
// against p99, chatd and the peer on one SVG. Pairs steps give msgs/s and send->ok p99; fan-out
// steps give deliveries/s and deliver p99. A filled dot is a step that passed, a ring one that
// failed (too slow, or too little arrived).
function readSteps(dir, name, target) {
  const file = path.join(dir, `${name}.${target}.steps`);
  if (!fs.existsSync(file)) return [];
  const points = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/-> ([0-9.]+)(?:\/s| deliveries\/s),? (?:ok|deliver) p50 ([0-9.]+) p99 ([0-9.]+)/);
    if (m) points.push({ x: Number(m[1]), y: Number(m[3]), pass: !/FAIL\s*$/.test(line) });
  }
  return points.sort((a, b) => a.x - b.x);
}

function esc(t) {
  return String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function svgChart(dir, name) {
  const series = [
    { target: 'chatd', color: '#1f6feb', dash: '' },
    { target: 'peer', color: '#d9480f', dash: '6 4' },
  ].map((s) => ({ ...s, points: readSteps(dir, name, s.target) })).filter((s) => s.points.length);
  const W = 700, H = 420, L = 70, R = 45, T = 80, B = 50;
  const all = series.flatMap((s) => s.points);
  if (!all.length) return null;
  const xMax = Math.max(...all.map((p) => p.x)) * 1.05;
  const yMin = Math.max(0.05, Math.min(...all.map((p) => p.y)) / 1.5), yMax = Math.max(...all.map((p) => p.y)) * 1.5;
  const lx = (x) => L + (x / xMax) * (W - L - R);
  const ly = (y) => T + (1 - (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - T - B);
  const fanout = name.startsWith('fanout');
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${L}" y="22" font-size="14" font-weight="bold">${esc(FIGURES[name] ? FIGURES[name].title : name)}</text>`);
  for (let e = Math.ceil(Math.log10(yMin)); e <= Math.floor(Math.log10(yMax)); e++) {
    const v = 10 ** e, y = ly(v);
    out.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end">${v >= 1 ? v : v.toFixed(1)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const v = (xMax / 5) * i, x = lx(v);
    out.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${H - B + 16}" text-anchor="middle">${Math.round(v).toLocaleString('en-US')}</text>`);
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">${fanout ? 'deliveries/s' : 'messages/s'}</text>`);
  out.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">p99 ${fanout ? 'send→delivery' : 'send→ok'}, ms (log)</text>`);
  series.forEach((s, i) => {
    const pts = s.points.map((p) => `${lx(p.x).toFixed(1)},${ly(p.y).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`);
    for (const p of s.points) {
      out.push(`<circle cx="${lx(p.x).toFixed(1)}" cy="${ly(p.y).toFixed(1)}" r="4" stroke="${s.color}" stroke-width="2" fill="${p.pass ? s.color : '#fff'}"/>`);
    }
    const label = s.target === 'chatd' ? 'chatd' : 'reference peer (Node ws relay, stores nothing)';
    out.push(`<line x1="${L}" y1="${36 + i * 16}" x2="${L + 25}" y2="${36 + i * 16}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`);
    out.push(`<text x="${L + 30}" y="${40 + i * 16}">${esc(label)}</text>`);
  });
  out.push(`<text x="${L + 330}" y="40" fill="#555">filled dot: the step passed; ring: it failed</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const [cmd, dir, name, file] = process.argv.slice(2);
if (cmd === 'line' && dir && name) {
  process.stdout.write(oneLine(dir, name) + '\n');
} else if (cmd === 'table' && dir) {
  process.stdout.write(table(dir));
} else if (cmd === 'svg' && dir && name && file) {
  const svg = svgChart(dir, name);
  if (!svg) {
    process.stderr.write(`report.js: no steps for ${name} in ${dir}\n`);
    process.exit(1);
  }
  fs.writeFileSync(file, svg);
} else {
  process.stderr.write('usage: node report.js line RESULTS NAME | table RESULTS | svg RESULTS NAME OUT.svg\n');
  process.exit(1);
}
