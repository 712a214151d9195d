// The reference pages a user reaches from the console's frame: the audit log (every change,
// who made it and which way), the API documentation, and the GraphQL explorer it links to,
// which must work with nothing fetched from outside (offline).
import { test, expect } from '@playwright/test';
import { EMAIL, SHOTS, addEndpoint, hydrated, signIn, watchErrors } from './helpers.mjs';

test('the audit log shows a change just made, with who made it and which way', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'audit-mock', 'sk-e2e-audit');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
  await expect(page).toHaveURL(/\/audit$/);
  const row = page.getByTestId('audit-row').filter({ hasText: 'endpoint.create' }).first();
  await expect(row).toContainText(EMAIL);
  await expect(row).toContainText('console');
  await expect(row).toContainText('name: audit-mock');
  await expect(row).not.toContainText('sk-e2e-audit');
  // The sign-in is there too, older.
  await expect(page.getByTestId('audit-row').filter({ hasText: 'admin.login' }).first()).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/audit-1280.png`, fullPage: true });
  expect(errors).toEqual([]);
});

test('the API documentation is a click away and its GraphQL explorer works offline', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await page.getByRole('link', { name: 'API documentation' }).first().click();
  await expect(page).toHaveURL(/\/docs$/);
  await expect(page.getByTestId('docs-routes')).toContainText('POST /v1/chat/completions');
  await expect(page.getByTestId('docs-routes')).toContainText('POST /v1/messages');

  // Nothing outside this server may be asked for.
  const outside = [];
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  await page.getByRole('link', { name: 'Open the GraphQL explorer' }).click();
  await expect(page).toHaveURL(/\/graphql$/);
  await expect(page.getByRole('heading', { name: 'Roots' })).toBeVisible();
  await page.getByRole('button', { name: 'Query', exact: true }).click();
  await expect(page.locator('#docs')).toContainText('gateways');
  await page.getByLabel(/^Query, mutation or subscription/).fill('{ viewer { user { email } role } }');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('status')).toContainText('HTTP 200');
  await expect(page.locator('#result')).toContainText(EMAIL);
  await page.screenshot({ path: `${SHOTS}/graphql-explorer-1280.png`, fullPage: true });
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
});
