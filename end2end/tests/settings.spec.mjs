// Settings in a real browser: an admin added as a viewer, promoted and demoted; the viewer
// signs in, reads the page and changes only their own password; an admin API token made, used
// against /graphql and revoked; a price refused, set and removed; the admin deleted.
// Screenshots at 1280 and 390 px go to artifacts/.
import { test, expect } from '@playwright/test';
import { SHOTS, hydrated, phoneShot, signIn, watchErrors } from './helpers.mjs';

const VIEWER = 'viewer@example.com';
const VIEWER_PASSWORD = 'viewer password 123';

test('admins, tokens, prices and a password, changed in Settings', async ({ page, browser }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await page.goto('/settings');
  await hydrated(page);

  // An admin, added as a viewer; a short password is refused under its field first.
  const addAdmin = page.getByRole('form', { name: 'Add an admin' });
  await addAdmin.getByLabel('E-mail').fill(VIEWER);
  await addAdmin.getByLabel('Password').fill('short');
  await addAdmin.getByRole('button', { name: 'Add admin' }).click();
  await expect(addAdmin.locator('#admin-password-error')).toContainText('characters');
  await addAdmin.getByLabel('Password').fill(VIEWER_PASSWORD);
  await addAdmin.getByRole('button', { name: 'Add admin' }).click();
  const row = page.getByTestId(`admin-${VIEWER}`);
  await expect(row).toContainText('viewer');
  await row.getByRole('button', { name: 'Make admin' }).click();
  await expect(row.getByRole('button', { name: 'Make viewer' })).toBeVisible();
  await row.getByRole('button', { name: 'Make viewer' }).click();
  await expect(row.getByRole('button', { name: 'Make admin' })).toBeVisible();

  // A token: shown once, works against the management API, then revoked.
  const addToken = page.getByRole('form', { name: 'Create a token' });
  await addToken.getByLabel('Name').fill('ci-deploy');
  await addToken.getByLabel('Expires in (days)').fill('forever');
  await addToken.getByRole('button', { name: 'Create token' }).click();
  await expect(addToken.locator('#token-expires_in_days-error')).toContainText('whole number');
  await addToken.getByLabel('Expires in (days)').fill('30');
  await addToken.getByRole('button', { name: 'Create token' }).click();
  const dialog = page.getByRole('dialog');
  const token = await dialog.getByLabel('Token').inputValue();
  expect(token).toMatch(/^mgwa_[0-9a-f]{18}_/);
  await expect(dialog.getByLabel('Token')).toBeFocused();
  await page.screenshot({ path: `${SHOTS}/settings-dialog-1280.png` });
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  const asToken = () => page.request.post('/graphql', {
    headers: { authorization: `Bearer ${token}` }, data: { query: '{ viewer { user { email } authenticatedBy } }' },
  });
  const viewed = (await (await asToken()).json()).data.viewer;
  expect(viewed).toEqual({ user: { email: 'e2e@example.com' }, authenticatedBy: 'API_TOKEN' });
  const tokenRow = page.getByTestId('token-ci-deploy');
  await expect(tokenRow).toContainText('Active');
  await tokenRow.getByRole('button', { name: 'Revoke' }).click();
  await tokenRow.getByRole('button', { name: 'Confirm revoke' }).click();
  await expect(tokenRow).toContainText('Revoked');
  expect((await (await asToken()).json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');

  // A price: a bad number is refused under its field, then set, then removed.
  const setPrice = page.getByRole('form', { name: 'Set a price' });
  await setPrice.getByLabel('Model').fill('e2e-model');
  await setPrice.getByLabel('Input per 1M tokens').fill('cheap');
  await setPrice.getByLabel('Output per 1M tokens').fill('0.60');
  await setPrice.getByRole('button', { name: 'Set price' }).click();
  await expect(setPrice.locator('#price-input-error')).not.toBeEmpty();
  await setPrice.getByLabel('Input per 1M tokens').fill('0.15');
  await setPrice.getByRole('button', { name: 'Set price' }).click();
  const price = page.getByTestId('price-e2e-model');
  await expect(price).toContainText('0.150000');
  await expect(price).toContainText('0.600000');
  await page.screenshot({ path: `${SHOTS}/settings-1280.png`, fullPage: true });
  await phoneShot(page, 'settings');
  await price.getByRole('button', { name: 'Remove' }).click();
  await price.getByRole('button', { name: 'Confirm remove' }).click();
  await expect(price).toHaveCount(0);

  // The viewer signs in: reads, cannot change others, changes their own password.
  const other = await browser.newContext();
  const viewer = await other.newPage();
  watchErrors(viewer, errors);
  await viewer.goto(new URL('/login', page.url()).toString());
  await viewer.getByLabel('Email').fill(VIEWER);
  await viewer.getByLabel('Password').fill(VIEWER_PASSWORD);
  await viewer.getByRole('button', { name: 'Sign in' }).click();
  await viewer.goto(new URL('/settings', page.url()).toString());
  await hydrated(viewer);
  await expect(viewer.getByText('You are a viewer')).toBeVisible();
  await expect(viewer.getByRole('form', { name: 'Add an admin' })).toHaveCount(0);
  await expect(viewer.getByTestId('admin-e2e@example.com').getByRole('button')).toHaveCount(0);
  const password = viewer.getByRole('form', { name: 'Change password' });
  await password.getByLabel('Current password').fill('not it at all');
  await password.getByLabel('New password', { exact: true }).fill('a brand new password');
  await password.getByLabel('New password again').fill('a brand new password');
  await password.getByRole('button', { name: 'Change password' }).click();
  await expect(password.locator('#password-current_password-error')).toContainText('not your current password');
  await password.getByLabel('Current password').fill(VIEWER_PASSWORD);
  await password.getByLabel('New password', { exact: true }).fill('a brand new password');
  await password.getByLabel('New password again').fill('a different one entirely');
  await password.getByRole('button', { name: 'Change password' }).click();
  await expect(password.locator('#password-confirm_password-error')).toContainText('does not match');
  await password.getByLabel('New password again').fill('a brand new password');
  await password.getByRole('button', { name: 'Change password' }).click();
  await expect(viewer.getByText('Password changed')).toBeVisible();
  await other.close();

  // The admin deletes the viewer.
  await page.reload();
  await hydrated(page);
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(row).toHaveCount(0);
  expect(errors).toEqual([]);
});
