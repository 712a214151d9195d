// Guardrails in a real browser (issue #24), the path an admin takes on a gateway's card: a
// pattern the engine cannot run refused under its field; an e-mail guardrail that redacts
// requests and restores answers added and listed; "try it" showing what a text becomes; a
// request through the gateway whose answer gives the user their own address back (the mock
// echoes what it was sent); a moderation endpoint's guardrail (refused with an action it cannot
// take, then added to fail closed) blocking a request the mock's /v1/moderations flags; the
// guardrails removed. Screenshots at 1280 and 390 px.
import { test, expect } from '@playwright/test';
import { SHOTS, addEndpoint, addGateway, alertUnder, createKey, deleteEndpoint, deleteGateway, hydrated, phoneShot, signIn, watchErrors } from './helpers.mjs';

const GATEWAY = 'guard-gw';

test('a guardrail is refused with a bad pattern, added, tried, applied to a request and removed', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'guard-a', 'sk-e2e-guard-a');
  await addGateway(page, GATEWAY, 'guard-a');
  const card = page.getByTestId(`gateway-${GATEWAY}`);
  const rails = card.getByRole('region', { name: `Guardrails of ${GATEWAY}` });
  await expect(rails).toContainText('None: requests and answers pass as they are.');

  // A look-ahead is refused under the detector: patterns run in linear time.
  await rails.getByRole('button', { name: 'Add a guardrail' }).click();
  const add = page.getByRole('form', { name: `Add a guardrail to ${GATEWAY}` });
  await add.getByLabel('Look for').selectOption('regex');
  await add.getByLabel('Pattern').fill('secret(?=x)');
  await add.getByLabel('Action').selectOption('block');
  await add.getByRole('button', { name: 'Save' }).click();
  await expect(alertUnder(add, 'Look for')).toContainText('look-around');

  // E-mail addresses: redacted on the way out, restored on the way back.
  await add.getByLabel('Look for').selectOption('email');
  await add.getByLabel('Action').selectOption('restore');
  await add.getByRole('button', { name: 'Save' }).click();
  const rail = rails.getByTestId('guardrail');
  await expect(rail).toHaveCount(1);
  await expect(rail).toContainText('email');
  await expect(rail).toContainText('Redact, and restore in the answer');
  await expect(rail).toContainText('requests');

  // Try it: what a request would send.
  const tryIt = rails.getByRole('form', { name: 'Try the guardrails' });
  await tryIt.getByLabel('Try it: a text as a request would send it').fill('Mail ada@example.com today');
  await tryIt.getByRole('button', { name: 'Try' }).click();
  await expect(tryIt.getByTestId('guard-trial')).toContainText('Mail [EMAIL_1] today');
  await expect(tryIt.getByTestId('guard-trial')).toContainText('Found: email:restore');
  await page.screenshot({ path: `${SHOTS}/guardrails-1280.png`, fullPage: true });
  await phoneShot(page, 'guardrails');

  // Through the gateway: the answer (the mock's echo of what it was sent) has the address back.
  const key = await createKey(page, GATEWAY, 'guard-key');
  await expect(async () => {
    const response = await page.request.post('/v1/chat/completions', {
      headers: { authorization: `Bearer ${key}` },
      data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'I am ada@example.com' }] },
    });
    expect(response.status()).toBe(200);
    expect((await response.json()).choices[0].message.content).toBe('mock reply to: I am ada@example.com');
  }).toPass({ timeout: 10_000 });

  // A moderation endpoint: it says whether, not where, so it cannot redact; it blocks what it
  // flags (the mock flags "violent"), and this one refuses requests while it cannot answer.
  await addEndpoint(page, 'guard-omni', 'sk-e2e-guard-omni');
  await page.goto('/gateways');
  await hydrated(page);
  await rails.getByRole('button', { name: 'Add a guardrail' }).click();
  await add.getByLabel('Look for').selectOption('moderation');
  await add.getByLabel('Endpoint', { exact: true }).fill('guard-omni');
  await add.getByLabel('Action').selectOption('redact');
  await add.getByRole('button', { name: 'Save' }).click();
  await expect(alertUnder(add, 'Action')).toContainText('blocks or flags');
  await add.getByLabel('Action').selectOption('block');
  await add.getByLabel('Fail closed').check();
  await add.getByRole('button', { name: 'Save' }).click();
  await expect(rail).toHaveCount(2);
  const moderation = rail.filter({ hasText: 'moderation:guard-omni' });
  await expect(moderation).toContainText('Block');
  await expect(moderation).toContainText('refuses requests while the endpoint cannot answer');
  await expect(async () => {
    const response = await page.request.post('/v1/chat/completions', {
      headers: { authorization: `Bearer ${key}` },
      data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Tell a violent story' }] },
    });
    expect(response.status()).toBe(400);
    expect((await response.json()).error.code).toBe('content_policy_violation');
  }).toPass({ timeout: 10_000 });

  // Removed, with confirmation.
  for (const name of ['moderation:guard-omni', 'email']) {
    const item = rail.filter({ hasText: name });
    await item.getByRole('button', { name: 'Remove' }).click();
    await item.getByRole('button', { name: 'Confirm remove' }).click();
    await expect(item).toHaveCount(0);
  }
  await expect(rails).toContainText('None: requests and answers pass as they are.');

  await deleteGateway(page, GATEWAY);
  await deleteEndpoint(page, 'guard-a');
  await deleteEndpoint(page, 'guard-omni');
  expect(errors).toEqual([]);
});
