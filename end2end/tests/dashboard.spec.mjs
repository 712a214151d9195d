// The Dashboard in a real browser: requests made with a console-made key show in the totals,
// the charts and the per-gateway table; the range and scope picker works as a plain GET form
// before hydration. Screenshots at 1280 and 390 px go to artifacts/.
import { test, expect } from '@playwright/test';
import { SHOTS, MOCK_URL, addEndpoint, addGateway, createKey, deleteEndpoint, deleteGateway, hydrated, phoneShot, signIn, watchErrors } from './helpers.mjs';

test('requests through a gateway show on the Dashboard, for that gateway and in the breakdown', async ({ page, browser }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'dash-mock', 'sk-e2e-dash');
  await addGateway(page, 'dash-gw', 'dash-mock');
  const key = await createKey(page, 'dash-gw', 'dash-app');

  for (let i = 0; i < 3; i++) {
    const answer = await page.request.post('/v1/chat/completions', {
      headers: { authorization: `Bearer ${key}` },
      data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `dashboard ${i}` }] },
    });
    expect(answer.status()).toBe(200);
  }

  // Usage is written in batches: reload until the three requests are counted.
  await expect(async () => {
    await page.goto('/?scope=gateway:dash-gw');
    await expect(page.getByTestId('total-requests')).toHaveText('3', { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByTestId('total-errors')).toHaveText('0');
  // The mock answers 10 prompt and 5 completion tokens a request.
  await expect(page.getByTestId('total-tokens')).toHaveText('45');
  await expect(page.getByLabel('Traffic of')).toHaveValue('gateway:dash-gw');
  // The charts are drawn on the server: a bar for the current hour is in the HTML.
  const requests = page.getByTestId('chart-requests');
  await expect(requests.getByRole('img')).toHaveAttribute('aria-label', /3 requests, 0 errors/);
  expect(await requests.locator('path').first().getAttribute('d')).toMatch(/^M\d/);
  const html = await (await page.request.get('/?scope=gateway:dash-gw')).text();
  expect(html).toContain('data-testid="chart-latency"');
  expect(html).toMatch(/Requests: 3 requests, 0 errors/);

  // The last hour, by the minute: the same three requests, in the current minute's bar (or
  // the one before, near a minute's turn), and the breakdown over that hour.
  await page.goto('/?range=1h&scope=gateway:dash-gw');
  await expect(page.getByTestId('total-requests')).toHaveText('3');
  await expect(requests.getByRole('img')).toHaveAttribute('aria-label', /3 requests, 0 errors, per minute/);
  await page.goto('/?range=6h');
  await expect(page.getByTestId('chart-requests').getByRole('img')).toHaveAttribute('aria-label', /per 5 minutes/);
  await expect(page.getByTestId('by-gateway').getByRole('row', { name: /dash-gw/ })).toContainText('3');

  // Every gateway: the breakdown lists this one with its three requests; its name leads to it.
  await page.goto('/');
  await hydrated(page);
  const row = page.getByTestId('by-gateway').getByRole('row', { name: /dash-gw/ });
  await expect(row).toContainText('3');
  await page.screenshot({ path: `${SHOTS}/dashboard-1280.png`, fullPage: true });
  await phoneShot(page, 'dashboard');
  await row.getByRole('link', { name: 'dash-gw' }).click();
  await expect(page).toHaveURL(/scope=gateway:dash-gw/);
  // Once hydrated, a choice applies at once.
  await hydrated(page);
  await page.getByLabel('Range', { exact: true }).selectOption('30d');
  await expect(page).toHaveURL(/range=30d/);
  await expect(page.getByTestId('chart-requests').getByRole('img')).toHaveAttribute('viewBox', '0 0 720 100');

  // The picker is a plain form: it works before hydration (here the WASM never arrives).
  const plain = await browser.newContext({ storageState: await page.context().storageState() });
  await plain.route('**/*.wasm', (route) => route.abort());
  const early = await plain.newPage();
  await early.goto(new URL('/', page.url()).toString());
  await early.getByLabel('Range', { exact: true }).selectOption('7d');
  await early.getByLabel('Traffic of').selectOption('gateway:dash-gw');
  await early.getByRole('button', { name: 'Show' }).click();
  await expect(early).toHaveURL(/range=7d&scope=gateway%3Adash-gw/);
  await expect(early.getByTestId('total-requests')).toHaveText('3');
  await expect(early.getByTestId('chart-tokens').getByRole('img')).toHaveAttribute('aria-label', /30 prompt and 15 completion tokens/);
  expect(await early.evaluate(() => document.body.dataset.hydrated)).toBeUndefined();
  await plain.close();

  // An unknown scope is explained, with the way back.
  await page.goto('/?scope=gateway:nope');
  await expect(page.getByRole('alert')).toContainText('No gateway is named "nope"');

  // Deleting them leaves their history in the totals for every gateway.
  await page.goto('/');
  const before = await page.getByTestId('total-requests').textContent();
  expect(Number(before)).toBeGreaterThanOrEqual(3);
  await deleteGateway(page, 'dash-gw');
  await deleteEndpoint(page, 'dash-mock');
  await page.goto('/');
  await expect(page.getByTestId('total-requests')).toHaveText(before);
  await expect(page.getByTestId('by-gateway')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('requests refused by a limit count as requests and errors; an empty chart says so', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  // A model without a price, so that the cost chart has nothing to show.
  await page.goto('/endpoints');
  await hydrated(page);
  await page.getByLabel('Name').fill('limit-mock');
  await page.getByLabel('Model').fill('e2e-unpriced-model');
  await page.getByLabel('Base URL').fill(`${MOCK_URL}/v1`);
  await page.getByLabel('API key').fill('sk-e2e-limit');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId('endpoint-limit-mock')).toBeVisible();
  await addGateway(page, 'limit-gw', 'limit-mock');
  await page.goto('/keys');
  await hydrated(page);
  await page.getByLabel('Gateway').selectOption('limit-gw');
  await page.getByLabel('Name').fill('one-a-minute');
  await page.getByLabel('Limits', { exact: true }).fill('requests/minute=1');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = await page.getByRole('dialog').getByLabel('Key').inputValue();
  await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click();

  const statuses = [];
  for (let i = 0; i < 3; i++) {
    const answer = await page.request.post('/v1/chat/completions', {
      headers: { authorization: `Bearer ${key}` },
      data: { model: 'e2e-unpriced-model', messages: [{ role: 'user', content: `limited ${i}` }] },
    });
    statuses.push(answer.status());
  }
  expect(statuses).toEqual([200, 429, 429]);

  // The two 429s are requests and errors (any status >= 400), as in Logs.
  await expect(async () => {
    await page.goto('/?scope=gateway:limit-gw');
    await expect(page.getByTestId('total-requests')).toHaveText('3', { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByTestId('total-errors')).toHaveText('2');
  const requests = page.getByTestId('chart-requests');
  await expect(requests.getByRole('img')).toHaveAttribute('aria-label', /3 requests, 2 errors/);
  // Its axis counts whole requests: 10 and 5 for a bar of 3, not 5 and 2.50.
  await expect(requests).not.toContainText('2.50');
  // Its model has no price: the cost chart says there is nothing, instead of a 0-to-1 axis.
  await expect(page.getByTestId('chart-cost').getByTestId('chart-empty')).toHaveText('Nothing in this range');
  await expect(page.getByTestId('chart-cost')).not.toContainText('0.50');

  await deleteGateway(page, 'limit-gw');
  await deleteEndpoint(page, 'limit-mock');
  expect(errors).toEqual([]);
});

test('a range chosen before the page became interactive is applied once it is', async ({ page }) => {
  await signIn(page);
  // Hold the WASM back until the choice is made.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route('**/*.wasm', async (route) => { await held; await route.continue(); });
  await page.goto('/');
  await page.getByLabel('Range', { exact: true }).selectOption('7d');
  expect(page.url()).not.toContain('range=7d');
  release();
  await hydrated(page);
  await expect(page).toHaveURL(/range=7d/);
  await expect(page.getByLabel('Range', { exact: true })).toHaveValue('7d');
});
