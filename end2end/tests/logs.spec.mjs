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
