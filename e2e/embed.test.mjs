// Embedding, through the path a SOC portal takes (docs/EMBEDDING.md): a gateway that
// requires API keys; an admin key saves two queries and mints widget tokens through the
// API; a host page on a second origin loads the loader script and places the widgets,
// which stream live and match exact counts. The same page with an expired token, a token
// for another saved query, a tampered token, and from an origin the tenant does not allow
// each fail closed with a visible message; a cross-site WebSocket is refused; and the full
// page asks for a key and works once given one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, countBy, demoData, openPage, readRecords, sketchlake, startServer } from './lib.mjs';

let data, records, gateway, host, hostOrigin, adminKey, readKey, browser, page;
const cases = {};

/** `POST`s `body` to the gateway with the admin key: status and JSON. */
async function api(path, body) {
  const response = await fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function save(name, q) {
  const { status, body } = await api('/api/v1/saved', { name, q });
  assert.equal(status, 201, JSON.stringify(body));
  return body.id;
}

async function token(saved, widget, extra = {}) {
  const { status, body } = await api('/api/v1/widget-tokens', { saved, widget, origin: hostOrigin, ...extra });
  assert.equal(status, 201, JSON.stringify(body));
  return body.token;
}

/** The host page for `name`: the loader and its widgets, as a portal would write them. */
function hostPage(name) {
  const widgets = (cases[name] ?? [])
    .map((w) => `<section><h2>${w.widget}</h2>
      <sketchlake-widget widget="${w.widget}" query="${w.saved}" token="${w.token}"></sketchlake-widget></section>`)
    .join('\n');
  return `<!doctype html><html><head><title>SOC portal</title>
    <script src="${gateway.url}/embed/loader.js"></script></head>
    <body style="font-family:sans-serif;background:#f4f4f4"><h1>SOC portal: ${name}</h1>${widgets}</body></html>`;
}

before(async () => {
  data = demoData(['--records', '30000', '--days', '1', '--seed', '11']);
  records = readRecords(data);
  host = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(hostPage(new URL(req.url, 'http://x').pathname.slice(1)));
  });
  await new Promise((resolve) => host.listen(0, '127.0.0.1', resolve));
  hostOrigin = `http://127.0.0.1:${host.address().port}`;

  // Set-up as an operator does it, with the CLI, before the gateway starts.
  sketchlake(['tenant', 'set', 'default', '--data', data, '--allow-origin', hostOrigin]);
  const key = (role) =>
    execFileSync(process.env.SKETCHLAKE_BIN, ['key', 'create', '--data', data, '--role', role, '--label', 'e2e'])
      .toString()
      .trim();
  adminKey = key('admin');
  readKey = key('read');
  gateway = await startServer(data, [], { keys: true });

  const talkers = await save('top talkers', '| top 5 srcaddr');
  const rejects = await save('rejected destinations', 'action:REJECT | stats dc(dstaddr), p99(bytes)');
  const good = await token(talkers, 'top-talkers');
  const tampered = good.replace(/\.([^.]*)\./, (_, payload) => {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.sub = rejects;
    return `.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  });
  const expiring = await token(talkers, 'top-talkers', { seconds: 1 });
  const overview = await save('overview', '| stats rare(5, srcaddr), p50(bytes), p99(bytes)');
  Object.assign(cases, {
    two: [
      { widget: 'top-talkers', saved: talkers, token: good },
      { widget: 'distinct', saved: rejects, token: await token(rejects, 'distinct') },
    ],
    expired: [{ widget: 'top-talkers', saved: talkers, token: expiring }],
    other: [{ widget: 'top-talkers', saved: rejects, token: good }],
    tampered: [{ widget: 'distinct', saved: rejects, token: tampered }],
    rest: await Promise.all(
      ['rare-ips', 'percentiles', 'histogram', 'hits'].map(async (widget) => ({
        widget,
        saved: overview,
        token: await token(overview, widget),
      })),
    ),
  });
  await new Promise((resolve) => setTimeout(resolve, 2100)); // the 1-second token expires
  ({ browser, page } = await openPage('about:blank'));
});

after(async () => {
  await browser?.close();
  gateway?.stop();
  host?.close();
  if (data) rmSync(data, { recursive: true, force: true });
});

/** The widget frames on the page, in order. */
function frame(n) {
  return page.frameLocator('sketchlake-widget iframe').nth(n);
}

test('two widgets on a second origin stream live and match exact counts', async () => {
  const frames = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(ws.url())));
  await page.goto(`${hostOrigin}/two`);
  const talkers = frame(0);
  await talkers.getByTestId('topk-row').first().waitFor({ timeout: 60_000 });
  await talkers.getByTestId('partial-badge').waitFor({ state: 'detached', timeout: 60_000 });
  const rows = await talkers.getByTestId('topk-row').evaluateAll((els) =>
    els.map((e) => ({ value: e.dataset.value, lower: Number(e.dataset.lower), upper: Number(e.dataset.upper) })),
  );
  const exact = countBy(records, () => true, (r) => r.srcaddr);
  const ranked = [...exact.entries()].sort((a, b) => b[1] - a[1]);
  assert.equal(rows.length, 5);
  for (const row of rows) {
    const count = exact.get(row.value);
    assert.ok(row.lower <= count && count <= row.upper, `${row.value}: ${count} in [${row.lower}, ${row.upper}]`);
  }
  assert.equal(rows[0].value, ranked[0][0]);
  assert.equal(await talkers.getByTestId('embed-range').textContent(), 'sketchlake · all time');
  // Values are text here: an embedded widget has nothing to filter to.
  assert.equal(await talkers.getByTestId('value-filter').count(), 0);

  const distinct = frame(1);
  await distinct.getByTestId('dc-value').waitFor({ timeout: 60_000 });
  await distinct.getByTestId('partial-badge').waitFor({ state: 'detached', timeout: 60_000 });
  const truth = new Set(records.filter((r) => r.action === 'REJECT').map((r) => r.dstaddr)).size;
  const dc = await distinct.getByTestId('dc-value').evaluate((e) => e.dataset);
  assert.ok(Number(dc.lower) <= truth && truth <= Number(dc.upper), `dc [${dc.lower}, ${dc.upper}] vs exact ${truth}`);
  assert.equal(await distinct.getByTestId('quantile-value').count(), 0, 'the distinct widget shows dc only');

  // Both streamed over the gateway's socket, in several frames each; each frame was sized
  // to its content.
  assert.ok(frames.length >= 6, `${frames.length} frames`);
  const heights = await page.locator('sketchlake-widget iframe').evaluateAll((els) => els.map((e) => e.style.height));
  for (const height of heights) assert.match(height, /^\d+px$/);
  assert.notDeepEqual(heights, ['120px', '120px']);
  // The token left the frame's address as soon as it was read.
  const src = await page.locator('sketchlake-widget iframe').first().evaluate((e) => e.src);
  assert.ok(src.includes('#token='), 'the loader passes it in the fragment');
  await page.screenshot({ path: path.join(ARTIFACTS, 'embed-two-widgets.png'), fullPage: true });
});

test('every other widget shows its part of a saved query', async () => {
  await page.goto(`${hostOrigin}/rest`);
  const [rare, percentiles, histogram, hits] = [0, 1, 2, 3].map(frame);
  await rare.getByTestId('rare-row').first().waitFor({ timeout: 60_000 });
  assert.equal(await rare.getByTestId('quantile-value').count(), 0);
  await percentiles.getByTestId('quantile-value').nth(1).waitFor({ timeout: 60_000 });
  assert.equal(await percentiles.getByTestId('quantile-value').count(), 2);
  assert.equal(await percentiles.getByTestId('rare-row').count(), 0);
  await histogram.getByTestId('timeline-bar').first().waitFor({ timeout: 60_000 });
  await hits.getByTestId('hit-row').first().waitFor({ timeout: 60_000 });
  assert.equal(await hits.getByTestId('hits-more').count(), 0);
  for (const f of [rare, percentiles, histogram, hits]) {
    await f.getByTestId('partial-badge').waitFor({ state: 'detached', timeout: 60_000 });
  }
  // Each frame is sized to its widget's content, however that was drawn. (Chromium does not
  // lay out a cross-origin frame below the fold until it is scrolled to.)
  for (let n = 0; n < 4; n++) await page.locator('sketchlake-widget').nth(n).scrollIntoViewIfNeeded();
  const heights = () =>
    page.locator('sketchlake-widget iframe').evaluateAll((els) => els.map((e) => parseFloat(e.style.height) || 0));
  for (let i = 0; i < 100 && (await heights()).some((h) => h <= 150); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const sized = await heights();
  assert.ok(sized.length === 4 && sized.every((h) => h > 150), `frame heights ${sized}`);
  // Rare counts are exact, least frequent first.
  const exact = countBy(records, () => true, (r) => r.srcaddr);
  const rows = await rare.getByTestId('rare-row').evaluateAll((els) => els.map((e) => ({ ...e.dataset })));
  assert.ok(rows.length > 0);
  for (const row of rows) assert.equal(Number(row.count), exact.get(row.value), row.value);
  const counts = rows.map((r) => Number(r.count));
  assert.deepEqual(counts, [...counts].sort((a, b) => a - b));
  await page.screenshot({ path: path.join(ARTIFACTS, 'embed-other-widgets.png'), fullPage: true });
});

for (const [name, what, expected] of [
  ['expired', 'an expired token', /expired/],
  ['other', 'a token for another saved query', /another saved query/],
  ['tampered', 'a tampered token', /not valid/],
]) {
  test(`a widget with ${what} fails closed, visibly`, async () => {
    await page.goto(`${hostOrigin}/${name}`);
    const problem = frame(0).getByTestId('embed-problem');
    await problem.waitFor({ timeout: 30_000 });
    assert.match(await problem.textContent(), expected);
    assert.equal(await frame(0).getByTestId('topk-row').count(), 0);
    assert.equal(await frame(0).getByTestId('dc-value').count(), 0);
  });
}

test('an origin the tenant does not allow cannot frame the widget, and says so', async () => {
  // The same page, from another origin: the browser refuses the frame (frame-ancestors).
  const other = hostOrigin.replace('127.0.0.1', 'localhost');
  await page.goto(`${other}/two`);
  const problem = page.getByTestId('sketchlake-problem').first();
  await problem.waitFor({ timeout: 30_000 });
  assert.match(await problem.textContent(), /may not be allowed/);
  assert.equal(await page.locator('sketchlake-widget iframe').count(), 0);
  await page.screenshot({ path: path.join(ARTIFACTS, 'embed-refused-origin.png'), fullPage: true });
});

test('a cross-site WebSocket is refused', async () => {
  await page.goto(`${hostOrigin}/two`);
  const outcome = await page.evaluate(
    (url) =>
      new Promise((resolve) => {
        const ws = new WebSocket(url);
        ws.onopen = () => resolve('open');
        ws.onerror = () => resolve('refused');
      }),
    gateway.url.replace('http', 'ws') + '/ws',
  );
  assert.equal(outcome, 'refused');
});

test('the full page asks for an API key, and runs with one', async () => {
  await page.goto(gateway.url);
  const input = page.getByTestId('key-input');
  await input.waitFor({ timeout: 30_000 });
  await input.fill(readKey);
  await page.getByTestId('sign-in-button').click();
  await page.getByTestId('query-done').waitFor({ timeout: 60_000 });
  assert.equal(await page.getByTestId('dashboard-name').textContent(), 'Network flows');
  const matched = Number((await page.getByTestId('matched').textContent()).replace(/,/g, ''));
  assert.equal(matched, records.length);
  assert.equal(await page.getByTestId('sign-in').count(), 0);
});
