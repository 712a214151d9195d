// The playground in a real browser: two endpoints at the mock upstream compared side by side
// (streamed, with time to first token, tokens and cost), a second turn, a judge, the requests
// in Logs and on the Dashboard, and a logged request opened again in the playground.
import { test, expect } from '@playwright/test';
import { SHOTS, addEndpoint, addGateway, hydrated, phoneShot, pickEndpoints, signIn, watchErrors } from './helpers.mjs';

/** The column `n` (0-based). */
const column = (page, n) => page.getByTestId('column').nth(n);

test('two endpoints answer side by side, turn after turn, with a judge; the requests show in Logs and on the Dashboard', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'pg-a', 'sk-e2e-pg-a');
  await addEndpoint(page, 'pg-b', 'sk-e2e-pg-b');

  await page.goto('/playground');
  await hydrated(page);
  await expect(page.getByTestId('column')).toHaveCount(2);
  await column(page, 0).getByLabel('Model').selectOption({ label: 'pg-a (gpt-4o-mini)' });
  await column(page, 1).getByLabel('Model').selectOption({ label: 'pg-b (gpt-4o-mini)' });
  await page.getByLabel('System message').fill('Answer in one word.');
  await page.getByLabel('User message').fill('hello playground');
  await page.getByLabel('Max tokens').fill('64');

  // Each column's request is its own stream: both must be open at once, not one after the other.
  const streams = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/playground/chat')) streams.push(r); });
  await page.getByRole('button', { name: 'Send' }).click();
  for (const n of [0, 1]) {
    const col = column(page, n);
    await expect(col.getByTestId('answer')).not.toBeEmpty();
    await expect(col.getByTestId('total')).toHaveText(/\d+(\.\d+)? m?s$/);
    await expect(col.getByTestId('ttft')).toHaveText(/\d+(\.\d+)? m?s$/);
    await expect(col.getByTestId('tokens')).toHaveText(/^\d+ → \d+$/);
    await expect(col.getByTestId('answer-error')).toHaveCount(0);
  }
  expect(streams.length).toBe(2);
  const bodies = streams.map((r) => JSON.parse(r.postData()));
  expect(bodies.map((b) => b.target.endpoint)).toEqual([expect.any(Number), expect.any(Number)]);
  expect(bodies[0].target.endpoint).not.toBe(bodies[1].target.endpoint);
  expect(bodies[0].body.stream).toBe(true);
  expect(bodies[0].body.max_tokens).toBe(64);
  await expect(column(page, 0)).toContainText('Answered by pg-a');
  await expect(column(page, 1)).toContainText('Answered by pg-b');
  await page.screenshot({ path: `${SHOTS}/playground-1280.png`, fullPage: true });

  // A second turn carries the conversation: the first question and answer go along.
  await page.getByLabel('Judge (optional)').selectOption({ label: 'pg-a (gpt-4o-mini)' });
  await page.getByLabel('User message').fill('and once more');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('verdict')).toBeVisible();
  // The mock answers "word0 word1 word2" to anyone, the judge included.
  await expect(page.getByTestId('verdict')).toContainText('word0 word1 word2');
  await expect(page.getByRole('button', { name: 'Send' })).toBeEnabled();
  const second = JSON.parse(streams[2].postData());
  expect(second.body.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
  expect(second.body.messages[1].content).toBe('hello playground');
  expect(streams.length).toBe(5); // two columns, twice, and the judge
  const judged = JSON.parse(streams[4].postData());
  expect(judged.body.messages[0].content).toContain('Answer 2 (pg-b (gpt-4o-mini))');
  await expect(column(page, 0).getByText('hello playground')).toBeVisible();
  await phoneShot(page, 'playground');

  // A column is its own log: the link leads to the request's detail.
  const logLink = column(page, 1).getByRole('link', { name: 'Log' });
  await expect(logLink).toBeVisible();
  const href = await logLink.getAttribute('href');
  await expect(async () => {
    await page.goto(href);
    await expect(page.getByTestId('log-detail')).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByTestId('log-detail')).toContainText('200');

  // The Dashboard counts the playground's requests under each endpoint: pg-a served two
  // turns and the judge.
  await expect(async () => {
    await page.goto('/?scope=endpoint:pg-a');
    await expect(page.getByTestId('total-requests')).toHaveText('3', { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await page.goto('/');
  await expect(page.getByTestId('by-endpoint').getByRole('row', { name: /pg-b/ })).toContainText('2');
  expect(errors).toEqual([]);
});

test('a logged request opens in the playground with its messages; a bad parameter is refused in the page', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'pg-replay', 'sk-e2e-pg-replay');
  // A gateway that logs bodies, so the request can be replayed whole.
  await page.goto('/gateways');
  await hydrated(page);
  await page.getByLabel('Name').fill('pg-gw');
  await pickEndpoints(page, 'pg-replay');
  await page.getByLabel('Log request and response bodies').check();
  await page.getByRole('button', { name: 'Add gateway' }).click();
  await expect(page.getByTestId('gateway-pg-gw')).toBeVisible();

  await page.goto('/playground');
  await hydrated(page);
  await column(page, 0).getByLabel('Model').selectOption({ label: 'gpt-4o-mini via pg-gw' });
  await page.getByRole('button', { name: 'Remove column 2' }).click();
  await expect(page.getByTestId('column')).toHaveCount(1);
  await page.getByLabel('System message').fill('Be terse.');
  await page.getByLabel('User message').fill('replay me');
  await page.getByLabel('Temperature').fill('0.3');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(column(page, 0).getByTestId('tokens')).toHaveText(/^\d+ → \d+$/);
  const href = await column(page, 0).getByRole('link', { name: 'Log' }).getAttribute('href');

  await expect(async () => {
    await page.goto(href);
    await expect(page.getByRole('link', { name: 'Open in playground' })).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByTestId('log-detail')).toContainText('replay me');
  await page.getByRole('link', { name: 'Open in playground' }).click();
  await expect(page).toHaveURL(/\/playground\?log=/);
  await hydrated(page);
  await expect(page.getByText('Opened from request')).toBeVisible();
  await expect(page.getByLabel('System message')).toHaveValue('Be terse.');
  await expect(page.getByLabel('User message')).toHaveValue('replay me');
  await expect(page.getByLabel('Temperature')).toHaveValue('0.3');
  await expect(column(page, 0).getByLabel('Model')).toHaveValue(/^gateway:\d+:gpt-4o-mini$/);

  // Bad input is refused in the page, before anything is sent.
  await page.getByLabel('Temperature').fill('hot');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('problem')).toHaveText('Temperature must be a number from 0 to 2.');
  // Corrected, the replayed prompt goes out again.
  await page.getByLabel('Temperature').fill('');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(column(page, 0).getByTestId('tokens')).toHaveText(/^\d+ → \d+$/);
  await expect(column(page, 0).getByTestId('answer-error')).toHaveCount(0);
  expect(errors).toEqual([]);
});
