// The generated pages as their users meet them: a district clerk files a fire-relief
// application on a 375 px phone (a field error, fixed, then submitted), the district
// reviewer approves it from the inbox on a desktop, the city reviewer approves it with the
// approved amount the action asks for, and the record's timeline shows every step. Pages
// without a session go to the login; forbidden or missing pages say so.
// Screenshots of every page at 1280 px and 375 px go to tests/browser/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, PASSWORD, PHONE, DESKTOP, shot, application } from './server.mjs';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });


async function login(page, username, viewportName) {
  await page.goto(server.base + '/');
  assert.match(page.url(), /\/login\?next=/, 'without a session the home page asks to log in');
  if (viewportName) await shot(page, `login-${viewportName}`);
  await page.fill('#tenant', 'redcross');
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/');
}

test('a wrong password is refused on the login page', async () => {
  const page = await browser.newPage({ viewport: PHONE });
  await page.goto(server.base + '/login');
  await page.fill('#tenant', 'redcross');
  await page.fill('#username', 'pudong_staff');
  await page.fill('#password', 'not-the-password');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.match(await page.textContent('.alert'), /用户名或密码不正确/);
  await page.close();
});

test('a clerk files an application on a phone and a reviewer approves it from the inbox', async () => {
  const clerk = await browser.newPage({ viewport: PHONE });
  await login(clerk, 'pudong_staff', 'phone');
  await shot(clerk, 'home-phone');
  await Promise.all([clerk.waitForNavigation(), clerk.click('a[href="/forms/fire_relief/new"]')]);
  const fill = async (name, value) => clerk.fill(`[name="${name}"]`, value);
  await fill('/applicant_name', '王小明');
  await fill('/id_number', '110105194912310021'); // wrong check digit
  await fill('/phone', '13812345678');
  await clerk.selectOption('[name="/district"]', '浦东新区');
  await fill('/street', '花木街道');
  await fill('/address', '浦东新区花木路100弄3号502室');
  await fill('/fire_date', '2026-10-08');
  await clerk.selectOption('[name="/housing_type"]', '居住性房屋');
  await clerk.selectOption('[name="/residency_type"]', '户籍居民');
  await fill('/deaths', '0');
  // Conditions and computed values follow the input (the server evaluates them).
  const casualty = clerk.locator('.fw-field[data-pointer="/casualty_desc"]');
  assert.equal(await casualty.isVisible(), false, 'no casualty details without casualties');
  await fill('/injured', '1');
  await casualty.waitFor({ state: 'visible' });
  await fill('/injured', '0');
  await casualty.waitFor({ state: 'hidden' });
  await fill('/members/0/name', '王小明');
  await clerk.selectOption('[name="/members/0/relation"]', '本人');
  await fill('/loss_desc', '厨房起火，家具家电烧毁');
  await fill('/loss_amount', '52000');
  await fill('/requested_amount', '8000');
  await fill('/bank_name', '中国工商银行上海分行');
  await fill('/bank_account', '6222021234567890128');
  await clerk.check('input[type=checkbox][name="/promise"]');
  await shot(clerk, 'form-phone');
  await Promise.all([clerk.waitForNavigation(), clerk.click('button[name=_action][value=submit]')]);

  // The server's error is shown next to the ID number, and the other values are kept.
  const error = clerk.locator('[data-pointer="/id_number"] .fw-error');
  assert.match(await error.textContent(), /身份证/);
  assert.equal(await clerk.inputValue('[name="/applicant_name"]'), '王小明');
  assert.equal(await clerk.getAttribute('[name="/id_number"]', 'aria-invalid'), 'true');
  await shot(clerk, 'form-error-phone');
  await fill('/id_number', '11010519491231002X');
  await clerk.waitForFunction(() => document.querySelector('output[data-pointer="/applicant_age"]')?.textContent.trim() !== '');
  assert.match(await clerk.textContent('output[data-pointer="/applicant_age"]'), /^\s*\d+\s*$/, 'the age is computed from the ID number');
  await Promise.all([clerk.waitForNavigation(), clerk.click('button[name=_action][value=submit]')]);
  assert.match(clerk.url(), /\/records\//, 'submitted: the record page');
  const recordUrl = clerk.url();
  assert.match(await clerk.textContent('.badge'), /待区审核|已提交/);
  await shot(clerk, 'record-phone');
  await clerk.close();

  const reviewer = await browser.newPage({ viewport: DESKTOP });
  await login(reviewer, 'pudong_reviewer', 'desktop');
  await shot(reviewer, 'home-desktop');
  await Promise.all([reviewer.waitForNavigation(), reviewer.click('nav a[href="/inbox"]')]);
  await shot(reviewer, 'inbox-desktop');
  const id = new URL(recordUrl).pathname.split('/').pop();
  await Promise.all([reviewer.waitForNavigation(), reviewer.click(`a[href="/records/${id}"]`)]);
  await reviewer.fill('form[action$="/actions/approve"] textarea[name=comment]', '情况属实，同意');
  await Promise.all([reviewer.waitForNavigation(), reviewer.click('form[action$="/actions/approve"] button')]);
  const timeline = await reviewer.textContent('.timeline');
  assert.match(timeline, /提交/);
  assert.match(timeline, /区审通过/);
  assert.match(timeline, /情况属实，同意/);
  await shot(reviewer, 'record-desktop');
  await reviewer.close();

  // The city reviewer approves it with the approved amount, a field of the action itself:
  // without it the refusal stands beside the field.
  const city = await browser.newPage({ viewport: DESKTOP });
  await login(city, 'city_reviewer');
  await Promise.all([city.waitForNavigation(), city.click('nav a[href="/inbox"]')]);
  await Promise.all([city.waitForNavigation(), city.click(`a[href="/records/${id}"]`)]);
  const approve = city.locator('form[action$="/actions/approve"]');
  assert.equal(await approve.locator('[name="/approved_amount"]').count(), 1, 'the amount is asked with the action');
  await Promise.all([city.waitForNavigation(), approve.locator('button[name=_action]').click()]);
  assert.match(await approve.locator('[data-pointer="/approved_amount"] .fw-error').textContent(), /市审通过.*必须填写/);
  await approve.locator('[name="/approved_amount"]').fill('7500');
  await Promise.all([city.waitForNavigation(), approve.locator('button[name=_action]').click()]);
  assert.match(await city.textContent('.badge'), /市红会审核通过/);
  assert.match(await city.textContent('.record .card'), /7500/);
  const steps = await city.textContent('.timeline');
  assert.match(steps, /区审通过/);
  assert.match(steps, /市审通过/);
  await shot(city, 'record-city-approved-desktop');
  await city.close();
});

test('lists filter and page on both screens', async () => {
  for (const [name, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const page = await browser.newPage({ viewport });
    await login(page, 'city_reviewer');
    await page.goto(server.base + '/lists/fire_relief_all');
    assert.ok((await page.locator('table.grid tbody tr').count()) > 0, 'the demo records are listed');
    await page.click('details.filter-box > summary');
    await page.selectOption('select[name="filter[district]"]', '浦东新区');
    await Promise.all([page.waitForNavigation(), page.click('form.filters button[type=submit]')]);
    const districts = await page.locator('table.grid tbody td[data-label="所属区"]').allTextContents();
    assert.ok(districts.length > 0 && districts.every((d) => d === '浦东新区'), `only 浦东新区: ${districts}`);
    await shot(page, `list-${name}`);
    if (name === 'desktop') {
      // A small export downloads at once; one run as a job shows its progress, then a link.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[data-export]')]);
      assert.match(download.suggestedFilename(), /\.xlsx$/);
      await page.$eval('a[data-export]', (a) => { a.href += '&background=true'; });
      await page.click('a[data-export]');
      const link = page.locator('[data-export-status] a[href*="/api/v1/export-jobs/"]');
      await link.waitFor();
      assert.match(await link.textContent(), /导出完成/);
      await shot(page, 'list-export-job-desktop');
    }
    await page.close();
  }
});

test('pages a user may not see say so, and the language switches to English', async () => {
  const page = await browser.newPage({ viewport: PHONE });
  await login(page, 'pudong_staff');
  let r = await page.goto(server.base + '/forms/no_such_form/new');
  assert.equal(r.status(), 404);
  assert.match(await page.textContent('main'), /表单不存在/);
  r = await page.goto(server.base + '/lists/no_such_list');
  assert.equal(r.status(), 404);
  await shot(page, 'not-found-phone');
  // Changing the password: the two new ones must agree, said beside the field.
  await page.goto(server.base + '/');
  await Promise.all([page.waitForNavigation(), page.click('a.user')]);
  await page.fill('#current_password', PASSWORD);
  await page.fill('#new_password', 'a-new-long-password');
  await page.fill('#repeat_password', 'another-long-password');
  await Promise.all([page.waitForNavigation(), page.click('main form button[type=submit]')]);
  assert.match(await page.textContent('#repeat_password-error'), /不一致/);
  await shot(page, 'password-phone');
  await page.goto(server.base + '/');
  await Promise.all([page.waitForNavigation(), page.click('a.lang')]);
  assert.match(await page.textContent('nav'), /Inbox/);
  await shot(page, 'home-english-phone');
  await page.close();
});

test('a statistic shows its table, a chart in three kinds and drills into the records', async () => {
  for (const [name, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const page = await browser.newPage({ viewport });
    await login(page, 'city_reviewer');
    await Promise.all([page.waitForNavigation(), page.click('nav a[href="/statistics"]')]);
    await Promise.all([page.waitForNavigation(), page.click('a[href="/statistics/fire_relief_by_district"]')]);
    // The application filed and approved above: 浦东新区, approved by the district and the city.
    const row = page.locator('table.stat tbody tr', { hasText: '浦东新区' });
    assert.match(await row.textContent(), /市红会审核通过/);
    assert.equal((await row.locator('td.num').first().textContent()).trim(), '1');
    assert.equal(await page.locator('[data-chart-area] svg rect').count() > 0, true, 'bars drawn');
    await shot(page, `statistic-${name}`);
    await page.click('[data-chart-kind=pie]');
    assert.ok((await page.locator('[data-chart-area] svg path').count()) > 0, 'a pie');
    await page.click('[data-chart-kind=line]');
    assert.ok((await page.locator('[data-chart-area] svg polyline').count()) > 0, 'a line');
    await Promise.all([page.waitForNavigation(), row.locator('a').click()]);
    assert.match(new URL(page.url()).pathname, /^\/lists\//);
    assert.equal(await page.locator('table.grid tbody tr').count(), 1, 'the one record behind the row');
    await page.close();
  }
});

test('a reviewer saves a view and approves ticked records from the list in one go', async () => {
  // A second Pudong application, approved by the district, for the city to work on.
  const staff = await server.token('pudong_staff');
  const created = await server.api(staff, 'POST', '/api/v1/forms/fire_relief/records', { data: application('李小红', '浦东新区'), action: 'submit' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const approved = await server.api(await server.token('pudong_reviewer'), 'POST', `/api/v1/records/${created.body.id}/transitions/approve`, {});
  assert.equal(approved.status, 200, JSON.stringify(approved.body));
  const page = await browser.newPage({ viewport: PHONE });
  await login(page, 'city_reviewer');
  await page.goto(server.base + '/lists/fire_relief_all?filter%5Bdistrict%5D=%E6%B5%A6%E4%B8%9C%E6%96%B0%E5%8C%BA');
  await page.fill('.save-view input[name=name]', '浦东的申请');
  await Promise.all([page.waitForNavigation(), page.click('.save-view button')]);
  const view = page.locator('.views .view a', { hasText: '浦东的申请' });
  assert.equal(await view.count(), 1, 'the view is listed');
  await page.goto(server.base + '/lists/fire_relief_all');
  await Promise.all([page.waitForNavigation(), view.click()]);
  assert.match(decodeURIComponent(page.url()), /filter\[district\]=浦东新区/);

  // The city approval needs the approved amount, which a batch does not give: refused, with
  // each record's reason, and nothing changes.
  await page.check(`input[name=ids][value="${created.body.id}"]`);
  await page.selectOption('#batch-action', 'approve');
  await shot(page, 'list-batch-phone');
  await Promise.all([page.waitForNavigation(), page.click('.batch-bar button')]);
  assert.match(await page.textContent('main'), /所有记录均未变更.*「核定金额（元）」/s);
  await shot(page, 'list-batch-refused-phone');
  await Promise.all([page.waitForNavigation(), page.click('main a.primary')]);
  assert.match(await page.textContent('table.grid tbody'), /区红会审核通过/, 'unchanged');
  // Refusing them with a reason works for every ticked record.
  await page.check(`input[name=ids][value="${created.body.id}"]`);
  await page.selectOption('#batch-action', 'reject');
  await page.fill('.batch-bar input[name=comment]', '不属于火灾救助范围');
  await Promise.all([page.waitForNavigation(), page.click('.batch-bar button')]);
  assert.match(await page.textContent('table.grid tbody'), /不予救助/, 'a refusal is final');
  await page.close();
});

test('the admin adds a unit and a user, who logs in with the password shown once', async () => {
  const page = await browser.newPage({ viewport: DESKTOP });
  await login(page, 'admin');
  await Promise.all([page.waitForNavigation(), page.click('nav a[href="/admin/users"]')]);
  await Promise.all([page.waitForNavigation(), page.click('a[href="/admin/org"]')]);
  await page.selectOption('#unit-parent', 'pudong');
  await page.fill('#unit-code', 'huamu');
  await page.fill('#unit-name', '花木街道');
  await Promise.all([page.waitForNavigation(), page.click('main form.stack button[type=submit]')]);
  assert.match(await page.textContent('.tree'), /花木街道/);
  // A unit is renamed in place; its code stays.
  await page.click('details.unit-edit:has(code:text-is("huamu")) > summary');
  await page.fill('#rename-huamu', '花木街道红十字会');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/admin/org/huamu"] button')]);
  assert.match(await page.textContent('.tree'), /花木街道红十字会/);
  await shot(page, 'admin-org-desktop');
  await page.goto(server.base + '/admin/users');
  await page.fill('#new-username', 'huamu_staff');
  await page.fill('#new-display_name', '花木经办');
  await page.selectOption('#new-unit', 'huamu');
  await page.check('fieldset.roles input[value=district_staff]');
  await Promise.all([page.waitForNavigation(), page.click('main form.stack button[type=submit]')]);
  const password = (await page.textContent('.notice code.secret')).trim();
  assert.ok(password.length >= 10, 'a generated password is shown once');
  await shot(page, 'admin-users-desktop');

  const clerk = await browser.newPage({ viewport: PHONE });
  await clerk.goto(server.base + '/login');
  await clerk.fill('#tenant', 'redcross');
  await clerk.fill('#username', 'huamu_staff');
  await clerk.fill('#password', password);
  await Promise.all([clerk.waitForNavigation(), clerk.click('main button[type=submit]')]);
  assert.match(await clerk.textContent('.who'), /花木经办/);
  assert.equal(await clerk.locator('a[href="/forms/fire_relief/new"]').count(), 1, 'a district clerk may file');
  assert.equal(await clerk.locator('nav a[href="/admin/users"]').count(), 0, 'no admin menu for a clerk');
  // The pack upload checks what it is given and says why it refuses.
  await page.goto(server.base + '/admin/packs');
  assert.match(await page.textContent('table.grid'), /red-cross/);
  await page.setInputFiles('#pack-file', { name: 'pack.zip', mimeType: 'application/zip', buffer: Buffer.from('not a zip') });
  await page.click('button[name=check]');
  await page.locator('[data-pack-result] .fw-error').waitFor();
  assert.match(await page.textContent('[data-pack-result]'), /不是有效的 zip 文件/);
  await shot(page, 'admin-packs-desktop');
  let r = await clerk.goto(server.base + '/admin/users');
  assert.equal(r.status(), 403);
  assert.match(await clerk.textContent('main'), /管理员/);
  await clerk.close();
  await page.close();
});
