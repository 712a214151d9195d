// The response cache in a real browser (issue #24), the path an admin takes: turned on from a
// gateway's edit form (a TTL the server cannot read refused under its field), shown on the
// gateway's card, and a repeated request through the gateway answered from it
// (`x-mgw-cache: hit`) with the same content; the dashboard's hit ratio. A load composite's own
// cache, set from its form over a gateway that does not cache, and a prompt's, from its card. A
// semantic cache set from the gateway's form, answering a question asked in other words.
import { test, expect } from '@playwright/test';
import { addEndpoint, addGateway, createKey, deleteEndpoint, deleteGateway, hydrated, signIn, watchErrors } from './helpers.mjs';

test('a gateway’s response cache is set from its edit form and answers a repeated request', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await addEndpoint(page, 'cache-a', 'sk-e2e-cache-a');
  await addGateway(page, 'cache-gw', 'cache-a');
  let card = page.getByTestId('gateway-cache-gw');
  await expect(card.getByTestId('gateway-cache')).toHaveText('Off');

  await card.getByRole('button', { name: 'Edit' }).click();
  const form = page.getByRole('form', { name: 'Edit cache-gw' });
  await expect(form.getByLabel('Cache TTL')).toHaveValue('10m');
  await expect(form.getByLabel('Largest answer kept')).toHaveValue('1MiB');
  await form.getByLabel('Cache', { exact: true }).selectOption('exact');
  await form.getByLabel('Cache TTL').fill('an hour');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByLabel('Cache TTL').locator('xpath=..').getByRole('alert')).toContainText('not a duration');
  await form.getByLabel('Cache TTL').fill('1h');
  await form.getByLabel('Largest answer kept').fill('64KiB');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form).toHaveCount(0);
  card = page.getByTestId('gateway-cache-gw');
  await expect(card.getByTestId('gateway-cache')).toHaveText('Exact, 1h, up to 64KiB');

  // Through the gateway: the second request like the first is answered from the cache.
  const key = await createKey(page, 'cache-gw', 'cache-key');
  const ask = () => page.request.post('/v1/chat/completions', {
    headers: { authorization: `Bearer ${key}` },
    data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say it once' }] },
  });
  let first;
  await expect(async () => {
    first = await ask();
    expect(first.status()).toBe(200);
  }).toPass({ timeout: 10_000 });
  expect(first.headers()['x-mgw-cache']).toBe('miss');
  const again = await ask();
  expect(again.headers()['x-mgw-cache']).toBe('hit');
  expect((await again.json()).choices[0].message.content).toBe((await first.json()).choices[0].message.content);

  // The dashboard shows the gateway's hit ratio once the log writer has stored the two.
  await expect(async () => {
    await page.goto('/?scope=gateway:cache-gw');
    await expect(page.getByTestId('total-cache-hits')).toHaveText('50%', { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByText('1 of 2 lookups')).toBeVisible();

  await deleteGateway(page, 'cache-gw');
  await deleteEndpoint(page, 'cache-a');
  expect(errors).toEqual([]);
});

test('a composite model’s own response cache is set from its form and answers over a gateway that does not cache', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await addEndpoint(page, 'own-a', 'sk-e2e-own-a');
  await addGateway(page, 'own-gw', 'own-a');
  const card = page.getByTestId('gateway-own-gw');
  await expect(card.getByTestId('gateway-cache')).toHaveText('Off');

  await card.getByRole('button', { name: 'Add a composite model' }).click();
  const form = page.getByRole('form', { name: 'Add a composite model to own-gw' });
  await form.getByLabel('Name').fill('steady');
  await form.getByLabel('Members').fill('own-a');
  // A multi composite has no cache of its own; a load composite does.
  await form.getByLabel('Kind').selectOption('multi');
  await expect(form.getByLabel('Cache TTL')).toHaveCount(0);
  await form.getByLabel('Kind').selectOption('load');
  await expect(form.getByLabel('Cache', { exact: true })).toHaveValue('');
  await form.getByLabel('Cache', { exact: true }).selectOption('exact');
  await form.getByLabel('Cache TTL').fill('an hour');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByLabel('Cache TTL').locator('xpath=..').getByRole('alert')).toContainText('not a duration');
  await form.getByLabel('Cache TTL').fill('1h');
  await form.getByRole('button', { name: 'Save' }).click();
  const composite = page.getByTestId('gateway-own-gw').getByTestId('composite-steady');
  await expect(composite).toContainText('Response cache: exact, 1h (its own setting).');

  // Through the gateway: the composite's answers are cached, the gateway's own model's are not.
  const key = await createKey(page, 'own-gw', 'own-key');
  const ask = (model) => page.request.post('/v1/chat/completions', {
    headers: { authorization: `Bearer ${key}` },
    data: { model, messages: [{ role: 'user', content: 'Say it once' }] },
  });
  let first;
  await expect(async () => {
    first = await ask('steady');
    expect(first.status()).toBe(200);
  }).toPass({ timeout: 10_000 });
  expect(first.headers()['x-mgw-cache']).toBe('miss');
  expect((await ask('steady')).headers()['x-mgw-cache']).toBe('hit');
  expect((await ask('gpt-4o-mini')).headers()['x-mgw-cache']).toBeUndefined();

  await deleteGateway(page, 'own-gw');
  await deleteEndpoint(page, 'own-a');
  expect(errors).toEqual([]);
});

