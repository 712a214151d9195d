// The gateways page in a real browser: add an endpoint and a gateway over it, read its URL and
// snippets, delete it with confirmation. Screenshots at 1280 and 390 px go to artifacts/.
import { test, expect } from '@playwright/test';
import { SHOTS, addEndpoint, deleteEndpoint, hydrated, phoneShot, signIn, watchErrors } from './helpers.mjs';

test('add a gateway over an endpoint, read its snippets, delete it', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'gw-mock', 'sk-e2e-gateway');

  await page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link', { name: 'Gateways' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Gateways' })).toBeVisible();
  await expect(page.getByText('No gateways yet')).toBeVisible();

  // An endpoint that does not exist: the error shows under the Endpoints field.
  await page.getByLabel('Name').fill('main');
  await page.getByLabel('Endpoints').fill('missing');
  await page.getByRole('button', { name: 'Add gateway' }).click();
  await expect(page.locator('#gateway-endpoints-error')).toContainText('no endpoint named');

  await page.getByLabel('Endpoints').fill('gw-mock:2');
  await page.getByLabel('Strategy').selectOption('weighted');
  await page.getByRole('button', { name: 'Add gateway' }).click();
  const card = page.getByTestId('gateway-main');
  await expect(card).toBeVisible();
  await expect(card.getByRole('cell', { name: 'gw-mock' })).toBeVisible();
  await expect(card.getByTestId('gateway-url')).toHaveText(/\/v1$/);
  await card.getByText('OpenAI Python').click();
  await expect(card.getByText('base_url=')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/gateways-1280.png`, fullPage: true });
  await phoneShot(page, 'gateways');

  await card.getByRole('button', { name: 'Delete' }).click();
  await card.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(page.getByText('No gateways yet')).toBeVisible();
  // Tidy up the endpoint so other tests start from an empty list.
  await deleteEndpoint(page, 'gw-mock');
  await expect(page.getByText('No endpoints yet')).toBeVisible();
  expect(errors).toEqual([]);
});
