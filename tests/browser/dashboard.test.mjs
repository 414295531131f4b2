// The red-cross dashboard (运营平台数据可视化) over the pack's generated demo data, as a plain
// `formwork serve` starts with it: the city reviewer sees the headline figures and the charts
// for every district; a district clerk sees only their district's figures. Screenshots at
// 1280 px and 375 px go to tests/browser/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, PHONE, DESKTOP, shot } from './server.mjs';

let server, browser;
before(async () => { server = await startServer({ demoRecords: true }); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

/** The headline figures of the page as {label: number}. */
async function figures(page) {
  const items = await page.$$eval('.figure', (els) => els.map((e) => [
    e.querySelector('.figure-label').textContent.trim(),
    Number(e.querySelector('.figure-value').textContent.replace(/[^0-9.]/g, '')),
  ]));
  return Object.fromEntries(items);
}

test('the city reviewer sees the figures and charts of every district', async () => {
  const token = await server.token('city_reviewer');
  const { status, body } = await server.api(token, 'GET', '/api/v1/dashboards/operations');
  assert.equal(status, 200);
  const total = body.tiles.find((t) => t.label === '火灾救助申请').value;
  assert.equal(total, 300, 'the demo data: 300 applications');

  for (const [viewport, name] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
    const page = await browser.newPage({ viewport });
    await server.signIn(page, 'city_reviewer');
    const link = page.locator('a[href="/dashboards/operations"]').first();
    assert.match(await link.textContent(), /运营平台数据可视化/, 'the home page lists the dashboard');
    await Promise.all([page.waitForNavigation(), link.click()]);
    assert.equal(await page.textContent('h1'), '运营平台数据可视化');
    const f = await figures(page);
    assert.equal(f['火灾救助申请'], 300);
    assert.ok(f['火灾救助待审核'] > 0 && f['火灾救助核定金额（元）'] > f['火灾救助已发放金额（元）']);
    assert.equal(await page.locator('[data-chart] svg').count(), 3, 'bar, line and pie are drawn');
    assert.ok(await page.locator('[data-kind="bar"] svg rect').count() >= 5, 'a bar per district');
    assert.ok(await page.locator('[data-kind="pie"] svg path').count() >= 5, 'a slice per state');
    await shot(page, `dashboard-city-${name}`);
    await page.close();
  }
});

test('a district clerk sees only their district on the dashboard', async () => {
  const token = await server.token('pudong_staff');
  const mine = await server.api(token, 'GET', '/api/v1/lists/fire_relief_all?page_size=500');
  assert.ok(mine.body.total > 0 && mine.body.total < 300);
  const page = await browser.newPage({ viewport: PHONE });
  await server.signIn(page, 'pudong_staff');
  await page.goto(server.base + '/dashboards/operations');
  const f = await figures(page);
  assert.equal(f['火灾救助申请'], mine.body.total, 'the figure is the district\'s count');
  const bars = await page.$$eval('[data-kind="bar"] tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(bars, ['浦东新区'], 'one bar: their district');
  await shot(page, 'dashboard-district-phone');
  await page.close();
});

test('the statistics page lists the dashboard, in English too', async () => {
  const page = await browser.newPage({ viewport: DESKTOP });
  await server.signIn(page, 'city_reviewer');
  await page.goto(server.base + '/statistics');
  assert.match(await page.textContent('main'), /数据看板/);
  await Promise.all([page.waitForNavigation(), page.click('a.lang')]);
  assert.match(await page.textContent('main'), /Dashboards/);
  await page.click('a[href="/dashboards/operations"]');
  await page.waitForSelector('[data-chart] svg');
  assert.match(await page.textContent('main'), /Open statistic/);
  await shot(page, 'dashboard-city-english-desktop');
  await page.close();
});

test('the monitor list comes in the order of the flow, with times on the Shanghai clock', async () => {
  const token = await server.token('city_reviewer');
  const form = await server.api(token, 'GET', '/api/v1/forms/fire_relief');
  const flow = form.body.workflow.states.map((s) => s.label);
  const query = '?filter[district]=黄浦区&page_size=100';
  const api = await server.api(token, 'GET', `/api/v1/lists/fire_relief_monitor${query}`);
  assert.equal(api.status, 200);
  assert.ok(api.body.total > 0 && api.body.total <= 100, 'one page holds the district');
  const expected = flow.filter((l) => api.body.group.counts.some((c) => c.label === l));
  assert.ok(expected.length >= 4, `several states: ${expected}`);
  assert.deepEqual(api.body.group.counts.map((c) => c.label), expected, 'the API counts groups in flow order');

  for (const [viewport, name] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
    const page = await browser.newPage({ viewport });
    await server.signIn(page, 'city_reviewer');
    await page.goto(server.base + `/lists/fire_relief_monitor${query}`);
    const headings = await page.$$eval('tr.group-row th', (ths) => ths.map((th) => th.childNodes[1].textContent.trim()));
    assert.deepEqual(headings, expected, 'the groups come in the order of the flow');
    // 最后处理时间 is the API's updated_at on the Shanghai clock, as people write it.
    const cells = await page.$$eval('td[data-label="最后处理时间"]', (tds) => tds.map((t) => t.textContent.trim()));
    assert.equal(cells.length, api.body.items.length);
    for (const c of cells) assert.match(c, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    const shown = new Set(cells);
    for (const item of api.body.items) assert.ok(shown.has(item.updated_at_text), item.updated_at_text);
    const first = api.body.items[0];
    const utc = new Date(first.updated_at);
    const shanghai = new Date(utc.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 16).replace('T', ' ');
    assert.equal(first.updated_at_text, shanghai, 'UTC+8');
    await shot(page, `monitor-grouped-${name}`);
    await page.close();
  }
});
