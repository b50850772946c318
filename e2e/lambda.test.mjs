// The scale-out path from the browser: the same demo logs served by one gateway from a
// local folder with its own cores, and by another from a bucket in S3 (moto) with every
// scan an invocation of the `worker` function (cargo-lambda's emulator, worker processes
// started here). Half the hours in the bucket are ingested (`sketchlake ingest` and
// `compact` on the bucket lake, with a catalog of its own) into segments uploaded beside
// them; the rest are read as delivered. Both dashboards hold the same exact answers.
// `cargo xtask test` starts the rig and passes its addresses; without it this suite is
// skipped, and says so.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, countBy, demoData, matched, openPage, readRecords, settled, sketchlake, startServer, tempDir } from './lib.mjs';

const { SKETCHLAKE_TEST_LAMBDA: LAMBDA, SKETCHLAKE_WORKER_BIN: WORKER, SKETCHLAKE_RIG_PYTHON: PYTHON } = process.env;
const skip = !(LAMBDA && WORKER && PYTHON && process.env.AWS_ENDPOINT_URL)
  && 'the Lambda + S3 rig is not running (cargo xtask test starts it)';

let data, catalogDir, records, local, remote, workers = [], pages = [];

/** The demo file of `hour` (one day of data: one file per hour). */
function hourFile(dir, hour) {
  const name = `${String(hour).padStart(2, '0')}.json.gz`;
  const found = readdirSync(dir, { recursive: true }).filter((f) => path.basename(f) === name);
  assert.equal(found.length, 1, `one file for hour ${hour}`);
  return path.join(dir, found[0]);
}

/** Uploads every file under `dir` to s3://bucket/prefix/… with a signed client (boto3). */
function upload(dir, bucket, prefix) {
  const script = `
import boto3, os, sys
dir, bucket, prefix = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket=bucket)
for root, _, files in os.walk(dir):
    for name in files:
        full = os.path.join(root, name)
        s3.upload_file(full, bucket, prefix + "/" + os.path.relpath(full, dir))
`;
  const done = spawnSync(PYTHON, ['-c', script, dir, bucket, prefix], { stdio: 'inherit' });
  assert.equal(done.status, 0, 'upload to S3 failed');
}

before(async () => {
  if (skip) return;
  data = demoData(['--records', '30000', '--days', '1', '--seed', '11']);
  records = readRecords(data);
  const bucket = `e2e-${process.pid}`;
  upload(data, bucket, 'flows');
  const lake = `s3://${bucket}/flows`;
  catalogDir = tempDir('catalog');
  const catalog = `sqlite://${catalogDir}/catalog.db?mode=rwc`;
  for (let hour = 0; hour < 12; hour++) {
    const object = `${lake}/${path.relative(data, hourFile(data, hour))}`;
    sketchlake(['ingest', '--data', lake, '--catalog', catalog, object]);
  }
  sketchlake(['compact', '--data', lake, '--catalog', catalog]);
  for (let i = 0; i < 4; i++) {
    workers.push(spawn(WORKER, [], {
      stdio: 'ignore',
      env: {
        ...process.env,
        AWS_LAMBDA_RUNTIME_API: `${LAMBDA}/.rt/worker`,
        AWS_LAMBDA_FUNCTION_NAME: 'worker',
        AWS_LAMBDA_FUNCTION_VERSION: '1',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
      },
    }));
  }
  local = await startServer(data, ['--workers', '2']);
  remote = await startServer(lake, [
    '--catalog', catalog, '--executor', 'lambda', '--function', 'worker', '--lambda-endpoint', LAMBDA,
  ]);
});

after(async () => {
  for (const { browser } of pages) await browser.close();
  local?.stop();
  remote?.stop();
  for (const w of workers) w.kill();
  for (const dir of [data, catalogDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the flows dashboard shows: counts, distinct-count intervals, percentiles, top rows. */
async function dashboard(page) {
  await settled(page);
  const all = (selector, read) => page.locator(selector).evaluateAll(read);
  return {
    matched: await matched(page),
    distinct: await all('[data-testid=dc-value]', (els) => els.map((e) => [e.dataset.lower, e.dataset.upper])),
    percentiles: await page.getByTestId('panel-bytes').locator('[data-value]').evaluateAll((els) => els.map((e) => e.dataset.value)),
    top: await page.getByTestId('panel-top-src').getByTestId('topk-row').evaluateAll((els) =>
      els.map((e) => ({ value: e.dataset.value, lower: Number(e.dataset.lower), upper: Number(e.dataset.upper) }))),
    errors: await page.getByTestId('query-error').count(),
  };
}

test('the flows dashboard through Lambda + S3 holds the exact answers, as the local one does', { skip }, async () => {
  const opened = [await openPage(local.url), await openPage(remote.url)];
  pages.push(...opened);
  const [here, there] = [await dashboard(opened[0].page), await dashboard(opened[1].page)];
  await opened[1].page.screenshot({ path: path.join(ARTIFACTS, 'lambda-dashboard.png'), fullPage: true });

  assert.equal(there.errors, 0);
  // The bucket lake reads 12 hours as delivered and the other 12 from one compacted segment.
  const lake = await (await fetch(`${remote.url}/api/v1/lake`)).json();
  assert.equal(lake.files, 13);
  assert.equal(there.matched, records.length);
  assert.equal(here.matched, records.length);
  // Distinct counts depend on the order partials merge in (it differs run to run): each
  // interval holds the true count. Percentiles merge the same in any order: equal.
  const truths = [new Set(records.map((r) => r.srcaddr)).size, new Set(records.map((r) => r.dstaddr)).size];
  for (const shown of [here.distinct, there.distinct]) {
    assert.equal(shown.length, 2);
    shown.forEach(([lower, upper], i) => assert.ok(Number(lower) <= truths[i] && truths[i] <= Number(upper), `${truths[i]} not in [${lower}, ${upper}]`));
  }
  assert.deepEqual(there.percentiles, here.percentiles);
  // Top talkers: each interval holds the true count, through either path.
  const exact = countBy(records, () => true, (r) => r.srcaddr);
  for (const rows of [here.top, there.top]) {
    assert.equal(rows.length, 10);
    for (const r of rows) {
      const truth = exact.get(r.value) ?? 0;
      assert.ok(r.lower <= truth && truth <= r.upper, `${r.value}: ${truth} not in [${r.lower}, ${r.upper}]`);
    }
  }
  assert.deepEqual(opened[1].errors, []);
});

test('a query typed on the Lambda page: the count of one source is exact', { skip }, async () => {
  const [{ page }] = pages.slice(1);
  const exact = countBy(records, () => true, (r) => r.srcaddr);
  const [ip, n] = [...exact].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[3];
  await page.getByTestId('query-input').fill(`srcaddr:${ip} | stats count()`);
  await page.getByTestId('query-input').press('Enter');
  await settled(page);
  assert.equal(await page.getByTestId('count-value').textContent(), n.toLocaleString('en-US'));
});
