// Stopping a query from the page: the Cancel button and Esc both stop the scan part-way.
// The page marks the answer as partial, and the gateway starts no more scans for it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ARTIFACTS, openDemo, runQuery } from './lib.mjs';

const FILES = 168; // a week of hourly files
let server, page, pageErrors, closeDemo;

before(async () => {
  // Big enough that one scan slot takes seconds over it: time to press Cancel.
  ({ server, page, errors: pageErrors, close: closeDemo } = await openDemo(
    ['--records', '1500000', '--days', '7', '--seed', '3'],
    ['--workers', '1'],
  ));
});

after(() => closeDemo?.());

/** Starts `text` and resolves once the progress shows some, not all, files scanned. */
async function startAndWaitForProgress(text) {
  await page.getByTestId('query-input').fill(text);
  await page.getByTestId('query-submit').click();
  await page.waitForFunction(
    (total) => {
      const m = document.querySelector('[data-testid=progress]')?.textContent.match(/^([\d,]+) \/ ([\d,]+) files/);
      return m && Number(m[1].replace(/,/g, '')) > 0 && Number(m[2].replace(/,/g, '')) === total;
    },
    FILES,
    { timeout: 30_000 },
  );
}

async function expectCancelled() {
  await page.getByTestId('query-done').waitFor({ timeout: 30_000 });
  const done = page.getByTestId('query-done');
  const said = (await done.textContent()).match(/^cancelled: the answer covers ([\d,]+) of 168 files$/);
  assert.ok(said, await done.textContent());
  assert.match(await done.getAttribute('class'), /partial/);
  const scanned = Number(said[1].replace(/,/g, ''));
  assert.ok(scanned < FILES, `${scanned} of ${FILES} files scanned`);
  return scanned;
}

/** The gateway's scans once none runs and none has started for 300 ms. */
async function settledScans() {
  let last;
  for (let i = 0; i < 50; i++) {
    const status = await (await fetch(`${server.url}/api/v1/status`)).json();
    if (status.executor.running === 0 && status.executor.started === last) return last;
    last = status.executor.started;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('scans kept starting after the cancel');
}

test('Cancel stops the scan part-way and the answer is marked partial', async () => {
  await startAndWaitForProgress('| stats count()');
  await page.getByTestId('query-cancel').click();
  await expectCancelled();
  await page.screenshot({ path: path.join(ARTIFACTS, 'cancelled.png') });
  assert.ok((await settledScans()) < FILES);
});

test('Esc in the query bar cancels too, and the next query runs to the end', async () => {
  const before = await settledScans();
  await startAndWaitForProgress('action:REJECT | stats count()');
  await page.getByTestId('query-input').press('Escape');
  await expectCancelled();
  assert.ok((await settledScans()) - before < FILES);

  await runQuery(page, 'dst_port:22 | stats count()');
  assert.match(await page.getByTestId('query-done').textContent(), /^done in/);
  assert.match(await page.getByTestId('progress').textContent(), new RegExp(`^${FILES} / ${FILES} files`));
});

test('the page raised no errors', () => {
  assert.deepEqual(pageErrors, []);
});
