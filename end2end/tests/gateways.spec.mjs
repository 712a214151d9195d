// The gateways page in a real browser: add an endpoint and a gateway over it, read its URL and
// snippets, delete it with confirmation. Screenshots at 1280 and 390 px go to artifacts/.
import { test, expect } from '@playwright/test';

const EMAIL = process.env.E2E_EMAIL ?? 'e2e@example.com';
const PASSWORD = process.env.E2E_PASSWORD ?? 'e2e password 123';
const MOCK_URL = process.env.MOCK_URL;
const SHOTS = 'artifacts';

test('add a gateway over an endpoint, read its snippets, delete it', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto('/login');
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);

  await page.goto('/endpoints');
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 15_000 });
  await page.getByLabel('Name').fill('gw-mock');
  await page.getByLabel('Model').fill('gpt-4o-mini');
  await page.getByLabel('Base URL').fill(`${MOCK_URL}/v1`);
  await page.getByLabel('API key').fill('sk-e2e-gateway');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId('endpoint-gw-mock')).toBeVisible();

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
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SHOTS}/gateways-390.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  await card.getByRole('button', { name: 'Delete' }).click();
  await card.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(page.getByText('No gateways yet')).toBeVisible();
  // Tidy up the endpoint so other tests start from an empty list.
  await page.goto('/endpoints');
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 15_000 });
  const row = page.getByTestId('endpoint-gw-mock');
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(page.getByText('No endpoints yet')).toBeVisible();
  expect(errors).toEqual([]);
});
