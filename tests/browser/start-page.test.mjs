// The start page answers in Chinese and English, links the API reference, and fits both a
// desktop and a 375 px phone screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, SCREENSHOTS, PASSWORD } from './server.mjs';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

for (const [name, width, height] of [['desktop', 1280, 800], ['phone', 375, 740]]) {
  test(`start page renders on a ${width}px screen`, async () => {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(server.base + '/');
    assert.equal(await page.title(), 'Formwork');
    assert.match(await page.textContent('body'), /低代码表单/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false, 'no horizontal scrolling');
    await page.screenshot({ path: join(SCREENSHOTS, `start-${name}.png`), fullPage: true });
    await page.click('text=OpenAPI');
    const doc = JSON.parse(await page.textContent('body'));
    assert.equal(doc.openapi, '3.1.0');
    await page.close();
  });
}

test('the demo users can log in from the browser context', async () => {
  const page = await browser.newPage();
  await page.goto(server.base + '/');
  const status = await page.evaluate(async (password) => {
    const r = await fetch('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'redcross', username: 'city_reviewer', password }) });
    const me = await fetch('/api/v1/me');
    return [r.status, me.status, (await me.json()).roles];
  }, PASSWORD);
  assert.deepEqual(status, [200, 200, ['city_reviewer']], 'the session cookie works for same-origin pages');
  await page.close();
});
