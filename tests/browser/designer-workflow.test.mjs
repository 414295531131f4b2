// The workflow designer as an admin meets it: the Red Cross relief workflow drawn as a
// diagram with one box per state; a return for changes (退回修改) added in the tables,
// checked, its diff confirmed and published, then read back through the designer API with
// every other keyword unchanged. A bad edit (a role the pack does not define, made in the
// JSON tab) shows the server's problem and publishes nothing; a local mistake (a `to` that
// names no state) is caught before asking the server. A new workflow starts from a template
// the server accepts. Screenshots at 1280 px and 375 px; no horizontal scrolling on a phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, PHONE, DESKTOP, shot } from './server.mjs';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

const FILE = 'workflows/relief.json';

async function adminPage(viewport) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await server.signIn(page, 'admin');
  return page;
}

/** The pack as the designer API has it: revision and the parsed workflow. */
async function installed(page) {
  const r = await page.request.get(server.base + '/api/v1/designer/packs/red-cross');
  assert.equal(r.status(), 200);
  const body = await r.json();
  return { revision: body.revision, version: body.version, workflow: JSON.parse(body.files[FILE]) };
}

async function openDesigner(page) {
  await page.goto(server.base + '/designer/red-cross/workflows/relief');
  await page.locator('.wf-diagram svg g.wf-state').first().waitFor();
}

test('an admin adds a return for changes to the relief workflow and publishes it', async () => {
  const page = await adminPage(DESKTOP);
  const before = await installed(page);
  await openDesigner(page);

  // One box per state, one arrow per (transition, from) pair.
  const boxes = await page.locator('.wf-diagram svg g.wf-state').evaluateAll((gs) => gs.map((g) => g.dataset.key));
  assert.deepEqual(boxes, before.workflow.states.map((s) => s.key));
  const arrows = before.workflow.transitions.flatMap((t) => [t.from].flat()).length;
  assert.equal(await page.locator('.wf-diagram svg g.wf-edge').count(), arrows);
  assert.match(await page.textContent('.wf-kept-note'), /另有 \d+ 项.*保留不变/, 'the keywords left alone are named');

  // Clicking a state in the diagram selects its row; a new transition leaves it.
  await page.click('.wf-diagram g.wf-state[data-key="submitted"]');
  assert.match(await page.getAttribute('tr[data-state="1"]', 'class'), /selected/);
  await page.click('[data-add-transition]');
  const i = before.workflow.transitions.length;
  const row = page.locator(`tr[data-transition="${i}"]`);
  await row.locator('input[name=action]').fill('revise');
  await row.locator('input[name=label]').fill('退回修改');
  await row.locator('select[name=to]').selectOption('draft');
  await row.locator('input[name=roles][value=district_reviewer]').check();
  await row.locator('select[name=org]').selectOption('level');
  await row.locator('input[name=comment_required]').check();
  // The diagram follows: the new arrow, labelled, going back (below the boxes).
  const edge = page.locator(`.wf-diagram g.wf-edge-label[data-transition="${i}"]`);
  assert.equal(await edge.textContent(), '退回修改');
  await edge.click();
  assert.match(await row.getAttribute('class'), /selected/, 'clicking an arrow selects its row');

  await page.click('.publish-bar button:has-text("检查")');
  await page.locator('.publish-status .notice.ok').waitFor();
  await shot(page, 'designer-workflow-desktop');
  await page.click('.publish-bar button.primary');
  const dialog = page.locator('dialog.publish-dialog[open]');
  await dialog.waitFor();
  const diff = await dialog.textContent();
  assert.match(diff, /workflows\/relief\.json/);
  assert.match(diff, /"action": "revise"/);
  await dialog.locator('[data-confirm-publish]').click();
  await page.locator('[data-published]').waitFor();
  assert.equal(await page.getAttribute('[data-done] a', 'href'), '/designer');

  const after = await installed(page);
  assert.ok(after.revision > before.revision, 'a new revision is installed');
  const expected = structuredClone(before.workflow);
  expected.transitions.push({ action: 'revise', label: '退回修改', from: 'submitted', to: 'draft',
    roles: ['district_reviewer'], org: { level: 2 }, comment_required: true });
  assert.deepEqual(after.workflow, expected, 'the return is added and nothing else changed (guards, effects, unlock kept)');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a bad edit on a phone shows the problem and publishes nothing', async () => {
  const page = await adminPage(PHONE);
  const before = await installed(page);
  await openDesigner(page);
  assert.equal(await page.locator('.wf-diagram svg g.wf-state').count(), before.workflow.states.length);
  await shot(page, 'designer-workflow-phone');

  const editJson = async (change) => {
    await page.click('.tabs [data-tab=json]');
    await page.$eval('textarea[name=json]', (ta, change) => {
      const wf = JSON.parse(ta.value);
      new Function('wf', change)(wf);
      ta.value = JSON.stringify(wf, null, 2);
    }, change);
    await page.click('[data-apply-json]');
    await page.click('.tabs [data-tab=tables]');
  };

  // A `to` that names no state is caught here, before the server is asked.
  await editJson('wf.transitions[0].to = "nowhere";');
  await page.click('.publish-bar button.primary');
  const problems = page.locator('.publish-problems [data-problems]');
  await problems.waitFor();
  assert.match(await problems.textContent(), /workflows\/relief\.json#\/transitions\/0\/to\s.*nowhere/);
  assert.equal(await page.locator('dialog.publish-dialog[open]').count(), 0, 'no publish dialog');
  assert.match(await page.getAttribute('tr[data-transition="0"]', 'class'), /has-problem/);
  await problems.locator('li').first().click();
  assert.match(await page.getAttribute('tr[data-transition="0"]', 'class'), /selected/, 'a problem, clicked, selects its row');

  // A role the pack does not define: only the server knows; its problem is shown.
  await editJson('wf.transitions[0].to = "submitted"; wf.transitions[0].roles = ["no_such_role"];');
  assert.equal(await page.locator('tr[data-transition="0"] input[name=roles][value=no_such_role]').isChecked(), true,
    'an unknown role stays visible, ticked');
  await page.click('.publish-bar button.primary');
  await page.waitForFunction(() => /no_such_role/.test(document.querySelector('.publish-problems')?.textContent ?? ''));
  assert.match(await problems.textContent(), /workflows\/relief\.json#\/transitions\/0\/roles\/0\s/);
  assert.equal(await page.locator('dialog.publish-dialog[open]').count(), 0, 'no publish dialog');
  await shot(page, 'designer-workflow-problem-phone');

  const after = await installed(page);
  assert.equal(after.revision, before.revision, 'nothing published');
  assert.deepEqual(after.workflow, before.workflow);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a new workflow starts from a template the server accepts', async () => {
  const page = await adminPage(PHONE);
  await page.goto(server.base + '/designer/red-cross/workflows');
  await page.fill('input[name=wf_label]', '物资发放流程');
  await page.fill('input[name=wf_key]', 'supplies');
  await page.selectOption('select[name=filer]', 'district_staff');
  await page.selectOption('select[name=reviewer]', 'district_reviewer');
  await page.click('.wf-start button[type=submit]');
  await page.locator('.wf-diagram svg g.wf-state').first().waitFor();
  assert.equal(await page.locator('.wf-diagram svg g.wf-state').count(), 3);
  assert.match(await page.textContent('.wf-forms'), /还没有表单使用此流程/);
  await page.click('.publish-bar button:has-text("检查")');
  await page.locator('.publish-status .notice.ok').waitFor();
  await shot(page, 'designer-workflow-new-phone');
  assert.deepEqual(page.errors, []);
  await page.close();
});
