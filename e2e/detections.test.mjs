// Detections in the browser: the example rules over the demo week raise exactly the three
// planted stories, each for its entity and over a window holding the story's start; an
// alert opens to its sample events and to the search of its window, whose answer is the
// exact count; a rule added to the folder while the server runs is picked up, and, being in
// staging, shows what it would have sent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARTIFACTS, demoData, matched, openPage, readRecords, settled, startServer, tempDir } from './lib.mjs';

const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'rules', 'examples');
// The demo's planted stories (gateway/src/demo.rs): entity, and the fraction of the range
// at whose hour each starts.
const START = 1_794_700_800; // the demo's default start, epoch seconds
const HOURS = 7 * 24;
const STORIES = {
  'port-scan': { group: ['198.51.100.23'], at: 0.40 },
  'large-upload': { group: ['10.0.2.47', '203.0.113.77'], at: 0.65 },
  'ssh-brute-force': { group: ['192.0.2.45', '10.0.1.22'], at: 0.85 },
};

let data, records, rules, server, browser, page, pageErrors;

before(async () => {
  data = demoData(['--records', '200000', '--days', '7']);
  records = readRecords(data);
  rules = tempDir('rules');
  cpSync(EXAMPLES, rules, { recursive: true });
  server = await startServer(data, ['--rules', rules, '--watch-every', '0.5']);
  ({ browser, page, errors: pageErrors } = await openPage(`${server.url}/detections`));
});

after(async () => {
  await browser?.close();
  server?.stop();
  for (const dir of [data, rules]) if (dir) rmSync(dir, { recursive: true, force: true });
});

const rows = () =>
  page.getByTestId('alert-row').evaluateAll((els) => els.map((e) => ({ ...e.dataset, text: e.textContent })));

/** Waits until the page lists `n` alerts (they arrive as the rules run). */
async function alertsShown(n) {
  const started = Date.now();
  for (;;) {
    const shown = await rows();
    if (shown.length >= n) return shown;
    assert.ok(Date.now() - started < 90_000, `only ${shown.length} of ${n} alerts arrived`);
    await page.waitForTimeout(250);
  }
}

test('the demo week raises exactly its three stories, each for its entity and window', async () => {
  const shown = await alertsShown(3);
  await page.waitForTimeout(2000); // nothing more arrives
  const settledRows = await rows();
  assert.equal(settledRows.length, 3, JSON.stringify(settledRows));
  for (const row of settledRows) {
    const story = STORIES[row.rule];
    assert.ok(story, `unexpected rule ${row.rule}`);
    assert.deepEqual(row.group.split(','), story.group);
    const start = (START + Math.floor(HOURS * story.at) * 3600) * 1000;
    assert.ok(Number(row.windowStart) <= start + 5 * 60_000 && start < Number(row.windowEnd), `${row.rule}: ${JSON.stringify(row)}`);
  }
  assert.ok(shown.every((r) => r.text.includes('new')));
  const rulesShown = await page.getByTestId('rule-row').evaluateAll((els) => els.map((e) => ({ ...e.dataset })));
  assert.deepEqual(rulesShown.map((r) => r.rule).sort(), Object.keys(STORIES).sort());
  assert.ok(rulesShown.every((r) => r.state === 'active'));
  const lastRuns = await page.getByTestId('rule-last-run').allTextContents();
  assert.ok(lastRuns.every((t) => t !== 'never'), lastRuns.join());
  await page.screenshot({ path: path.join(ARTIFACTS, 'detections.png'), fullPage: true });
});

test('an alert opens to its samples and to the search of its window, which counts exactly', async () => {
  const scan = page.locator('[data-testid=alert-row][data-rule=port-scan]');
  const { windowStart, windowEnd } = await scan.evaluate((e) => ({ ...e.dataset }));
  await scan.click();
  const samples = await page.getByTestId('alert-detail').getByTestId('alert-sample').allTextContents();
  assert.ok(samples.length >= 1 && samples.length <= 10, `${samples.length} samples`);
  assert.ok(samples.every((s) => s.includes('198.51.100.23')), samples.join('\n'));

  await page.getByTestId('alert-open-search').click();
  await page.waitForURL(/\?q=/);
  await settled(page);
  const [from, to] = [Number(windowStart), Number(windowEnd)];
  const exact = records.filter(
    (r) => r.srcaddr === '198.51.100.23' && r.action === 'REJECT' && r.start * 1000 >= from && r.start * 1000 < to,
  ).length;
  assert.ok(exact > 100);
  assert.equal(await matched(page), exact);
  await page.goBack();
  await page.getByTestId('alerts').waitFor();
});

test('a rule added while serving is picked up, and in staging shows what it would send', async () => {
  writeFileSync(path.join(rules, 'ssh-staging.yml'), [
    'id: ssh-sessions-staging',
    'name: Many SSH sessions (trial)',
    'severity: medium',
    'state: staging',
    'query: dst_port:22 | stats count by src_ip | where count > 300',
    'window: 1h',
    '',
  ].join('\n'));
  const shown = await alertsShown(4);
  const staged = shown.find((r) => r.rule === 'ssh-sessions-staging');
  assert.ok(staged, JSON.stringify(shown));
  assert.equal(staged.group, '192.0.2.45');
  assert.equal(await page.locator('[data-rule=ssh-sessions-staging]').getByTestId('alert-staging').count(), 1);
  assert.equal(
    await page.locator('[data-testid=rule-row][data-rule=ssh-sessions-staging]').getAttribute('data-state'),
    'staging',
  );
  assert.deepEqual(pageErrors, []);
});
