// The walking skeleton, through the real path a user takes: browser → WebSocket → gateway →
// local workers → binary frames → merged in wasm → rendered. Answers are checked against
// exact counts computed here from the raw files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ARTIFACTS, countBy, openDemo, readRecords, runQuery } from './lib.mjs';

let records, page, pageErrors, closeDemo, server;

before(async () => {
  // One worker: the scan takes long enough for several flushes to stream in.
  let data;
  ({ data, page, server, errors: pageErrors, close: closeDemo } = await openDemo(
    ['--records', '48000', '--days', '2', '--seed', '7'],
    ['--workers', '1'],
  ));
  records = readRecords(data);
});

after(() => closeDemo?.());

test('action:REJECT | top 10 src_ip streams in and matches exact counts', async () => {
  const frames = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(f.payload.length)));
  await runQuery(page, 'action:REJECT | top 10 src_ip');
  await page.screenshot({ path: path.join(ARTIFACTS, 'skeleton-top-rejects.png'), fullPage: true });

  assert.equal(await page.getByTestId('query-error').count(), 0);
  const rows = await page.getByTestId('topk-row').evaluateAll((els) =>
    els.map((e) => ({
      value: e.dataset.value,
      estimate: Number(e.dataset.estimate),
      lower: Number(e.dataset.lower),
      upper: Number(e.dataset.upper),
      text: e.textContent,
    })),
  );
  const exact = countBy(records, (r) => r.action === 'REJECT', (r) => r.srcaddr);
  const ranked = [...exact.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

  assert.equal(rows.length, 10);
  assert.equal(rows[0].value, '198.51.100.23', 'the planted port scanner leads the rejects');
  const maxError = Math.max(...rows.map((r) => r.upper - r.lower));
  for (const row of rows) {
    const truth = exact.get(row.value) ?? 0;
    assert.ok(row.lower <= truth && truth <= row.upper, `${row.value}: ${truth} not in [${row.lower}, ${row.upper}]`);
    if (row.lower === row.upper) assert.equal(row.estimate, truth, row.value);
    assert.ok(row.text.includes(row.value) && row.text.includes(row.estimate.toLocaleString('en-US')), row.text);
  }
  // Every value that is certainly in the true top 10 is shown.
  const tenth = ranked[9][1];
  for (const [value, count] of ranked.slice(0, 10)) {
    if (count > tenth + maxError) assert.ok(rows.some((r) => r.value === value), `${value} (${count}) missing`);
  }
  // Binary frames arrived over the socket: Plan, ≥ 1 Partial, Progress, Done.
  assert.ok(frames.length >= 4, `frames: ${frames.length}`);
  const merged = await page.getByTestId('progress').textContent();
  assert.match(merged, /48 \/ 48 files/);
});

test('dst_port:22 | stats count(), dc(src_ip) shows the exact count and dc within its bound', async () => {
  await runQuery(page, 'dst_port:22 | stats count(), dc(src_ip)');
  const ssh = records.filter((r) => r.dstport === 22);
  const distinct = new Set(ssh.map((r) => r.srcaddr)).size;
  const count = await page.getByTestId('count-value').textContent();
  assert.equal(count, ssh.length.toLocaleString('en-US'));
  const dc = await page.getByTestId('dc-value').evaluate((e) => ({ ...e.dataset, text: e.textContent }));
  assert.ok(Number(dc.lower) <= distinct && distinct <= Number(dc.upper), `${distinct} not in [${dc.lower}, ${dc.upper}]`);
  assert.ok(Math.abs(Number(dc.estimate) - distinct) / distinct < 0.03, `estimate ${dc.estimate} vs ${distinct}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'skeleton-stats.png'), fullPage: true });
});

test('the exfiltration story: exact sum and max, p50 within 1%', async () => {
  await runQuery(page, 'src_ip:10.0.2.47 dst_ip:203.0.113.77 | stats count(), sum(bytes), max(bytes), p50(bytes)');
  const flows = records.filter((r) => r.srcaddr === '10.0.2.47' && r.dstaddr === '203.0.113.77');
  const bytes = flows.map((r) => r.bytes).sort((a, b) => a - b);
  assert.equal(flows.length, 48, 'the planted exfiltration is in the data');
  assert.equal(await page.getByTestId('count-value').textContent(), '48');
  const stats = await page.getByTestId('stat-value').evaluateAll((els) => els.map((e) => Number(e.dataset.value)));
  assert.deepEqual(stats, [bytes.reduce((a, b) => a + b, 0), bytes[bytes.length - 1]]);
  const p50 = Number(await page.getByTestId('quantile-value').getAttribute('data-value'));
  const [lo, hi] = [bytes[23], bytes[24]]; // the median of 48 lies between these
  assert.ok(p50 >= lo * 0.99 && p50 <= hi * 1.01, `p50 ${p50} not within 1% of [${lo}, ${hi}]`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'skeleton-exfil.png'), fullPage: true });
});

test('rare 8 dst_port lists the rarest ports with exact counts', async () => {
  await runQuery(page, '| rare 8 dst_port');
  const rows = await page.getByTestId('rare-row').evaluateAll((els) =>
    els.map((e) => ({ value: e.dataset.value, count: Number(e.dataset.count) })),
  );
  const exact = countBy(records, () => true, (r) => String(r.dstport));
  assert.equal(rows.length, 8);
  for (const row of rows) assert.equal(row.count, exact.get(row.value), `port ${row.value}`);
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].count <= rows[i].count, 'rarest first');
  // Thousands of ports were seen once (the planted scan and internet noise).
  const note = await page.getByTestId('rare-note').textContent();
  const rareTotal = [...exact.values()].filter((c) => c <= 3).length;
  const num = (s) => Number(s.replace(/[^0-9]/g, ''));
  const sampled = note.match(/sample of .* \(95%: ([0-9,]+)–([0-9,]+)\)/);
  if (sampled) {
    // The shown 95% interval holds the true number of rare ports.
    assert.ok(num(sampled[1]) <= rareTotal && rareTotal <= num(sampled[2]), `${note} vs ${rareTotal}`);
  } else {
    assert.match(note, new RegExp(`exact · ${rareTotal.toLocaleString('en-US')} values`));
  }
  await page.screenshot({ path: path.join(ARTIFACTS, 'skeleton-rare.png'), fullPage: true });
});

test('a malformed query shows its error and the server keeps serving', async () => {
  await runQuery(page, 'action:REJECT | top 10');
  const error = await page.getByTestId('query-error').textContent();
  assert.match(error, /column 23/);
  assert.match(error, /field name/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'skeleton-error.png') });

  await runQuery(page, 'dst_port:22 | top 3 src_ip');
  assert.equal(await page.getByTestId('query-error').count(), 0);
  const first = await page.getByTestId('topk-row').first().getAttribute('data-value');
  assert.equal(first, '192.0.2.45', 'the planted SSH brute forcer leads port 22');
});

test('the page is served with a strict policy, and runs within it', async () => {
  const response = await fetch(server.url);
  const policy = response.headers.get('content-security-policy');
  assert.match(policy, /default-src 'none'/);
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval'(;|$)/, 'no inline or foreign script');
  assert.match(policy, /frame-ancestors 'none'/);
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
  assert.doesNotMatch(await response.text(), /<script(?![^>]*\bsrc=)[^>]*>/, 'an inline script');
});

test('the page raised no errors', () => {
  assert.deepEqual(pageErrors, []);
});
