// The gateways page in a real browser: add an endpoint and a gateway over it, read its URL and
// snippets, delete it with confirmation. Screenshots at 1280 and 390 px go to artifacts/.
import { test, expect } from '@playwright/test';
import { SHOTS, addEndpoint, addGateway, deleteEndpoint, deleteGateway, hydrated, phoneShot, pickEndpoints, signIn, watchErrors } from './helpers.mjs';

test('add a gateway over an endpoint, read its snippets, delete it', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'gw-mock', 'sk-e2e-gateway');

  await page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link', { name: 'Gateways' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Gateways' })).toBeVisible();
  await expect(page.getByText('No gateways yet')).toBeVisible();

  // No endpoint picked: the error shows under the endpoint picker.
  await hydrated(page);
  await page.getByLabel('Name').fill('main');
  await page.getByRole('button', { name: 'Add gateway' }).click();
  await expect(page.getByRole('group', { name: 'Endpoints' }).getByRole('alert')).toContainText('endpoint');

  await pickEndpoints(page, 'gw-mock:2');
  await page.getByLabel('Strategy').selectOption('weighted');
  await page.getByRole('button', { name: 'Add gateway' }).click();
  const card = page.getByTestId('gateway-main');
  await expect(card).toBeVisible();
  await expect(card.getByRole('cell', { name: 'gw-mock' })).toBeVisible();
  await expect(card.getByTestId('gateway-url')).toHaveText(/\/v1$/);
  await card.getByText('OpenAI Python').click();
  await expect(card.getByText('base_url=')).toBeVisible();
  // Each snippet has a copy button.
  await card.locator('details[open]').getByRole('button', { name: 'Copy the snippet' }).click();
  await expect(card.getByRole('status').filter({ hasText: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toContain('from openai import OpenAI');
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

test('a gateway is edited in place: its endpoints picked with weights, strategy, retries, limits, parameter policy and switches', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await addEndpoint(page, 'edit-a', 'sk-e2e-edit-a');
  await addEndpoint(page, 'edit-b', 'sk-e2e-edit-b');
  await addGateway(page, 'edit-gw', 'edit-a');
  let card = page.getByTestId('gateway-edit-gw');
  await card.getByRole('button', { name: 'Edit' }).click();
  const form = page.getByRole('form', { name: 'Edit edit-gw' });
  // The picker starts with the gateway's endpoints; add the second with weight 3.
  await expect(form.getByLabel('Endpoint 1', { exact: true })).toHaveValue('edit-a');
  await pickEndpoints(form, 'edit-b:3', 1);
  await form.getByLabel('Strategy').selectOption('weighted');
  await form.getByLabel('Attempts').fill('two');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByLabel('Attempts').locator('xpath=..').getByRole('alert')).toContainText('whole number');
  await form.getByLabel('Attempts').fill('2');
  await form.getByLabel('Limits', { exact: true }).fill('requests/minute=50');
  await form.getByLabel('Enabled').uncheck();
  await form.getByLabel('Model aliases').fill('fast');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByLabel('Model aliases').locator('xpath=..').getByRole('alert')).toContainText('write alias=model');
  await form.getByLabel('Model aliases').fill('fast=gpt-4o-mini');
  // The parameter policy: a line the server cannot read is refused under the field.
  await form.getByLabel('Parameter policy').fill('cap max_tokens=5');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByLabel('Parameter policy').locator('xpath=..').getByRole('alert')).toContainText('a line starts with');
  await form.getByLabel('Parameter policy').fill('max max_tokens=256\ndeny logit_bias');
  await form.getByRole('button', { name: 'Save' }).click();

  card = page.getByTestId('gateway-edit-gw');
  await expect(card).toContainText('Disabled');
  await expect(card).toContainText('Weighted');
  await expect(card).toContainText('2 attempts');
  await expect(card.getByRole('row', { name: /edit-b/ })).toContainText('3');
  // Removing a row and saving drops that endpoint.
  await card.getByRole('button', { name: 'Edit' }).click();
  await expect(page.getByRole('form', { name: 'Edit edit-gw' }).getByLabel('Model aliases')).toHaveValue('fast=gpt-4o-mini');
  await expect(page.getByRole('form', { name: 'Edit edit-gw' }).getByLabel('Parameter policy')).toHaveValue('max max_tokens=256\ndeny logit_bias');
  await page.getByRole('form', { name: 'Edit edit-gw' }).getByRole('button', { name: 'Remove endpoint 1' }).click();
  await page.getByRole('form', { name: 'Edit edit-gw' }).getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('gateway-edit-gw').getByRole('cell', { name: 'edit-a' })).toHaveCount(0);
  await expect(page.getByTestId('gateway-edit-gw').getByRole('cell', { name: 'edit-b' })).toBeVisible();
  // Emptied, the aliases are removed (not kept).
  await page.getByTestId('gateway-edit-gw').getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('form', { name: 'Edit edit-gw' }).getByLabel('Model aliases').fill('');
  await page.getByRole('form', { name: 'Edit edit-gw' }).getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('form', { name: 'Edit edit-gw' })).toHaveCount(0);
  await page.getByTestId('gateway-edit-gw').getByRole('button', { name: 'Edit' }).click();
  await expect(page.getByRole('form', { name: 'Edit edit-gw' }).getByLabel('Model aliases')).toHaveValue('');
  await page.getByRole('form', { name: 'Edit edit-gw' }).getByRole('button', { name: 'Cancel' }).click();

  await deleteGateway(page, 'edit-gw');
  await deleteEndpoint(page, 'edit-a');
  await deleteEndpoint(page, 'edit-b');
  expect(errors).toEqual([]);
});
