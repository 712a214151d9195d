// The whole path in a real browser: an endpoint at the mock upstream, a gateway and a key made
// in the console; a chat request with that key; the request in Logs (filtered) and its detail
// with the attempt. Screenshots at 1280 and 390 px go to artifacts/.
import { test, expect } from '@playwright/test';
import { SHOTS, addEndpoint, addGateway, createKey, hydrated, phoneShot, signIn, watchErrors } from './helpers.mjs';

test('a request made with a console-made key shows in Logs with its attempt', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'logs-mock', 'sk-e2e-logs');
  await addGateway(page, 'logs-gw', 'logs-mock');

  const key = await createKey(page, 'logs-gw', 'logs-app');

  // A client call with the key (the browser's cookie is not what authenticates it).
  const answer = await page.request.post('/v1/chat/completions', {
    headers: { authorization: `Bearer ${key}` },
    data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from the browser test' }] },
  });
  expect(answer.status()).toBe(200);
  const requestId = answer.headers()['x-request-id'];

  // Logs are written in batches: reload until the request shows (bounded by the expect timeout).
  await expect(async () => {
    await page.goto('/logs?gateway=logs-gw');
    await expect(page.getByTestId('log-row').first()).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  const row = page.getByTestId('log-row').first();
  await expect(row).toContainText('200');
  await expect(row).toContainText('gpt-4o-mini');
  await expect(row).toContainText('logs-gw');
  await expect(row).toContainText('10 / 5');
  await page.screenshot({ path: `${SHOTS}/logs-1280.png`, fullPage: true });
  await phoneShot(page, 'logs');

  // Errors only: none.
  await page.getByLabel('Status').selectOption('errors');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/status=errors/);
  await expect(page.getByText('No requests match')).toBeVisible();

  await page.goto('/logs?gateway=logs-gw');
  await page.getByTestId('log-row').first().getByRole('link', { name: 'Details' }).click();
  await expect(page).toHaveURL(new RegExp(`/logs/${requestId}$`));
  const detail = page.getByTestId('log-detail');
  await expect(detail).toContainText(requestId);
  await expect(detail.getByTestId('attempts').getByRole('row')).toHaveCount(1);
  await expect(detail.getByText('this gateway does not log bodies').first()).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/log-detail-1280.png`, fullPage: true });
  expect(errors).toEqual([]);
});

/** The Key filter's value (the key's public id) for the key named `name`. */
async function keyValue(page, name) {
  return page.locator('#logs-key option', { hasText: `${name} (` }).getAttribute('value');
}

test('Logs follow new requests live, filter by key, endpoint, time and request id, and export what they show', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'tail-mock', 'sk-e2e-tail');
  await addGateway(page, 'tail-gw', 'tail-mock');
  const key = await createKey(page, 'tail-gw', 'tail-app');
  await createKey(page, 'tail-gw', 'tail-other');

  // The live tail: switched on, a new request appears at the top without a reload.
  await page.goto('/logs?gateway=tail-gw');
  await hydrated(page);
  await expect(page.getByText('No requests match')).toBeVisible();
  await page.getByRole('button', { name: 'Live tail' }).click();
  await expect(page.getByTestId('live-status')).toContainText('Live');
  const answer = await page.request.post('/v1/chat/completions', {
    headers: { authorization: `Bearer ${key}` },
    data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'live' }] },
  });
  expect(answer.status()).toBe(200);
  const requestId = answer.headers()['x-request-id'];
  const row = page.getByTestId('log-row').first();
  await expect(row).toBeVisible({ timeout: 10_000 });
  await expect(row.getByTestId('log-key')).toHaveText('tail-app');
  await expect(row.getByTestId('log-endpoint')).toHaveText('tail-mock');
  await expect(page.getByText('No requests match')).toBeHidden();
  await page.getByRole('button', { name: 'Stop live tail' }).click();
  await expect(page.getByTestId('live-status')).toContainText('stopped');

  // Filters: another key has none; this key, this endpoint and this request id have it.
  await page.getByLabel('Key').selectOption(await keyValue(page, 'tail-other'));
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/key=[A-Za-z0-9]+/);
  await expect(page.getByText('No requests match')).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Key').selectOption(await keyValue(page, 'tail-app'));
  await page.getByLabel('Endpoint').selectOption('tail-mock');
  await page.getByLabel('Request id').fill(requestId);
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(new RegExp(`request_id=${requestId}`));
  await expect(page.getByTestId('log-row')).toHaveCount(1);

  // Export what the page shows, as CSV.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Export CSV' }).click(),
  ]);
  const fs = await import('node:fs/promises');
  const csv = await fs.readFile(await download.path(), 'utf8');
  const lines = csv.trim().split(/\r?\n/);
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(`${requestId},200,tail-gw,tail-app,tail-mock,gpt-4o-mini`);

  // A time range after the request: nothing.
  await page.getByLabel('From (UTC)').fill('2099-01-01T00:00');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/from=2099/);
  await expect(page.getByText('No requests match')).toBeVisible();

  // The detail names the endpoint of each attempt and the key.
  await page.goto(`/logs/${requestId}`);
  await expect(page.getByTestId('attempt-endpoint')).toHaveText(['tail-mock']);
  await expect(page.getByTestId('log-detail')).toContainText('tail-app');
  expect(errors).toEqual([]);
});
