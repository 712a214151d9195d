// The keys page in a real browser: create a key with a limit (its secret in a show-once dialog
// with a copy button), a child under it, see the tree and the usage bar, rotate, revoke with the
// warning about descendants. Screenshots at 1280 and 390 px go to artifacts/.
import { test, expect } from '@playwright/test';
import { SHOTS, addEndpoint, addGateway, createKey, deleteEndpoint, deleteGateway, hydrated, phoneShot, signIn, watchErrors } from './helpers.mjs';

test('create keys as a tree, rotate a child, revoke the parent with its descendants', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  // An endpoint and a gateway for the keys.
  await addEndpoint(page, 'keys-mock', 'sk-e2e-keys');
  await addGateway(page, 'keys-gw', 'keys-mock');

  await page.goto('/keys');
  await hydrated(page);
  await expect(page.getByText('No keys yet')).toBeVisible();
  await page.getByLabel('Name').fill('team');
  await page.getByLabel('Limits').fill('requests/fortnight=5');
  await page.getByRole('button', { name: 'Create key' }).click();
  await expect(page.locator('#key-limits-error')).toContainText('fortnight');
  await page.getByLabel('Limits').fill('requests/minute=100');
  await page.getByRole('button', { name: 'Create key' }).click();

  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  const secret = await dialog.getByLabel('Key').inputValue();
  expect(secret).toMatch(/^mgw_/);
  await dialog.getByRole('button', { name: 'Copy' }).click();
  await expect(dialog.getByRole('status')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await page.screenshot({ path: `${SHOTS}/keys-dialog-1280.png`, fullPage: true });
  await dialog.getByRole('button', { name: 'Done' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.locator('body')).not.toContainText(secret);
  const inputsHold = (value) => page.evaluate((v) => Array.from(document.querySelectorAll('input')).some((i) => i.value.includes(v)), value);
  expect(await inputsHold(secret), 'no input still holds the secret').toBe(false);

  const team = page.getByTestId('key-team');
  await expect(team).toBeVisible();
  await expect(team.getByRole('meter').first()).toHaveAttribute('aria-valuemax', '100');
  const publicId = await team.getByTestId('public-id').first().textContent();

  await page.getByLabel('Name').fill('app');
  await page.getByLabel('Parent key').selectOption(publicId);
  await page.getByRole('button', { name: 'Create key' }).click();
  const appSecret = await page.getByRole('dialog').getByLabel('Key').inputValue();
  await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
  await expect(team.getByTestId('key-app')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/keys-1280.png`, fullPage: true });
  await phoneShot(page, 'keys');

  // Rotate the child (asked first): a new secret, shown once; the old key works for an hour.
  const app = team.getByTestId('key-app');
  await app.getByRole('button', { name: 'Rotate' }).click();
  await expect(app.getByText('the old one keeps working for an hour')).toBeVisible();
  await app.getByRole('button', { name: 'Confirm rotate' }).click();
  const rotated = await page.getByRole('dialog').getByLabel('Key').inputValue();
  expect(rotated).toMatch(/^mgw_/);
  expect(rotated).not.toBe(appSecret);
  await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
  await expect(team.getByTestId('key-app')).toHaveCount(2);
  await expect(team.getByTestId('key-app').getByText('Rotating')).toBeVisible();
  // The rotated-out key says when it stops working.
  await expect(team.getByTestId('rotation-ends')).toContainText('stops working at');

  await team.getByRole('button', { name: 'Revoke' }).first().click();
  await expect(team.getByText('descendant key(s) are revoked too')).toBeVisible();
  await team.getByRole('button', { name: 'Confirm revoke' }).click();
  // Revoked keys are hidden unless asked for; there are three: the parent and both children.
  await expect(page.getByTestId('key-team')).toHaveCount(0);
  await page.getByLabel('Show revoked keys (3)').check();
  await expect(page.getByTestId('key-team').getByText('Revoked').first()).toBeVisible();
  // Its descendants went too: both the new child and the rotated-out one.
  await expect(page.getByTestId('key-app').getByText('Revoked')).toHaveCount(2);
  expect(errors).toEqual([]);
});

test('a key is edited in place: renamed, given other limits and models, disabled, then enabled again', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await addEndpoint(page, 'edit-mock', 'sk-e2e-edit');
  await addGateway(page, 'edit-gw', 'edit-mock');
  const secret = await createKey(page, 'edit-gw', 'before-edit');
  await createKey(page, 'edit-gw', 'bystander');
  const ask = () => page.request.post('/v1/chat/completions', {
    headers: { authorization: `Bearer ${secret}` },
    data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'edited?' }] },
  });
  expect((await ask()).status()).toBe(200);

  await page.goto('/keys');
  await hydrated(page);
  let row = page.getByTestId('key-before-edit');
  await row.getByRole('button', { name: 'Edit' }).click();
  const form = page.getByRole('form', { name: 'Edit before-edit' });
  // Another key's form open at the same time keeps to itself.
  await page.getByTestId('key-bystander').getByRole('button', { name: 'Edit' }).click();
  const bystander = page.getByRole('form', { name: 'Edit bystander' });
  // A limit the gateway does not know is refused under its field; nothing changes.
  await form.getByLabel('Limits').fill('requests/fortnight=5');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByLabel('Limits').locator('xpath=..').getByRole('alert')).toContainText('fortnight');
  await expect(bystander.getByRole('alert').filter({ hasText: 'fortnight' })).toHaveCount(0);
  await form.getByLabel('Name').fill('after-edit');
  await form.getByLabel('Limits').fill('requests/day=5');
  await form.getByLabel('Allowed models').fill('gpt-4o-mini');
  await form.getByLabel('Enabled').uncheck();
  await form.getByRole('button', { name: 'Save' }).click();

  row = page.getByTestId('key-after-edit');
  await expect(row).toContainText('Disabled');
  await expect(row).toContainText('Models: gpt-4o-mini');
  await expect(row.getByTestId('usage')).toContainText('requests/day');
  await expect(page.getByTestId('key-before-edit')).toHaveCount(0);
  expect((await ask()).status(), 'a disabled key is refused').toBe(401);

  await row.getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('form', { name: 'Edit after-edit' }).getByLabel('Enabled').check();
  await page.getByRole('form', { name: 'Edit after-edit' }).getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('key-after-edit')).toContainText('Active');
  expect((await ask()).status()).toBe(200);

  await deleteGateway(page, 'edit-gw');
  await deleteEndpoint(page, 'edit-mock');
  expect(errors).toEqual([]);
});

test('a confirmation takes the keyboard focus, so Enter confirms and Tab reaches Cancel', async ({ page }) => {
  await signIn(page);
  await addEndpoint(page, 'focus-mock', 'sk-e2e-focus');
  await addGateway(page, 'focus-gw', 'focus-mock');
  await createKey(page, 'focus-gw', 'focus-key');
  await page.goto('/keys');
  await hydrated(page);
  const row = page.getByTestId('key-focus-key');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row.getByRole('button', { name: 'Confirm revoke' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(row.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Enter');
  await row.getByRole('button', { name: 'Rotate' }).click();
  await expect(row.getByRole('button', { name: 'Confirm rotate' })).toBeFocused();

  await page.goto('/gateways');
  await hydrated(page);
  const card = page.getByTestId('gateway-focus-gw');
  await card.getByRole('button', { name: 'Delete' }).click();
  await expect(card.getByRole('button', { name: 'Confirm delete' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(card).toHaveCount(0);

  await page.goto('/endpoints');
  await hydrated(page);
  const endpoint = page.getByTestId('endpoint-focus-mock');
  await endpoint.getByRole('button', { name: 'Delete' }).click();
  await expect(endpoint.getByRole('button', { name: 'Confirm delete' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(endpoint).toHaveCount(0);
});

test('usage refreshes on its own, and keys without limits show theirs with the spend in the currency', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'usage-mock', 'sk-e2e-usage');
  await addGateway(page, 'usage-gw', 'usage-mock');
  await page.goto('/keys');
  await hydrated(page);
  await page.getByLabel('Gateway').selectOption('usage-gw');
  await page.getByLabel('Name').fill('limited');
  await page.getByLabel('Limits').fill('requests/day=3');
  await page.getByRole('button', { name: 'Create key' }).click();
  const limitedKey = await page.getByRole('dialog').getByLabel('Key').inputValue();
  await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
  const unlimitedKey = await createKey(page, 'usage-gw', 'unlimited');

  // The page stays open (no reload) while both keys are used.
  const limited = page.getByTestId('key-limited');
  const unlimited = page.getByTestId('key-unlimited');
  await expect(limited.getByTestId('usage')).toContainText('requests/day: 0 of 3');
  await expect(unlimited.getByTestId('month-usage')).toContainText('This month: 0 requests');
  for (const key of [limitedKey, unlimitedKey]) {
    const answer = await page.request.post('/v1/chat/completions', {
      headers: { authorization: `Bearer ${key}` },
      data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count me' }] },
    });
    expect(answer.status()).toBe(200);
  }
  await expect(limited.getByTestId('usage')).toContainText('requests/day: 1 of 3', { timeout: 15_000 });
  await expect(unlimited.getByTestId('month-usage')).toContainText('This month: 1 request · 15 tokens', { timeout: 15_000 });
  await expect(unlimited.getByTestId('month-usage')).toContainText('USD');
  expect(errors).toEqual([]);
});
