// The dashboards an analyst opens: every panel of the flows dashboard checked against exact
// answers computed here from the demo files, the interactions (click to filter, pivot,
// brush the timeline, typed ranges, the URL, the keyboard, reading an event), and the
// CloudTrail dashboard on a real Stratus Red Team detonation log.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { ARTIFACTS, countBy, matched, openDemo, openPage, readRecords, settled, startServer, tempDir } from './lib.mjs';

const SCANNER = '198.51.100.23';
let data, records, server, page, pageErrors, closeDemo;

before(async () => {
  ({ data, server, page, errors: pageErrors, close: closeDemo } = await openDemo(
    ['--records', '48000', '--days', '2', '--seed', '7'],
    ['--workers', '2'],
  ));
  records = readRecords(data);
});

after(() => closeDemo?.());

/** Runs `q` from the query bar with Enter. */
async function typeQuery(q) {
  await page.getByTestId('query-input').fill(q);
  await page.getByTestId('query-input').press('Enter');
  await settled(page);
}

const topRows = (panel) =>
  page.getByTestId(panel).getByTestId('topk-row').evaluateAll((els) =>
    els.map((e) => ({ value: e.dataset.value, lower: Number(e.dataset.lower), upper: Number(e.dataset.upper) })),
  );

/** Each shown row's true count lies in its interval, and the first is `leader` if given. */
function assertTop(rows, exact, leader) {
  assert.equal(rows.length, Math.min(10, exact.size));
  for (const r of rows) {
    const truth = exact.get(r.value) ?? 0;
    assert.ok(r.lower <= truth && truth <= r.upper, `${r.value}: ${truth} not in [${r.lower}, ${r.upper}]`);
  }
  if (leader) assert.equal(rows[0].value, leader);
}

