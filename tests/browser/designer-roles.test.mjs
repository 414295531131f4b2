// The roles designer as a tenant's admin meets it: the matrix of roles × forms × actions for
// the Red Cross pack, with the workflow steps each role gets shown beside it. Adding a role
// named `admin` or with an invalid key is refused, with the reason; removing a role the
// workflow names warns first, and the server's check refuses it. The admin grants `finance`
// the `unmask` action on fire_relief, narrows the district reviewers' scope to their own
// records and publishes (the diff dialog, showing only the changed lines, then confirm).
// Without a restart, and with tokens taken before the publish, finance's form permissions
// now include `unmask` and the Pudong reviewer no longer sees the clerk's record. A user's
// role is toggled from the users section. Screenshots at 1280 px and 375 px, with no
// horizontal page scrolling on the phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, PHONE, DESKTOP, shot } from './server.mjs';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });


const cell = (role, action, form = 'fire_relief') =>
  `table[data-form="${form}"] input[data-role="${role}"][data-action="${action}"]`;

test('the admin edits the roles matrix, publishes, and the new permissions apply without a restart', async () => {
  // Before: finance may not unmask, and the Pudong reviewer (scope org_tree) sees the
  // draft a Pudong clerk saved.
  const finance = await server.token('finance');
  const reviewer = await server.token('pudong_reviewer');
  const clerk = await server.token('pudong_staff');
  let r = await server.api(finance, 'GET', '/api/v1/forms/fire_relief');
  assert.equal(r.status, 200);
  assert.ok(!r.body.permissions.includes('unmask'), `finance cannot unmask yet: ${r.body.permissions}`);
  r = await server.api(clerk, 'POST', '/api/v1/forms/fire_relief/records', { data: { applicant_name: '王小明' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await server.api(reviewer, 'GET', '/api/v1/lists/fire_relief_all');
  assert.equal(r.body.total, 1, 'the reviewer sees the clerk’s record within the district');

  const page = await browser.newPage({ viewport: DESKTOP });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await server.signIn(page, 'admin');
  await page.goto(server.base + '/designer/red-cross/roles');
  await page.locator(cell('finance', 'unmask')).waitFor();

  // The matrix shows the pack's grants, and the workflow steps read-only beside them.
  assert.equal(await page.isChecked(cell('finance', 'export')), true);
  assert.equal(await page.isChecked(cell('finance', 'unmask')), false);
  assert.equal(await page.isChecked(cell('district_staff', 'import')), true);
  const staffSteps = await page.textContent('table[data-form="fire_relief"] td[data-wf="district_staff"]');
  assert.match(staffSteps, /submit/);
  assert.match(staffSteps, /withdraw/);
  assert.match(staffSteps, /草稿/, 'the states the role edits in');
  assert.match(await page.textContent('table[data-form="fire_relief"] td[data-wf="finance"]'), /allocate/);
  // A role that acts in the workflow without read is warned about.
  await page.uncheck(cell('district_reviewer', 'read'));
  assert.match(await page.textContent('td[data-wf="district_reviewer"] .warn'), /查看/);
  await page.check(cell('district_reviewer', 'read'));
  assert.equal(await page.locator('td[data-wf="district_reviewer"] .warn').count(), 0);
  // The users holding each role are listed with their units.
  await page.locator('[data-role-card="district_reviewer"] .holders', { hasText: '浦东' }).waitFor();
  await page.locator('[data-users] tr[data-user="finance"]').waitFor();

  // "All forms *": a grant there shows ticked and locked in the form's block.
  await page.check(cell('finance', 'export', '*'));
  assert.equal(await page.isDisabled(cell('finance', 'export')), true, 'covered by the * form');
  await page.uncheck(cell('finance', 'export', '*'));
  assert.equal(await page.isDisabled(cell('finance', 'export')), false);
  assert.equal(await page.isChecked(cell('finance', 'export')), true, 'the form’s own grant stays');
  // "All *" ticks every action; unticking one writes the others out.
  await page.check(cell('city_reviewer', '*'));
  for (const a of ['read', 'delete', 'design']) assert.equal(await page.isChecked(cell('city_reviewer', a)), true);
  await page.uncheck(cell('city_reviewer', 'design'));
  assert.equal(await page.isChecked(cell('city_reviewer', '*')), false);
  assert.equal(await page.isChecked(cell('city_reviewer', 'delete')), true);
  assert.equal(await page.isChecked(cell('city_reviewer', 'design')), false);
  // Back to what it was: read, unmask, export.
  for (const a of ['create', 'update', 'delete', 'import']) await page.uncheck(cell('city_reviewer', a));

  // Adding a role: `admin` and invalid keys are refused, with the reason.
  const add = page.locator('form[data-add-role]');
  await add.locator('[data-new-role=key]').fill('admin');
  await add.locator('[data-new-role=label]').fill('管理员');
  await add.locator('button[type=submit]').click();
  assert.match(await add.locator('[data-add-error]').textContent(), /admin.*内置/);
  await add.locator('[data-new-role=key]').fill('Bad Key');
  await add.locator('button[type=submit]').click();
  assert.match(await add.locator('[data-add-error]').textContent(), /不是有效的键/);
  await add.locator('[data-new-role=key]').fill('finance');
  await add.locator('button[type=submit]').click();
  assert.match(await add.locator('[data-add-error]').textContent(), /已有角色/);
  assert.equal(await page.locator('[data-role-card="admin"]').count(), 0, 'no admin role was added');
  await shot(page, 'designer-roles-refused-desktop');
  // A valid one is added to the matrix, then removed again (no workflow names it).
  await add.locator('[data-new-role=key]').fill('auditor');
  await add.locator('[data-new-role=label]').fill('审计员');
  await add.locator('button[type=submit]').click();
  assert.equal(await add.locator('[data-add-error]').isHidden(), true);
  await page.locator(cell('auditor', 'read')).waitFor();
  await page.click('[data-remove-role="auditor"]');
  assert.equal(await page.locator(cell('auditor', 'read')).count(), 0);
  // Removing a role the workflow names warns first, and keeping it changes nothing.
  await page.click('[data-remove-role="finance"]');
  assert.match(await page.textContent('[data-remove-warning="finance"]'), /allocate/);
  await page.click('[data-remove-warning="finance"] button:not([data-confirm-remove])');
  assert.equal(await page.locator('[data-role-card="finance"]').count(), 1);
  // Removed anyway, the server's check refuses it and says where; undo brings it back.
  await page.click('[data-remove-role="finance"]');
  await page.click('[data-confirm-remove="finance"]');
  assert.equal(await page.locator(cell('finance', 'read')).count(), 0);
  await page.click('.publish-bar button:not(.primary)');
  await page.locator('.publish-bar [data-problems]').waitFor();
  assert.match(await page.textContent('.publish-bar [data-problems]'), /workflows\/relief\.json#\/transitions\/\d+\/roles\/0.*finance/);
  await page.click('[data-removed="finance"] button');
  assert.equal(await page.isChecked(cell('finance', 'export')), true, 'finance is back as it was');
  assert.equal(await page.locator('.publish-bar .dirty').isHidden(), true, 'nothing changed');

  // The change: finance may unmask; district reviewers see only their own records.
  await page.check(cell('finance', 'unmask'));
  await page.selectOption('select[data-scope="district_reviewer"]', 'own');
  await page.fill('input[data-label="finance"]', '市红会财务（含明文）');
  await shot(page, 'designer-roles-desktop');

  await page.click('.publish-bar button.primary');
  const dialog = page.locator('dialog.publish-dialog');
  await dialog.waitFor();
  const diff = await dialog.textContent();
  assert.match(diff, /roles\.toml/);
  assert.match(diff, /unmask/);
  // Only the changed lines: the file's comments and the other roles stay as they were.
  const deleted = await dialog.locator('.diff .del').allTextContents();
  assert.deepEqual(deleted.map((l) => l.trim().split(' = ')[0].replace(/^- /, '')), ['scope', 'label', 'fire_relief'], deleted.join(''));
  await shot(page, 'designer-roles-diff-desktop');
  await dialog.locator('[data-confirm-publish]').click();
  await page.locator('[data-published]').waitFor();
  assert.match(await page.textContent('[data-policies-active]'), /已生效/);
  assert.equal(await page.locator('.publish-bar .dirty').isHidden(), true, 'nothing left unpublished');

  // In effect at once, for tokens issued before the publish.
  r = await server.api(finance, 'GET', '/api/v1/forms/fire_relief');
  assert.ok(r.body.permissions.includes('unmask'), `finance may unmask now: ${r.body.permissions}`);
  r = await server.api(reviewer, 'GET', '/api/v1/lists/fire_relief_all');
  assert.equal(r.body.total, 0, 'scope own: the reviewer no longer sees the clerk’s record');
  const admin = await server.token('admin');
  r = await server.api(admin, 'GET', '/api/v1/designer/packs/red-cross');
  assert.equal(r.body.roles.roles.district_reviewer.scope, 'own');
  assert.deepEqual(r.body.roles.roles.city_reviewer.grants.fire_relief, ['read', 'unmask', 'export']);
  assert.equal(r.body.roles.roles.finance.label, '市红会财务（含明文）');

  // Quick assignment: a user's role changes at once, from the users section.
  const row = page.locator('[data-users] tr[data-user="city_reviewer"]');
  await row.locator('input[data-user-role="finance"]').check();
  await page.locator('[data-user-saved="city_reviewer"]').waitFor();
  r = await server.api(admin, 'GET', '/api/v1/admin/users?q=city_reviewer');
  assert.deepEqual(r.body.items.find((u) => u.username === 'city_reviewer').roles.sort(), ['city_reviewer', 'finance']);
  await row.locator('input[data-user-role="finance"]').uncheck();
  await page.locator('[data-user-saved="city_reviewer"]').waitFor();
  assert.deepEqual(errors, [], 'no script errors');
  await page.close();
});

test('the roles designer fits a phone', async () => {
  const page = await browser.newPage({ viewport: PHONE });
  await server.signIn(page, 'admin');
  await page.goto(server.base + '/designer/red-cross/roles');
  await page.locator(cell('finance', 'unmask')).waitFor();
  await page.locator('[data-users] tr[data-user="finance"]').waitFor();
  // The matrix scrolls inside its own box; the page does not.
  const inner = await page.$eval('[data-form-block="fire_relief"] .matrix-wrap', (el) => el.scrollWidth > el.clientWidth);
  assert.equal(inner, true, 'the matrix scrolls within its container');
  await page.check(cell('finance', 'delete'));
  assert.equal(await page.locator('.publish-bar .dirty').isVisible(), true, 'an unpublished change is flagged');
  await shot(page, 'designer-roles-phone');
  await page.close();
});
