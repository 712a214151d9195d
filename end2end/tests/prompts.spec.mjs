// Named prompts in a real browser, the path a user takes: a prompt created with a parameter (a
// template that uses an undeclared one refused under the editor first), a second version made
// from the first, the diff between them, the production label moved, both versions tried side
// by side in the playground through a gateway that logs bodies (the mock upstream answers; each
// column's log shows the text its version rendered), each version's figures, and a playground
// conversation saved as a prompt. Screenshots (the Prompts page at 1280 and 390 px, the playground
// comparing versions) go to artifacts/.
import { test, expect } from '@playwright/test';
import { SHOTS, addEndpoint, deleteEndpoint, deleteGateway, hydrated, phoneShot, pickEndpoints, signIn, watchErrors } from './helpers.mjs';

/** The playground's column `n` (0-based). */
const column = (page, n) => page.getByTestId('column').nth(n);

/** Deletes the prompt `name` on the Prompts page, confirming. */
async function deletePrompt(page, name) {
  await page.goto('/prompts');
  await hydrated(page);
  const card = page.getByTestId(`prompt-${name}`);
  await card.getByRole('button', { name: 'Delete' }).click();
  await card.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(page.getByTestId(`prompt-${name}`)).toHaveCount(0);
}

test('a prompt gets a second version, a diff and a label, is tried version against version in the playground, and a conversation is saved as one', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'pr-a', 'sk-e2e-pr-a');
  // A gateway that logs bodies: its logs show the text each version rendered.
  await page.goto('/gateways');
  await hydrated(page);
  await page.getByLabel('Name').fill('pr-gw');
  await pickEndpoints(page, 'pr-a');
  await page.getByLabel('Log request and response bodies').check();
  await page.getByRole('button', { name: 'Add gateway' }).click();
  await expect(page.getByTestId('gateway-pr-gw')).toBeVisible();

  // Created with a parameter; without it the template is refused under the editor.
  await page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link', { name: 'Prompts' }).click();
  await expect(page).toHaveURL(/\/prompts$/);
  await hydrated(page);
  const form = page.getByRole('form', { name: 'New prompt' });
  await form.getByLabel('Name', { exact: true }).fill('greeting');
  await form.getByLabel('Description', { exact: true }).fill('Says hello');
  await form.getByLabel('Content 1', { exact: true }).fill('You are brief.');
  await form.getByLabel('Content 2', { exact: true }).fill('Say hello to {{ who }}.');
  await form.getByRole('button', { name: 'Create prompt' }).click();
  await expect(form.getByTestId('template-error')).toContainText('`who` is not one of the template');
  await form.getByRole('button', { name: 'Add a parameter' }).click();
  await form.getByLabel('Name of parameter 1').fill('who');
  await form.getByLabel('Parameter 1 is required').check();
  await form.getByLabel('Description of parameter 1').fill('Who to greet');
  await form.getByRole('button', { name: 'Create prompt' }).click();
  const card = page.getByTestId('prompt-greeting');
  await expect(card.getByTestId('version-count')).toHaveText('1');
  await expect(card).toContainText('Every gateway');
  await expect(page.getByRole('form', { name: 'New prompt' }).getByLabel('Name', { exact: true })).toHaveValue('');

  // A second version starts from the first's template.
  await card.getByRole('button', { name: 'New version' }).click();
  const edit = page.getByRole('form', { name: 'New version of greeting' });
  await expect(edit.getByLabel('Content 2', { exact: true })).toHaveValue('Say hello to {{ who }}.');
  await expect(edit.getByLabel('Name of parameter 1')).toHaveValue('who');
  await edit.getByLabel('Content 2', { exact: true }).fill('Say goodbye to {{ who }}.');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(card.getByTestId('version-count')).toHaveText('2');

  // The diff between v1 and v2: the changed line, removed and added.
  await card.getByRole('button', { name: 'Compare versions' }).click();
  await expect(card.getByLabel('From')).toHaveValue('1');
  await expect(card.getByLabel('To')).toHaveValue('2');
  const diff = card.getByTestId('diff');
  await expect(diff.locator('[data-change="removed"]')).toHaveCount(1);
  await expect(diff.locator('[data-change="removed"]')).toHaveText(/^- +content: Say hello to \{\{ who \}\}\.$/);
  await expect(diff.locator('[data-change="added"]')).toHaveText(/^\+ +content: Say goodbye to \{\{ who \}\}\.$/);
  await expect(diff.locator('[data-change="same"]').first()).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/prompts-1280.png`, fullPage: true });
  await phoneShot(page, 'prompts');

  // The production label, put on v1, then moved to v2.
  const labels = card.getByTestId('labels');
  await expect(labels).toHaveText('None');
  await page.getByRole('form', { name: 'Move a label of greeting' }).getByLabel('Version').selectOption('1');
  await page.getByRole('form', { name: 'Move a label of greeting' }).getByRole('button', { name: 'Move label' }).click();
  await expect(labels).toHaveText('production → v1');
  await page.getByRole('form', { name: 'Move a label of greeting' }).getByLabel('Version').selectOption('2');
  await page.getByRole('form', { name: 'Move a label of greeting' }).getByRole('button', { name: 'Move label' }).click();
  await expect(labels).toHaveText('production → v2');
  await expect(card.getByTestId('versions').getByRole('row', { name: /^v2 / })).toContainText('production');

  // Both versions side by side in the playground, through the gateway.
  await page.goto('/playground');
  await hydrated(page);
  await page.getByLabel('A named prompt').check();
  await page.getByLabel('Named prompt', { exact: true }).selectOption('greeting');
  await expect(page.getByLabel('who')).toHaveAttribute('aria-required', 'true');
  await page.getByLabel('who').fill('Ada');
  await expect(column(page, 0).getByLabel('Version')).toHaveValue('@2');
  await expect(column(page, 1).getByLabel('Version')).toHaveValue('@1');
  for (const n of [0, 1]) {
    await column(page, n).getByLabel('Model').selectOption({ label: 'gpt-4o-mini via pr-gw' });
  }
  const streams = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/playground/chat')) streams.push(r); });
  await page.getByRole('button', { name: 'Send' }).click();
  for (const n of [0, 1]) {
    await expect(column(page, n).getByTestId('tokens')).toHaveText(/^\d+ → \d+$/);
    await expect(column(page, n).getByTestId('answer')).not.toBeEmpty();
    await expect(column(page, n).getByTestId('answer-error')).toHaveCount(0);
  }
  await page.screenshot({ path: `${SHOTS}/playground-prompt-1280.png`, fullPage: true });
  const bodies = streams.map((r) => JSON.parse(r.postData()).body);
  expect(bodies.map((b) => b.prompt).sort()).toEqual(['greeting@1', 'greeting@2']);
  expect(bodies.map((b) => b.parameters)).toEqual([{ who: 'Ada' }, { who: 'Ada' }]);
  expect(bodies.map((b) => b.messages)).toEqual([[], []]);
  const logs = [];
  for (const n of [0, 1]) logs.push(await column(page, n).getByRole('link', { name: 'Log' }).getAttribute('href'));
  for (const [href, said] of [[logs[0], 'Say goodbye to Ada.'], [logs[1], 'Say hello to Ada.']]) {
    await expect(async () => {
      await page.goto(href);
      await expect(page.getByTestId('log-detail')).toBeVisible({ timeout: 1_000 });
    }).toPass({ timeout: 10_000 });
    await expect(page.getByTestId('log-detail')).toContainText(said);
  }

  // Each version's figures count its request.
  await expect(async () => {
    await page.goto('/prompts');
    await hydrated(page);
    const greeting = page.getByTestId('prompt-greeting');
    await greeting.getByRole('button', { name: 'Figures' }).click();
    const figures = greeting.getByTestId('version-stats');
    for (const version of ['v1', 'v2']) {
      await expect(figures.getByRole('row', { name: new RegExp(`^${version} `) }).getByRole('cell').first()).toHaveText('1', { timeout: 1_000 });
    }
  }).toPass({ timeout: 10_000 });

  // A playground conversation saved as a prompt appears on the Prompts page.
  await page.goto('/playground');
  await hydrated(page);
  await page.getByLabel('System message').fill('Be terse.');
  await page.getByLabel('User message').fill('Summarise the news.');
  await page.getByTestId('save-as-prompt').getByText('Save as prompt').click();
  await page.getByLabel('Prompt name').fill('news');
  await page.getByLabel('Prompt description').fill('From the playground');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByTestId('saved-as')).toContainText('Saved as news v1.');
  await page.goto('/prompts');
  await hydrated(page);
  const news = page.getByTestId('prompt-news');
  await expect(news).toContainText('From the playground');
  await news.getByRole('button', { name: 'New version' }).click();
  const saved = page.getByRole('form', { name: 'New version of news' });
  await expect(saved.getByLabel('Role 1', { exact: true })).toHaveValue('system');
  await expect(saved.getByLabel('Content 1', { exact: true })).toHaveValue('Be terse.');
  await expect(saved.getByLabel('Content 2', { exact: true })).toHaveValue('Summarise the news.');

  await deletePrompt(page, 'news');
  await deletePrompt(page, 'greeting');
  await deleteGateway(page, 'pr-gw');
  await deleteEndpoint(page, 'pr-a');
  expect(errors).toEqual([]);
});
