// Shared e2e helpers: start a real gateway on a free port, launch Debian's Chromium, and
// read the raw data independently of sketchlake to compute exact answers.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const BIN = mustEnv('SKETCHLAKE_BIN');
const UI = mustEnv('SKETCHLAKE_UI');
export const ARTIFACTS = process.env.E2E_ARTIFACTS ?? tmpdir();

function mustEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the e2e suite through \`cargo xtask test\``);
  return value;
}

/** Runs the `sketchlake` binary to completion (throws unless it exits 0). */
export function sketchlake(args) {
  execFileSync(BIN, args, { stdio: 'inherit' });
}

/** A fresh temp folder. */
export function tempDir(what) {
  return mkdtempSync(path.join(tmpdir(), `sketchlake-e2e-${what}-`));
}

/** Writes a demo data set into a fresh temp folder. */
export function demoData(args) {
  const dir = tempDir('data');
  sketchlake(['demo', '--out', dir, ...args]);
  return dir;
}

/** Every JSON record of every (gzip) file under `dir`; hidden folders (the lake's own
 * catalog and segments) are skipped, as the gateway skips them. */
export function readRecords(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    if (!entry.isFile() || path.relative(dir, file).split(path.sep).some((p) => p.startsWith('.'))) continue;
    const raw = readFileSync(file);
    const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
    for (const line of text.split('\n')) if (line.trim()) out.push(JSON.parse(line));
  }
  return out;
}

/**
 * Starts `sketchlake serve` on a free port; resolves once it prints its URL. Without API
 * keys (`--no-auth`) unless `keys` is set.
 */
export async function startServer(dataDir, extraArgs = [], { keys = false } = {}) {
  const auth = keys ? [] : ['--no-auth'];
  const child = spawn(BIN, ['serve', '--data', dataDir, '--ui', UI, '--listen', '127.0.0.1:0', ...auth, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gateway did not start in 30 s')), 30_000);
    let seen = '';
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const match = seen.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`gateway exited early (${code})`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

/** Headless Chromium with the flags this closed network needs; a fresh profile each time. */
async function launchBrowser() {
  const profile = tempDir('profile');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh browser on `url`; `errors` collects the page's uncaught errors and anything its
 * Content-Security-Policy refused (which Chromium reports on the console).
 */
export async function openPage(url) {
  const browser = await launchBrowser();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && m.text().includes('Content Security Policy')) errors.push(m.text());
  });
  await page.goto(url);
  return { browser, page, errors };
}

/**
 * A suite's setting: demo data written with `demoArgs`, a gateway over it started with
 * `serverArgs`, and a browser on its page. `close()` undoes all three.
 */
export async function openDemo(demoArgs, serverArgs = []) {
  const data = demoData(demoArgs);
  const server = await startServer(data, serverArgs);
  const { browser, page, errors } = await openPage(server.url);
  const close = async () => {
    await browser.close();
    server.stop();
    rmSync(data, { recursive: true, force: true });
  };
  return { data, server, page, errors, close };
}

/** Waits until the view on screen is done (every query of a dashboard) or has failed. */
export async function settled(page) {
  await page.getByTestId('query-done').or(page.getByTestId('query-error')).waitFor({ timeout: 60_000 });
}

/** Types a query, runs it, and waits until the page says it is done. */
export async function runQuery(page, text) {
  await page.getByTestId('query-input').fill(text);
  await page.getByTestId('query-submit').click();
  await settled(page);
}

/** The number of events the answer on screen matched. */
export async function matched(page) {
  return Number((await page.getByTestId('matched').textContent()).replace(/,/g, ''));
}

/** Counts of `key(record)` over records passing `keep`. */
export function countBy(records, keep, key) {
  const counts = new Map();
  for (const r of records) if (keep(r)) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  return counts;
}
