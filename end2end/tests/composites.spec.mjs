// Composite models in a real browser: an A/B split added to a gateway through its form (a
// refusal under the members field first), listed with its members and shares, edited, chosen in
// the playground (the mock upstream answers, and the column names the variant), read in its
// variant breakdown, and removed; a multi composite that waits for all shows every member's
// answer in the playground. A screenshot at 1280 px goes to artifacts/.
import { test, expect } from '@playwright/test';
import { SHOTS, addEndpoint, addGateway, deleteEndpoint, deleteGateway, hydrated, signIn, watchErrors } from './helpers.mjs';

test('an A/B composite is added on its gateway, answers in the playground as one of its variants, and is removed', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'ab-a', 'sk-e2e-ab-a');
  await addEndpoint(page, 'ab-b', 'sk-e2e-ab-b');
  await addGateway(page, 'ab-gw', 'ab-a, ab-b');

  const card = page.getByTestId('gateway-ab-gw');
  await expect(card.getByText('None. A composite model')).toBeVisible();
  await card.getByRole('button', { name: 'Add a composite model' }).click();
  const form = page.getByRole('form', { name: 'Add a composite model to ab-gw' });
  await form.getByLabel('Name').fill('split');
  // The fields follow the kind: a judge and rubric for best, none for an A/B test.
  await form.getByLabel('Kind').selectOption('best');
  await expect(form.getByLabel('Judge')).toBeVisible();
  await expect(form.getByLabel('Rubric')).toBeVisible();
  await form.getByLabel('Kind').selectOption('ab');
  await expect(form.getByLabel('Judge')).toHaveCount(0);
  await expect(form.getByLabel('Sticky')).toHaveCount(0);

  // Ratios that do not add up to 1 are refused, under the members field.
  const members = form.getByLabel('Members');
  await members.fill('a:ab-a=0.7\nb:ab-b=0.2');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(members.locator('xpath=..').getByRole('alert')).toContainText('add up to 1');
  await expect(members).toHaveAttribute('aria-invalid', 'true');
  await members.fill('a:ab-a=0.8\nb:ab-b=0.2');
  await form.getByRole('button', { name: 'Save' }).click();

  let composite = card.getByTestId('composite-split');
  await expect(composite).toBeVisible();
  await expect(composite).toContainText('ab');
  await expect(composite.getByRole('list', { name: 'Members of split' })).toContainText('a → ab-a · 80 %');
  await expect(composite.getByRole('list', { name: 'Members of split' })).toContainText('b → ab-b · 20 %');

  // Edited in place: the members start as typed, one a line.
  await composite.getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('form', { name: 'Edit split' });
  await expect(edit.getByLabel('Members')).toHaveValue('a:ab-a=0.8\nb:ab-b=0.2');
  await edit.getByLabel('Members').fill('a:ab-a=0.5\nb:ab-b=0.5');
  await edit.getByRole('button', { name: 'Save' }).click();
  composite = page.getByTestId('gateway-ab-gw').getByTestId('composite-split');
  await expect(composite.getByRole('list', { name: 'Members of split' })).toContainText('a → ab-a · 50 %');

  // Chosen in the playground, the composite answers as one of its variants.
  await page.goto('/playground');
  await hydrated(page);
  const column = page.getByTestId('column').first();
  await column.getByLabel('Model').selectOption({ label: 'split (ab composite) via ab-gw' });
  await page.getByRole('button', { name: 'Remove column 2' }).click();
  await page.getByLabel('User message').fill('which one of you?');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(column.getByTestId('tokens')).toHaveText(/^\d+ → \d+$/);
  await expect(column.getByTestId('answer')).not.toBeEmpty();
  await expect(column.getByTestId('answer-error')).toHaveCount(0);
  await expect(column.getByTestId('variant')).toHaveText(/^Variant (a|b)$/);
  const variant = (await column.getByTestId('variant').textContent()).replace('Variant ', '').trim();

  // The variant breakdown counts it (the log row is written a moment after the answer).
  await expect(async () => {
    await page.goto('/gateways');
    await hydrated(page);
    const split = page.getByTestId('gateway-ab-gw').getByTestId('composite-split');
    await split.getByRole('button', { name: 'Variants' }).click();
    const row = split.getByTestId('variants').getByRole('row', { name: new RegExp(`^${variant} `) });
    await expect(row.getByRole('cell').first()).toHaveText('1', { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await page.screenshot({ path: `${SHOTS}/composites-1280.png`, fullPage: true });

  // A multi composite that waits for all: the playground shows every member's answer by name.
  await page.getByTestId('gateway-ab-gw').getByRole('button', { name: 'Add a composite model' }).click();
  const multi = page.getByRole('form', { name: 'Add a composite model to ab-gw' });
  await multi.getByLabel('Name').fill('both');
  await multi.getByLabel('Kind').selectOption('multi');
  await multi.getByLabel('Mode').selectOption('waitforall');
  await multi.getByLabel('Members').fill('ab-a\nab-b');
  await multi.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('gateway-ab-gw').getByTestId('composite-both')).toBeVisible();
  await page.goto('/playground');
  await hydrated(page);
  const all = page.getByTestId('column').first();
  await all.getByLabel('Model').selectOption({ label: 'both (multi composite) via ab-gw' });
  await page.getByRole('button', { name: 'Remove column 2' }).click();
  await page.getByLabel('User message').fill('all of you');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(all.getByTestId('answer')).toContainText('[ab-a]');
  await expect(all.getByTestId('answer')).toContainText('[ab-b]');
  await expect(all.getByTestId('answer-error')).toHaveCount(0);
  await page.goto('/gateways');
  await hydrated(page);
  const both = page.getByTestId('gateway-ab-gw').getByTestId('composite-both');
  await both.getByRole('button', { name: 'Remove' }).click();
  await both.getByRole('button', { name: 'Confirm remove' }).click();
  await expect(page.getByTestId('gateway-ab-gw').getByTestId('composite-both')).toHaveCount(0);

  // Removed with confirmation.
  composite = page.getByTestId('gateway-ab-gw').getByTestId('composite-split');
  await composite.getByRole('button', { name: 'Remove' }).click();
  await composite.getByRole('button', { name: 'Confirm remove' }).click();
  await expect(page.getByTestId('gateway-ab-gw').getByTestId('composite-split')).toHaveCount(0);
  await expect(page.getByTestId('gateway-ab-gw').getByText('None. A composite model')).toBeVisible();

  await deleteGateway(page, 'ab-gw');
  await deleteEndpoint(page, 'ab-a');
  await deleteEndpoint(page, 'ab-b');
  expect(errors).toEqual([]);
});
