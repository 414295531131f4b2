// The designer end to end, as the issue tells it: the business admin designs a new form (物资申领)
// with a repeating section and a computed total on a new approval workflow, publishes it
// (the diff is shown first), and grants a role in the roles matrix; a clerk fills it on a
// 375 px phone, sees a field error, fixes it and submits; the reviewer approves it from the
// inbox; the record's timeline shows both steps. The designer's own refusals (a computed
// expression reading a missing field) show in the panel and publish nothing. Screenshots at
// 1280 px and 375 px go to tests/browser/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, PHONE, shot } from './server.mjs';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

// Tall enough that dragging from the palette to the canvas needs no scrolling.
const TALL = { width: 1280, height: 1600 };

/** Sets the selected field's label and key in the property panel. */
async function name(page, label, key) {
  await page.fill('[data-prop=title]', label);
  await page.fill('[data-prop=key]', key);
  await page.press('[data-prop=key]', 'Tab');
  await page.locator(`li.item[data-key="${key}"]`).waitFor();
}

/** Publishes what the page holds: check, the diff dialog, confirm. Returns the dialog's text. */
async function publish(page) {
  await page.click('.publish-bar button.primary');
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  const text = await dialog.textContent();
  await page.click('[data-confirm-publish]');
  await page.locator('[data-published], [data-policies-active]').first().waitFor();
  return text;
}