test('a prompt’s own response cache is set from its card and answers over a gateway that does not cache', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await addEndpoint(page, 'pc-a', 'sk-e2e-pc-a');
  await addGateway(page, 'pc-gw', 'pc-a');

  await page.goto('/prompts');
  await hydrated(page);
  const create = page.getByRole('form', { name: 'New prompt' });
  await create.getByLabel('Name', { exact: true }).fill('pc-hello');
  await create.getByLabel('Content 1', { exact: true }).fill('You are brief.');
  await create.getByLabel('Content 2', { exact: true }).fill('Say hello.');
  await create.getByRole('button', { name: 'Create prompt' }).click();
  const card = page.getByTestId('prompt-pc-hello');
  await expect(card.getByTestId('prompt-cache')).toHaveText("Response cache: the gateway's.");

  await card.getByRole('button', { name: 'Response cache' }).click();
  const form = page.getByRole('form', { name: 'Response cache of pc-hello' });
  await expect(form.getByLabel('Cache', { exact: true })).toHaveValue('');
  await form.getByLabel('Cache', { exact: true }).selectOption('exact');
  await form.getByLabel('Cache TTL').fill('an hour');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByLabel('Cache TTL').locator('xpath=..').getByRole('alert')).toContainText('not a duration');
  await form.getByLabel('Cache TTL').fill('1h');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('prompt-pc-hello').getByTestId('prompt-cache'))
    .toHaveText('Response cache: exact, 1h (its own setting).');

  // Through the gateway: the prompt's requests are cached, the gateway's others are not.
  const key = await createKey(page, 'pc-gw', 'pc-key');
  const ask = (body) => page.request.post('/v1/chat/completions', {
    headers: { authorization: `Bearer ${key}` },
    data: { model: 'gpt-4o-mini', ...body },
  });
  let first;
  await expect(async () => {
    first = await ask({ prompt: 'pc-hello' });
    expect(first.status()).toBe(200);
  }).toPass({ timeout: 10_000 });
  expect(first.headers()['x-mgw-cache']).toBe('miss');
  expect((await ask({ prompt: 'pc-hello' })).headers()['x-mgw-cache']).toBe('hit');
  expect((await ask({ messages: [{ role: 'user', content: 'Say hello.' }] })).headers()['x-mgw-cache']).toBeUndefined();

  // Back to the gateway's settings.
  await page.goto('/prompts');
  await hydrated(page);
  await page.getByTestId('prompt-pc-hello').getByRole('button', { name: 'Response cache' }).click();
  await page.getByRole('form', { name: 'Response cache of pc-hello' }).getByLabel('Cache', { exact: true }).selectOption('');
  await page.getByRole('form', { name: 'Response cache of pc-hello' }).getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('prompt-pc-hello').getByTestId('prompt-cache')).toHaveText("Response cache: the gateway's.");

  await card.getByRole('button', { name: 'Delete' }).click();
  await card.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(page.getByTestId('prompt-pc-hello')).toHaveCount(0);
  await deleteGateway(page, 'pc-gw');
  await deleteEndpoint(page, 'pc-a');
  expect(errors).toEqual([]);
});

test('a semantic cache is set from the gateway’s form and answers a question asked in other words', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await addEndpoint(page, 'sem-a', 'sk-e2e-sem-a');
  await addEndpoint(page, 'sem-emb', 'sk-e2e-sem-emb', 'text-embedding-3-small');
  await addGateway(page, 'sem-gw', 'sem-a, sem-emb');

  let card = page.getByTestId('gateway-sem-gw');
  await card.getByRole('button', { name: 'Edit' }).click();
  const form = page.getByRole('form', { name: 'Edit sem-gw' });
  await form.getByLabel('Cache', { exact: true }).selectOption('semantic');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByLabel('Embedding model').locator('xpath=..').getByRole('alert')).toContainText('needs an embedding model');
  await form.getByLabel('Embedding model').fill('text-embedding-3-small');
  await form.getByLabel('Similarity').fill('0.9');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form).toHaveCount(0);
  card = page.getByTestId('gateway-sem-gw');
  await expect(card.getByTestId('gateway-cache')).toHaveText('Semantic by text-embedding-3-small at 0.9, 10m, up to 1MiB');

  // Through the gateway: the same question in other case and punctuation is answered from
  // the cache, with how similar it was.
  const key = await createKey(page, 'sem-gw', 'sem-key');
  const ask = (content) => page.request.post('/v1/chat/completions', {
    headers: { authorization: `Bearer ${key}` },
    data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] },
  });
  let first;
  await expect(async () => {
    first = await ask('What is the capital of France?');
    expect(first.status()).toBe(200);
  }).toPass({ timeout: 10_000 });
  expect(first.headers()['x-mgw-cache']).toBe('miss');
  const again = await ask('what is the capital of france');
  expect(again.headers()['x-mgw-cache']).toBe('hit');
  expect(again.headers()['x-mgw-cache-similarity']).toBe('1.0000');
  expect((await again.json()).choices[0].message.content).toBe((await first.json()).choices[0].message.content);

  await deleteGateway(page, 'sem-gw');
  await deleteEndpoint(page, 'sem-a');
  await deleteEndpoint(page, 'sem-emb');
  expect(errors).toEqual([]);
});
