// Starts a real `formwork serve` on a free port with a fresh SQLite data directory, and
// gives tests a Chromium page. Screenshots go to tests/browser/screenshots/.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const PASSWORD = 'browser-test-password';
export const PHONE = { width: 375, height: 740 };
export const DESKTOP = { width: 1280, height: 800 };
export const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

// The demo tenants start without demo records (the page tests count inbox items and file
// their own records); `{ demoRecords: true }` starts them with the packs' demo data, as a
// plain `formwork serve` does.
export async function startServer({ demoRecords = false } = {}) {
  const bin = process.env.FORMWORK_BIN ?? 'target/debug/formwork';
  const dataDir = mkdtempSync(join(tmpdir(), 'formwork-browser-'));
  const port = await freePort();
  const proc = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL')), FORMWORK_DEMO_PASSWORD: PASSWORD, ...(demoRecords ? {} : { FORMWORK_NO_DEMO_RECORDS: 'true' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 1200; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch { /* not up yet */ }
    if (proc.exitCode !== null) throw new Error(`formwork exited: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  /** A JSON request with a bearer token (or none): `{status, body}`. */
  const api = async (token, method, path, body) => {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: await r.json().catch(() => ({})) };
  };
  return {
    base,
    api,
    /** A bearer token of a demo user of tenant `redcross`, from the API's login. */
    async token(username) {
      const r = await api(null, 'POST', '/api/v1/auth/login', { tenant: 'redcross', username, password: PASSWORD });
      assert.equal(r.status, 200, `${username} logs in`);
      return r.body.token;
    },
    /** Signs a page in as a demo user of tenant `redcross` through the login page. */
    async signIn(page, username) {
      await page.goto(base + '/login');
      await page.fill('#tenant', 'redcross');
      await page.fill('#username', username);
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
    },
    log: () => log,
    async stop() { proc.kill('SIGINT'); await new Promise((r) => proc.once('exit', r)); rmSync(dataDir, { recursive: true, force: true }); },
  };
}

export async function launch() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A full-page screenshot into SCREENSHOTS, asserting the page does not scroll sideways. */
export async function shot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  assert.equal(overflow, false, `${name}: no horizontal scrolling`);
}

/**
 * The test ID number of the person called `name` (generated, not a real person): each name
 * has its own, since a project allows one open application per person. The region and the
 * sequence are fixed; the birth date (1950–1965) is the k-th one giving the check digit X,
 * so every number is masked alike as 110105********002X.
 */
export function idNumberOf(name) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  let k = h % 500;
  const day = new Date(Date.UTC(1949, 11, 31));
  for (;;) {
    day.setUTCDate(day.getUTCDate() + 1);
    const body = `110105${day.toISOString().slice(0, 10).replaceAll('-', '')}002`;
    const sum = [...body].reduce((acc, c, i) => acc + Number(c) * w[i], 0);
    if (sum % 11 === 2) {
      if (k === 0) return `${body}X`;
      k -= 1;
    }
  }
}

/** A complete, valid fire-relief application (generated, not a real person). */
export function application(name, district) {
  const id = idNumberOf(name);
  return {
    applicant_name: name, id_number: id, phone: '13812345678', district,
    street: '花木街道', address: `${district}花木路100弄3号502室`, fire_date: '2026-10-08',
    fire_address: `${district}花木路100弄3号502室`, housing_type: '居住性房屋', residency_type: '户籍居民',
    fire_cause: '电线老化', deaths: 0, injured: 0,
    members: [{ name, relation: '本人', id_number: id, casualty: '无' }],
    loss_desc: '厨房及客厅家具家电烧毁', loss_amount: 52000.5, requested_amount: 10000,
    bank_name: '中国工商银行上海分行', bank_account: '6222021234567890128', promise: true,
  };
}
