// The list designer (列表设计) as a tenant admin uses it: a new list over fire_relief with
// chosen columns (one dragged in, one moved with ↑, one given a heading), a filter, a sort and
// grouping by district. A sort by a field that cannot be sorted (typed in the JSON tab) comes
// back as the server's problem and publishes nothing; fixed, the list is published through the
// diff dialog, and its page shows the columns and a header row per district with its count.
// Screenshots at 1280 px and 375 px go to tests/browser/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, PHONE, DESKTOP, shot, application } from './server.mjs';

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
  // Two Pudong applications and one Huangpu application, filed through the API.
  for (const [user, name, district] of [
    ['pudong_staff', '王小明', '浦东新区'], ['pudong_staff', '李小红', '浦东新区'], ['huangpu_staff', '赵大海', '黄浦区'],
  ]) {
    const token = await server.token(user);
    const r = await server.api(token, 'POST', '/api/v1/forms/fire_relief/records', { data: application(name, district), action: 'submit' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
});
after(async () => { await browser?.close(); await server?.stop(); });

const KEY = 'relief_by_district';
const FILE = `lists/${KEY}.json`;

/** The pack as the designer API has it: its version and files. */
async function installed(token) {
  const r = await server.api(token, 'GET', '/api/v1/designer/packs/red-cross');
  assert.equal(r.status, 200);
  return r.body;
}

const texts = (locator) => locator.evaluateAll((els) => els.map((e) => e.textContent.trim()));

test('an admin designs a grouped list, a bad sort is refused by the server, the fixed list is published and grouped', async () => {
  const admin = await server.token('admin');
  const before = await installed(admin);
  const page = await browser.newPage({ viewport: DESKTOP });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await server.signIn(page, 'admin');
  await page.goto(`${server.base}/designer/red-cross/lists`);
  await page.waitForSelector('#list-label');

  await page.fill('#list-label', '按区分组的救助申请');
  await page.fill('#list-key', KEY);
  await page.selectOption('#list-form', 'fire_relief');

  // Columns: three added with a click, district dragged in before the first, state moved up,
  // the amount given a heading of its own.
  for (const f of ['applicant_name', 'requested_amount', 'state']) await page.click(`[data-add="${f}"]`);
  await page.dragAndDrop('[data-add="district"]', '[data-columns] li:nth-child(1)');
  await page.click('[data-columns] li[data-field="state"] button[aria-label^="上移"]');
  await page.fill('[data-heading="requested_amount"]', '申请金额');
  const headings = page.locator('[data-preview] thead th');
  assert.deepEqual(await texts(headings), ['所属区', '申请人姓名', '状态', '申请金额']);

  // A filter, a second sort key, grouping by district.
  await page.check('[data-filters] input[value="district"]');
  await page.click('[data-add-sort]');
  await page.selectOption('[data-sort] li:nth-child(2) select >> nth=0', 'applicant_name');
  await page.selectOption('#list-group', 'district');
  assert.equal(await page.locator('[data-preview] tr.group-row').count(), 1, 'the preview shows a group header');

  // A bad choice: sorting by the household members (an array), typed in the JSON tab.
  await page.click('[data-tab-json]');
  const json = JSON.parse(await page.inputValue('[data-json]'));
  assert.deepEqual(json.sort, ['-created_at', 'applicant_name']);
  assert.equal(json.group, 'district');
  json.sort = ['members', 'applicant_name'];
  await page.fill('[data-json]', JSON.stringify(json, null, 2));
  await page.click('[data-apply-json]');
  await page.click('.publish-bar button.primary');
  const problems = page.locator('[data-problems]');
  await problems.waitFor();
  assert.match(await problems.textContent(), new RegExp(`${FILE}#/sort/0`));
  assert.match(await problems.textContent(), /members/);
  assert.equal(await page.locator('dialog.publish-dialog[open]').count(), 0, 'no publish dialog');
  assert.equal(await page.locator('[data-sort] li.has-problem').count(), 1, 'the sort row is marked');
  const after = await installed(admin);
  assert.equal(after.version, before.version, 'nothing was published');
  assert.equal(after.files[FILE], undefined);

  // Fixed in the design view, checked and published through the diff dialog.
  await page.selectOption('[data-sort] li:nth-child(1) select >> nth=0', 'created_at');
  await page.selectOption('[data-sort] li:nth-child(1) select >> nth=1', 'desc');
  assert.equal(await page.locator('[data-sort] li.has-problem').count(), 0, 'a change clears the marks');
  await page.click('.publish-bar button:not(.primary)');
  await page.locator('.publish-status .notice.ok').waitFor();
  await shot(page, 'designer-list-desktop');
  await page.click('.publish-bar button.primary');
  const dialog = page.locator('dialog.publish-dialog[open]');
  await dialog.waitFor();
  assert.match(await dialog.textContent(), new RegExp(FILE));
  await page.click('[data-confirm-publish]');
  await page.locator('[data-published]').waitFor();
  const published = await installed(admin);
  assert.notEqual(published.version, before.version);
  assert.deepEqual(JSON.parse(published.files[FILE]), {
    label: '按区分组的救助申请',
    form: 'fire_relief',
    columns: [{ field: 'district' }, { field: 'applicant_name' }, { field: 'state', label: '状态' }, { field: 'requested_amount', label: '申请金额' }],
    filters: ['district'],
    sort: ['-created_at', 'applicant_name'],
    group: 'district',
    page_size: 20,
  });

  // The list page: the columns as designed and one header per district with its count.
  await Promise.all([page.waitForNavigation(), page.click('[data-open-list]')]);
  assert.equal(new URL(page.url()).pathname, `/lists/${KEY}`);
  const columns = await texts(page.locator('table.grid thead th a'));
  assert.deepEqual(columns.map((c) => c.replace(/[▲▼]/g, '').trim()), ['所属区', '申请人姓名', '状态', '申请金额']);
  const groups = await texts(page.locator('table.grid tr.group-row th'));
  assert.deepEqual([...groups].sort(), ['所属区浦东新区共 2 条', '所属区黄浦区共 1 条']);
  // Rows come group by group: each group's header is followed by its own rows.
  const order = await page.locator('table.grid tbody tr').evaluateAll((rows) => rows.map((r) =>
    r.classList.contains('group-row') ? `#${r.textContent.trim()}` : r.querySelector('td[data-label="所属区"]')?.textContent.trim()));
  const heads = order.filter((o) => o.startsWith('#'));
  for (const h of heads) {
    const district = h.includes('浦东新区') ? '浦东新区' : '黄浦区';
    const at = order.indexOf(h);
    const n = district === '浦东新区' ? 2 : 1;
    assert.deepEqual(order.slice(at + 1, at + 1 + n), Array(n).fill(district), `${h}: ${order}`);
  }
  await shot(page, 'designer-list-grouped-desktop');
  assert.deepEqual(errors, []);
  await page.close();

  // On a phone: the grouped page, and the designer reopening the published list.
  const phone = await browser.newPage({ viewport: PHONE });
  await server.signIn(phone, 'admin');
  await phone.goto(`${server.base}/lists/${KEY}`);
  assert.equal(await phone.locator('tr.group-row').count(), 2);
  await shot(phone, 'designer-list-grouped-phone');
  await phone.goto(`${server.base}/designer/red-cross/lists/${KEY}`);
  await phone.waitForSelector('[data-columns] li.list-column');
  assert.equal(await phone.locator('[data-columns] li.list-column').count(), 4);
  assert.equal(await phone.inputValue('#list-group'), 'district');
  assert.deepEqual(await texts(phone.locator('[data-preview] thead th')), ['所属区', '申请人姓名', '状态', '申请金额']);
  await shot(phone, 'designer-list-phone');
  await phone.close();
});