test('an admin designs and publishes a form, a clerk fills it on a phone, a reviewer approves it', async () => {
  const admin = await browser.newPage({ viewport: TALL });
  const errors = [];
  admin.on('pageerror', (e) => errors.push(e.message));
  await server.signIn(admin, 'admin');
  await Promise.all([admin.waitForNavigation(), admin.click('nav a[href="/designer"]')]);
  await shot(admin, 'designer-index-desktop');
  await Promise.all([admin.waitForNavigation(), admin.click('a[href="/designer/red-cross/forms"]')]);

  await admin.fill('#form-key', 'supply_request');
  await admin.fill('#form-title', '物资申领');
  await admin.selectOption('#form-workflow', '');
  await admin.selectOption('#flow-filler', 'district_staff');
  await admin.selectOption('#flow-reviewer', 'district_reviewer');

  // A text field by a click on the palette, the repeating section by dragging it in.
  await admin.click('.palette button[data-kind=text]');
  await name(admin, '申领人', 'applicant');
  await admin.check('[data-prop=required]');
  await admin.dragAndDrop('.palette button[data-kind=repeat]', 'ul.canvas');
  await name(admin, '物资明细', 'items');
  for (const [kind, label, key] of [['text', '物品名称', 'name'], ['integer', '数量', 'quantity'], ['amount', '金额（元）', 'amount']]) {
    await admin.click('li.item[data-path="items"]');
    await admin.selectOption('[data-add-inside]', kind);
    await name(admin, label, key);
    if (key === 'name') await admin.check('[data-prop=required]');
    if (key === 'quantity') await admin.fill('[data-prop=minimum]', '1');
  }
  await admin.click('li.item[data-path="applicant"]');
  await admin.click('.palette button[data-kind=amount]');
  await name(admin, '合计金额（元）', 'total');

  // An expression over a field the form does not have: the server's check says so, beside
  // the field and in the panel, and nothing can be published.
  await admin.fill('[data-prop=computed]', 'sum(lines, "amount")');
  const problem = admin.locator('.live-check .problems li', { hasText: 'lines' });
  await problem.waitFor();
  assert.match(await problem.textContent(), /forms\/supply_request\.json#\/properties\/total\/x-computed/);
  assert.equal(await admin.locator('li.item[data-key="total"].has-problem').count(), 1);
  await shot(admin, 'designer-form-problem-desktop');
  await admin.click('.publish-bar button.primary');
  await admin.locator('.publish-bar .alert').waitFor();
  assert.equal(await admin.locator('dialog[open]').count(), 0, 'no publish with a problem');

  await admin.fill('[data-prop=computed]', 'sum(items, "amount")');
  await admin.locator('.live-check .notice.ok').waitFor();
  // The field order follows the canvas: the total moves up above the section and back.
  await admin.click('li.item[data-key="total"] button[aria-label="上移"]');
  let order = await admin.locator('ul.canvas > li.item:not(.nested)').evaluateAll((els) => els.map((e) => e.dataset.key));
  assert.deepEqual(order, ['applicant', 'total', 'items']);
  await admin.click('li.item[data-key="total"] button[aria-label="下移"]');
  order = await admin.locator('ul.canvas > li.item:not(.nested)').evaluateAll((els) => els.map((e) => e.dataset.key));
  assert.deepEqual(order, ['applicant', 'items', 'total']);

  // The preview is the generated page; the JSON view is the schema.
  await admin.click('button[data-tab=preview]');
  await admin.locator('.preview [name="/applicant"]').waitFor();
  assert.equal(await admin.locator('.preview fieldset.fw-repeat').count(), 1);
  await shot(admin, 'designer-form-preview-desktop');
  await admin.click('button[data-tab=json]');
  const schema = JSON.parse(await admin.inputValue('textarea.json-view'));
  assert.deepEqual(Object.keys(schema.properties), ['applicant', 'items', 'total']);
  assert.equal(schema.properties.total['x-computed'], 'sum(items, "amount")');
  assert.deepEqual(schema.properties.items.items.required, ['name']);
  await admin.click('button[data-tab=fields]');

  const diff = await publish(admin);
  assert.match(diff, /supply_request/);
  assert.match(diff, /v1/);
  assert.match(diff, /workflows\/supply_request_flow\.json/);
  await shot(admin, 'designer-form-desktop');

  // Grant the clerks the new form and the reviewers reading it, in the roles matrix.
  await admin.goto(server.base + '/designer/red-cross/roles');
  const cell = (role, action) => admin.locator(`table[data-form="supply_request"] input[data-role="${role}"][data-action="${action}"]`);
  for (const action of ['read', 'create', 'update']) await cell('district_staff', action).check();
  await cell('district_reviewer', 'read').check();
  const grants = await publish(admin);
  assert.match(grants, /supply_request/);
  await shot(admin, 'designer-roles-granted-desktop');
  assert.deepEqual(errors, [], 'no script errors in the designer');
  await admin.close();

  // The clerk, on a phone: the new form is on the home page.
  const clerk = await browser.newPage({ viewport: PHONE });
  await server.signIn(clerk, 'pudong_staff');
  await Promise.all([clerk.waitForNavigation(), clerk.click('a[href="/forms/supply_request/new"]')]);
  await clerk.fill('[name="/applicant"]', '王小明');
  await clerk.fill('[name="/items/0/name"]', '棉被');
  await clerk.fill('[name="/items/0/quantity"]', '0');
  await clerk.fill('[name="/items/0/amount"]', '120.50');
  await clerk.click('fieldset.fw-repeat > .fw-add');
  await clerk.fill('[name="/items/1/name"]', '大米');
  await clerk.fill('[name="/items/1/quantity"]', '1');
  await clerk.fill('[name="/items/1/amount"]', '80');
  // The total is computed by the server as the clerk types.
  await clerk.waitForFunction(() => document.querySelector('output[data-pointer="/total"]')?.textContent.includes('200.5'));
  await shot(clerk, 'designed-form-phone');
  await Promise.all([clerk.waitForNavigation(), clerk.click('button[name=_action][value=submit]')]);
  const error = clerk.locator('[data-pointer="/items/0/quantity"] .fw-error, .fw-error[id="/items/0/quantity-error"]').first();
  assert.match(await error.textContent(), /数量不能小于 1/);
  assert.equal(await clerk.inputValue('[name="/items/1/name"]'), '大米', 'the other values are kept');
  assert.match(await clerk.inputValue('output[data-pointer="/total"]').catch(() => clerk.textContent('output[data-pointer="/total"]')), /200\.5/, 'the total is still shown');
  await shot(clerk, 'designed-form-error-phone');
  await clerk.fill('[name="/items/0/quantity"]', '2');
  await Promise.all([clerk.waitForNavigation(), clerk.click('button[name=_action][value=submit]')]);
  assert.match(clerk.url(), /\/records\//);
  assert.match(await clerk.textContent('.badge'), /待审核/);
  const id = new URL(clerk.url()).pathname.split('/').pop();
  await shot(clerk, 'designed-record-phone');
  await clerk.close();

  // The reviewer approves it from the inbox; the timeline shows both steps.
  const reviewer = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await server.signIn(reviewer, 'pudong_reviewer');
  await Promise.all([reviewer.waitForNavigation(), reviewer.click('nav a[href="/inbox"]')]);
  await Promise.all([reviewer.waitForNavigation(), reviewer.click(`a[href="/records/${id}"]`)]);
  await Promise.all([reviewer.waitForNavigation(), reviewer.click('form[action$="/actions/approve"] button')]);
  assert.match(await reviewer.textContent('.badge'), /审核通过/);
  const timeline = await reviewer.textContent('.timeline');
  assert.match(timeline, /提交/);
  assert.match(timeline, /审核通过/);
  assert.match(timeline, /浦东新区审核员/);
  await shot(reviewer, 'designed-record-desktop');
  await reviewer.close();
});

test('the form designer works on a phone and copies an existing form', async () => {
  const page = await browser.newPage({ viewport: PHONE });
  await server.signIn(page, 'admin');
  await page.goto(server.base + '/designer');
  await shot(page, 'designer-index-phone');
  await Promise.all([page.waitForNavigation(), page.click('a[href="/designer/red-cross/forms?from=red-cross/fire_relief"]')]);
  // The copy starts with every field of the original, under a new key and title.
  await page.locator('li.item[data-path="id_number"]').waitFor();
  assert.equal(await page.inputValue('#form-key'), 'fire_relief_copy');
  assert.match(await page.inputValue('#form-title'), /火灾救助申请（副本）/);
  await page.click('li.item[data-path="id_number"]');
  assert.equal(await page.isChecked('[data-prop=required]'), true);
  await page.locator('.live-check .notice.ok').waitFor();
  await shot(page, 'designer-form-phone');
  // A form the user may not design is refused with a message, not a stack trace.
  const clerk = await browser.newPage({ viewport: PHONE });
  await server.signIn(clerk, 'pudong_staff');
  const r = await clerk.goto(server.base + '/designer/red-cross/forms/fire_relief');
  assert.equal(r.status(), 403);
  assert.match(await clerk.textContent('main'), /只有本单位管理员可以使用设计器/);
  await clerk.close();
  await page.close();
});