test('the flows dashboard opens by itself and every panel holds the exact answer', async () => {
  await settled(page);
  assert.equal(await page.getByTestId('dashboard-name').textContent(), 'Network flows');
  assert.equal(await matched(page), records.length);

  const distinct = (key) => new Set(records.map(key)).size;
  for (const [panel, truth] of [
    ['panel-dc-src', distinct((r) => r.srcaddr)],
    ['panel-dc-dst', distinct((r) => r.dstaddr)],
  ]) {
    const dc = await page.getByTestId(panel).getByTestId('dc-value').evaluate((e) => e.dataset);
    assert.ok(Number(dc.lower) <= truth && truth <= Number(dc.upper), `${panel}: ${truth} not in [${dc.lower}, ${dc.upper}]`);
  }

  // Percentiles within ±1% of the true value at their rank; the maximum exact.
  const bytes = records.map((r) => r.bytes).sort((a, b) => a - b);
  const values = await page.getByTestId('panel-bytes').locator('[data-value]').evaluateAll((els) =>
    els.map((e) => Number(e.dataset.value)),
  );
  assert.equal(values.length, 4);
  for (const [q, v] of [[0.5, values[0]], [0.9, values[1]], [0.99, values[2]]]) {
    const rank = q * (bytes.length - 1);
    const [lo, hi] = [bytes[Math.floor(rank)], bytes[Math.ceil(rank)]];
    assert.ok(v >= lo * 0.99 && v <= hi * 1.01, `p${q * 100} ${v} not within 1% of [${lo}, ${hi}]`);
  }
  assert.equal(values[3], bytes[bytes.length - 1]);

  const rejects = records.filter((r) => r.action === 'REJECT');
  const rejected = await page.getByTestId('panel-rejected-count').getByTestId('count-value').textContent();
  assert.equal(rejected, rejects.length.toLocaleString('en-US'));

  assertTop(await topRows('panel-top-src'), countBy(records, () => true, (r) => r.srcaddr));
  assertTop(await topRows('panel-top-dst'), countBy(records, () => true, (r) => r.dstaddr));
  assertTop(await topRows('panel-top-port'), countBy(records, () => true, (r) => String(r.dstport)), '443');
  assertTop(await topRows('panel-rejected-src'), countBy(rejects, () => true, (r) => r.srcaddr), SCANNER);
  assertTop(await topRows('panel-rejected-port'), countBy(rejects, () => true, (r) => String(r.dstport)));

  // Source → destination pairs: each row's parts, and its interval holding the pair's count.
  const pairs = countBy(records, () => true, (r) => `${r.srcaddr} → ${r.dstaddr}`);
  assertTop(await topRows('panel-top-pair'), pairs);
  const parts = await page.getByTestId('panel-top-pair').getByTestId('topk-row').first().getByTestId('value-filter').allTextContents();
  assert.equal(parts.join(' → '), (await topRows('panel-top-pair'))[0].value);

  // Rare external sources: exact counts, and exactly when each was first and last seen.
  const [a, b] = [(ip) => Number(ip.split('.')[0]), (ip) => Number(ip.split('.')[1])];
  const external = (ip) =>
    !(a(ip) === 10 || a(ip) === 127 || (a(ip) === 172 && b(ip) >= 16 && b(ip) < 32) || (a(ip) === 192 && b(ip) === 168));
  const seen = new Map();
  for (const r of records) {
    const [first, last] = seen.get(r.srcaddr) ?? [Infinity, -Infinity];
    seen.set(r.srcaddr, [Math.min(first, r.start * 1000), Math.max(last, r.start * 1000)]);
  }
  const sources = countBy(records, () => true, (r) => r.srcaddr);
  const rare = await page.getByTestId('panel-rare-src').getByTestId('rare-row').evaluateAll((els) =>
    els.map((e) => ({ value: e.dataset.value, count: Number(e.dataset.count), first: Number(e.dataset.first), last: Number(e.dataset.last) })),
  );
  assert.equal(rare.length, 10);
  for (const r of rare) {
    assert.ok(external(r.value), r.value);
    assert.equal(r.count, sources.get(r.value), r.value);
    assert.deepEqual([r.first, r.last], seen.get(r.value), r.value);
  }

  // The timeline: every bucket's count exact, at the span it shows.
  const span = Number(await page.getByTestId('timeline').getAttribute('data-span'));
  const buckets = countBy(records, () => true, (r) => Math.floor(r.start / span) * span * 1000);
  const bars = await page.getByTestId('timeline-bar').evaluateAll((els) =>
    els.map((e) => [Number(e.dataset.time), Number(e.dataset.count)]),
  );
  assert.deepEqual(new Map(bars), buckets);

  // The newest events first: the list keeps 1,000, and only the rows in view are drawn.
  const times = records.map((r) => r.start * 1000).sort((a, b) => b - a);
  assert.equal(Number(await page.getByTestId('hits').getAttribute('data-count')), Math.min(1_000, records.length));
  const shown = await page.getByTestId('hit-row').evaluateAll((els) =>
    els.map((e) => [Number(e.dataset.index), Number(e.dataset.time)]),
  );
  assert.ok(shown.length > 20 && shown.length < 100, `${shown.length} rows in the page`);
  for (const [i, t] of shown) assert.equal(t, times[i], `row ${i}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-flows.png'), fullPage: true });
});

test('clicking a value filters, Alt-click excludes, ↗ pivots, and the URL reproduces the view', async () => {
  await page.goto(server.url);
  await settled(page);
  await page.getByTestId('panel-rejected-src').getByTestId('topk-row').first().getByTestId('value-filter').click();
  await settled(page);
  assert.equal(await page.getByTestId('query-input').inputValue(), `src_ip:${SCANNER}`);
  const scans = records.filter((r) => r.srcaddr === SCANNER);
  assert.equal(await matched(page), scans.length);
  assert.match(page.url(), new RegExp(`q=src_ip%3A${SCANNER.replace(/\./g, '\\.')}`));

  // The address alone brings the same view back, in another browser.
  const other = await openPage(page.url());
  await settled(other.page);
  assert.equal(await other.page.getByTestId('query-input').inputValue(), `src_ip:${SCANNER}`);
  assert.equal(await matched(other.page), scans.length);
  await other.browser.close();

  // Alt-click: everything but the scanner's top port.
  const port = await page.getByTestId('panel-top-port').getByTestId('topk-row').first().getAttribute('data-value');
  await page.getByTestId('panel-top-port').getByTestId('topk-row').first().getByTestId('value-filter').click({ modifiers: ['Alt'] });
  await settled(page);
  assert.equal(await page.getByTestId('query-input').inputValue(), `src_ip:${SCANNER} AND NOT dst_port:${port}`);
  assert.equal(await matched(page), scans.filter((r) => String(r.dstport) !== port).length);

  // Back returns to the view before.
  await page.goBack();
  await settled(page);
  assert.equal(await page.getByTestId('query-input').inputValue(), `src_ip:${SCANNER}`);
  assert.equal(await matched(page), scans.length);

  // ↗: a new search for the value alone.
  const row = page.getByTestId('panel-top-dst').getByTestId('topk-row').first();
  const target = await row.getAttribute('data-value');
  await row.hover();
  await row.getByTestId('value-pivot').click();
  await settled(page);
  assert.equal(await page.getByTestId('query-input').inputValue(), `dst_ip:${target}`);
  assert.equal(await matched(page), records.filter((r) => r.dstaddr === target).length);
});

test('dragging across the timeline narrows the range to whole buckets', async () => {
  await page.goto(server.url);
  await settled(page);
  const span = Number(await page.getByTestId('timeline').getAttribute('data-span'));
  const bars = page.getByTestId('timeline-bar');
  const [first, last] = [bars.nth(10), bars.nth(14)];
  const [a, b] = [await first.boundingBox(), await last.boundingBox()];
  const from = Number(await first.getAttribute('data-time'));
  const to = Number(await last.getAttribute('data-time')) + span * 1000;
  await page.mouse.move(a.x + 1, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
  await settled(page);
  const inside = records.filter((r) => r.start * 1000 >= from && r.start * 1000 < to);
  assert.equal(await matched(page), inside.length);
  assert.equal(await page.getByTestId('time-preset').inputValue(), 'custom');
  assert.equal(await page.getByTestId('time-from').inputValue(), new Date(from).toISOString().replace('.000', ''));
  assert.match(page.url(), /earliest=/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-zoomed.png'), fullPage: true });
});

test('typed bounds and presets set the range; a bad bound says so', async () => {
  await page.goto(server.url);
  await settled(page);
  await page.getByTestId('time-preset').selectOption('custom');
  await page.getByTestId('time-from').fill('2026-11-15T06:00:00Z');
  await page.getByTestId('time-to').fill('2026-11-15T12:00:00Z');
  await page.getByTestId('time-apply').click();
  await settled(page);
  const [from, to] = [Date.parse('2026-11-15T06:00:00Z'), Date.parse('2026-11-15T12:00:00Z')];
  assert.equal(await matched(page), records.filter((r) => r.start * 1000 >= from && r.start * 1000 < to).length);
  assert.equal(await page.getByTestId('range-label').textContent(), '2026-11-15T06:00:00Z → 2026-11-15T12:00:00Z');

  await page.getByTestId('time-from').fill('yesterday');
  await page.getByTestId('time-apply').click();
  assert.match(await page.getByTestId('time-error').textContent(), /earliest: expected a time/);

  await page.getByTestId('time-preset').selectOption({ label: 'All time' });
  await settled(page);
  assert.equal(await matched(page), records.length);
});

test('the parser runs as you type: a bad query says where before anything is sent', async () => {
  await page.goto(server.url);
  await settled(page);
  let sockets = 0;
  page.on('websocket', () => sockets++);
  await page.getByTestId('query-input').fill('action:REJECT | top');
  assert.match(await page.getByTestId('query-syntax').textContent(), /^column 20: expected a field name/);
  await page.getByTestId('query-input').press('Enter');
  assert.match(await page.getByTestId('query-error').textContent(), /column 20/);
  assert.equal(sockets, 0, 'nothing was sent');
  await page.getByTestId('query-input').fill('action:REJECT | top 3 src_ip');
  assert.equal(await page.getByTestId('query-syntax').count(), 0);

  // `/` from anywhere focuses the bar; Enter runs the command on its own.
  await page.locator('body').click({ position: { x: 5, y: 300 } });
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'query-input');
  await page.keyboard.press('Enter');
  await settled(page);
  assert.equal(sockets, 1);
  assert.equal(await page.getByTestId('topk-row').first().getAttribute('data-value'), SCANNER);
  // Queries run are offered again.
  const history = await page.locator('#query-history option').evaluateAll((els) => els.map((e) => e.value));
  assert.equal(history[0], 'action:REJECT | top 3 src_ip');
});

test('an event opens whole, its JSON indented', async () => {
  await typeQuery('dst_ip:203.0.113.77');
  const row = page.getByTestId('hit-row').first();
  const [file, line] = [await row.getAttribute('data-file'), Number(await row.getAttribute('data-line'))];
  await row.click();
  const json = await page.getByTestId('hit-json').textContent();
  const event = JSON.parse(json);
  assert.equal(event.dstaddr, '203.0.113.77');
  assert.match(json, /\n  "srcaddr": /, 'indented');
  const text = gunzipSync(readFileSync(path.join(data, file))).toString('utf8').split('\n')[line - 1];
  assert.deepEqual(event, JSON.parse(text), 'the event is the line it names');
});

test('sort and table draw the largest events as a table its column names sort; an eval field filters after its eval', async () => {
  await typeQuery('| eval kb = bytes / 1024 | sort 20 -bytes | table srcaddr, bytes, kb');
  const heads = await page.getByTestId('column-sort').evaluateAll((els) => els.map((e) => e.dataset.column));
  assert.deepEqual(heads, ['srcaddr', 'bytes', 'kb']);
  const column = (name) =>
    page.locator(`[data-testid="hit-row"] td[data-column="${name}"]`).evaluateAll((els) => els.map((e) => e.textContent));
  // The 20 largest flows of all 48,000, not of the newest events kept.
  const largest = records.map((r) => r.bytes).sort((a, b) => b - a).slice(0, 20);
  const bytes = (await column('bytes')).map(Number);
  assert.deepEqual(bytes, largest);
  assert.deepEqual((await column('kb')).map(Number), largest.map((b) => b / 1024));
  // A click on a column's name sorts by it; again, the other way.
  await page.locator('[data-testid="column-sort"][data-column="srcaddr"]').click();
  const up = await column('srcaddr');
  assert.deepEqual(up, [...up].sort());
  await page.locator('[data-testid="column-sort"][data-column="srcaddr"]').click();
  assert.deepEqual(await column('srcaddr'), [...up].sort().reverse());

  // An event lists the fields the query made; `kb` filters after the eval that makes it.
  await page.getByTestId('hit-row').first().click();
  const field = page.locator('[data-testid="hit-field"][data-field="kb"]');
  const kb = await field.getByTestId('value-filter').textContent();
  await field.getByTestId('value-filter').click();
  await settled(page);
  const q = await page.getByTestId('query-input').inputValue();
  assert.match(q, /^\| eval kb = \(bytes \/ 1024\) \| search kb:/, q);
  assert.ok(q.includes(`| search kb:${kb} |`), q);
  assert.ok(Number(await page.getByTestId('hits').getAttribute('data-count')) >= 1);
});

test('a CloudTrail lake opens the CloudTrail dashboard with exact answers (Stratus Red Team)', async () => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const source = path.join(here, '../../shared/data/real/stratus-cloudtrail/all_detonations.ndjson.gz');
  const lake = tempDir('cloudtrail');
  copyFileSync(source, path.join(lake, 'all_detonations.ndjson.gz'));
  const events = readRecords(lake);
  const trail = await startServer(lake);
  const { browser: b, page: p, errors } = await openPage(trail.url);
  try {
    await settled(p);
    assert.equal(await p.getByTestId('dashboard-name').textContent(), 'CloudTrail');
    assert.equal(await matched(p), events.length);
    const rows = (panel) =>
      p.getByTestId(panel).getByTestId('topk-row').evaluateAll((els) =>
        els.map((e) => ({ value: e.dataset.value, lower: Number(e.dataset.lower), upper: Number(e.dataset.upper) })),
      );
    const exactTop = async (panel, key, keep = () => true) => {
      const exact = countBy(events, (e) => keep(e) && key(e) != null, key);
      const shown = await rows(panel);
      assert.ok(shown.length > 0, panel);
      for (const r of shown) assert.ok(r.lower <= (exact.get(r.value) ?? 0) && (exact.get(r.value) ?? 0) <= r.upper, `${panel} ${r.value}`);
      const best = Math.max(...exact.values());
      assert.ok(shown[0].upper >= best, `${panel}: the first row can be the largest (${best})`);
    };
    await exactTop('panel-top-events', (e) => e.eventName);
    await exactTop('panel-top-services', (e) => e.eventSource);
    await exactTop('panel-top-src', (e) => e.sourceIPAddress);
    await exactTop('panel-failed-codes', (e) => e.errorCode, (e) => e.errorCode != null);
    const failed = events.filter((e) => e.errorCode != null).length;
    assert.equal(await p.getByTestId('panel-failed-count').getByTestId('count-value').textContent(), failed.toLocaleString('en-US'));
    const principals = new Set(events.map((e) => e.userIdentity?.arn).filter((a) => a != null)).size;
    const dc = await p.getByTestId('panel-dc-principals').getByTestId('dc-value').evaluate((e) => e.dataset);
    assert.ok(Number(dc.lower) <= principals && principals <= Number(dc.upper), `${principals} principals`);
    const ips = countBy(events, (e) => e.sourceIPAddress != null, (e) => e.sourceIPAddress);
    for (const r of await p.getByTestId('panel-rare-src').getByTestId('rare-row').evaluateAll((els) =>
      els.map((e) => ({ value: e.dataset.value, count: Number(e.dataset.count) })))) {
      assert.equal(r.count, ips.get(r.value), r.value);
    }
    await p.screenshot({ path: path.join(ARTIFACTS, 'dashboard-cloudtrail.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await b.close();
    trail.stop();
    rmSync(lake, { recursive: true, force: true });
  }
});

test('the page raised no errors', () => {
  assert.deepEqual(pageErrors, []);
});
