// The endpoints page in a real browser: add an endpoint pointing at the mock upstream (a
// refused field is shown next to it first), test its connection, delete it with confirmation.
// Screenshots at 1280 and 390 px wide go to end2end/artifacts/.
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { SHOTS, MOCK_URL, deleteEndpoint, hydrated, phoneShot, signIn, watchErrors } from './helpers.mjs';

test('add an endpoint, test its connection, edit it, delete it', async ({ page }) => {
  expect(MOCK_URL, 'end2end/run.sh starts the mock upstream').toBeTruthy();
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await page.goto('/endpoints');
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Endpoints' })).toBeVisible();
  await expect(page.getByText('No endpoints yet')).toBeVisible();

  // A name the server refuses: the error appears next to the Name field.
  await page.getByLabel('Name').fill('bad name!');
  await page.getByLabel('Model').fill('gpt-4o-mini');
  await page.getByLabel('Base URL').fill(`${MOCK_URL}/v1`);
  await page.getByLabel('API key').fill('sk-e2e-not-shown');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.locator('#endpoint-name-error')).toContainText('letters, digits');
  await expect(page.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true');

  await page.getByLabel('Name').fill('mock');
  await page.getByLabel('API key').fill('sk-e2e-not-shown');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  const row = page.getByTestId('endpoint-mock');
  await expect(row).toBeVisible();
  await expect(row.getByTestId('health')).toHaveText('Not tested yet');
  await expect(page.locator('body')).not.toContainText('sk-e2e-not-shown');
  // The form is emptied once the endpoint exists: the key does not linger in the page.
  await expect(page.getByLabel('API key')).toHaveValue('');
  await expect(page.getByLabel('Name')).toHaveValue('');

  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(row.getByTestId('probe')).toContainText('OK · 200');

  await expect(row.getByTestId('health')).toHaveText('Healthy');
  await page.screenshot({ path: `${SHOTS}/endpoints-1280.png`, fullPage: true });
  await phoneShot(page, 'endpoints');

  // Edit in place: the model changes; the blank key keeps the stored one.
  await row.getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('form', { name: 'Edit endpoint' });
  await expect(page.getByRole('heading', { name: 'Edit mock' })).toBeVisible();
  await expect(edit.getByLabel('Name')).toBeFocused();
  await expect(edit.getByLabel('Model')).toHaveValue('gpt-4o-mini');
  await expect(edit.getByLabel('Base URL')).toHaveValue(`${MOCK_URL}/v1`);
  await expect(edit.getByLabel('API key')).toHaveValue('');
  await edit.getByLabel('Model').fill('gpt-4o');
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('heading', { name: 'Add an endpoint' })).toBeVisible();
  await expect(row).toContainText('gpt-4o');
  await expect(row).not.toContainText('No API key');
  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(row.getByTestId('probe')).toContainText('OK · 200');

  // The provider's per-minute limits and the enabled switch: refused as a sentence when not a
  // number; kept when saved; removed when emptied.
  await row.getByRole('button', { name: 'Edit' }).click();
  await edit.getByLabel('Requests per minute').fill('-5');
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.locator('#endpoint-rpm_limit-error')).toHaveText('The requests per minute must be at least 1.');
  await edit.getByLabel('Requests per minute').fill('60');
  await edit.getByLabel('Enabled (gateways route to it)').uncheck();
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('heading', { name: 'Add an endpoint' })).toBeVisible();
  await row.getByRole('button', { name: 'Edit' }).click();
  await expect(edit.getByLabel('Requests per minute')).toHaveValue('60');
  await expect(edit.getByLabel('Enabled (gateways route to it)')).not.toBeChecked();
  await edit.getByLabel('Requests per minute').fill('');
  await edit.getByLabel('Enabled (gateways route to it)').check();
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('heading', { name: 'Add an endpoint' })).toBeVisible();
  await row.getByRole('button', { name: 'Edit' }).click();
  await expect(edit.getByLabel('Requests per minute')).toHaveValue('');
  await expect(edit.getByLabel('Enabled (gateways route to it)')).toBeChecked();
  await edit.getByRole('button', { name: 'Cancel' }).click();

  // The Azure fields show only for Azure, and the base URL's placeholder is the provider's own.
  await expect(page.getByTestId('azure-fields')).toBeHidden();
  await expect(page.getByLabel('Base URL')).toHaveAttribute('placeholder', 'https://api.openai.com/v1');
  await page.getByLabel('Provider').selectOption('azure_openai');
  await expect(page.getByLabel('Azure deployment')).toBeVisible();
  await page.getByLabel('Provider').selectOption('anthropic');
  await expect(page.getByTestId('azure-fields')).toBeHidden();
  await expect(page.getByLabel('Base URL')).toHaveAttribute('placeholder', 'https://api.anthropic.com');

  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(row.getByText('Delete mock?')).toBeVisible();
  await row.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(page.getByText('No endpoints yet')).toBeVisible();
  expect(errors).toEqual([]);
});

test('after an Azure endpoint is added, the emptied form is the first provider\'s again', async ({ page }) => {
  await signIn(page);
  await page.goto('/endpoints');
  await hydrated(page);
  const openAiPlaceholder = await page.getByLabel('Base URL').getAttribute('placeholder');
  await page.getByLabel('Provider').selectOption('azure_openai');
  await expect(page.getByLabel('Azure deployment')).toBeVisible();
  await page.getByLabel('Name').fill('azure-reset');
  await page.getByLabel('Model').fill('gpt-4o-mini');
  await page.getByLabel('Base URL').fill(`${MOCK_URL}`);
  await page.getByLabel('API key').fill('azure-e2e-key');
  await page.getByLabel('Azure deployment').fill('dep');
  await page.getByLabel('Azure api-version').fill('2024-10-21');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId('endpoint-azure-reset')).toBeVisible();
  await expect(page.getByLabel('Provider')).toHaveValue('openai');
  await expect(page.getByLabel('Azure deployment')).toBeHidden();
  await expect(page.getByLabel('Base URL')).toHaveAttribute('placeholder', openAiPlaceholder);
  await deleteEndpoint(page, 'azure-reset');
});

test('a Vertex AI endpoint asks for a service account and a project, and its connection works', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await page.goto('/endpoints');
  await hydrated(page);
  await expect(page.getByTestId('project-fields')).toBeHidden();
  await page.getByLabel('Provider').selectOption('vertex');
  await expect(page.getByLabel('Google Cloud project')).toBeVisible();
  await expect(page.getByLabel('Service account key (JSON)')).toBeVisible();
  await expect(page.getByLabel('Region')).toHaveAttribute('placeholder', 'global');

  // Something that is not a key file is refused under the key, without being shown back.
  await page.getByLabel('Name').fill('vertex');
  await page.getByLabel('Model').fill('gemini-2.5-flash');
  await page.getByLabel('Base URL').fill(`${MOCK_URL}/v1`);
  await page.getByLabel('Service account key (JSON)').fill('sk-not-a-key-file');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.locator('#endpoint-api_key-error')).toContainText('service account');
  await expect(page.locator('body')).not.toContainText('sk-not-a-key-file');

  // A key file whose tokens the mock issues; the project comes from it.
  const key = JSON.stringify({
    type: 'service_account',
    project_id: 'e2e-project',
    private_key_id: 'e2e-key',
    private_key: readFileSync(new URL('../../server/tests/fixtures/jwt/rsa-a.pem', import.meta.url), 'utf8'),
    client_email: 'e2e@e2e-project.iam.gserviceaccount.com',
    token_uri: `${MOCK_URL}/token`,
  });
  await page.getByLabel('Service account key (JSON)').fill(key);
  await page.getByLabel('Region').fill('us-central1');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  const row = page.getByTestId('endpoint-vertex');
  await expect(row).toBeVisible();
  await expect(page.locator('body')).not.toContainText('PRIVATE KEY');
  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(row.getByTestId('probe')).toContainText('OK · 200');
  await row.getByRole('button', { name: 'Edit' }).click();
  await expect(page.getByRole('form', { name: 'Edit endpoint' }).getByLabel('Google Cloud project')).toHaveValue('e2e-project');
  await page.getByRole('form', { name: 'Edit endpoint' }).getByRole('button', { name: 'Cancel' }).click();
  await deleteEndpoint(page, 'vertex');
  expect(errors).toEqual([]);
});

test('an Amazon Bedrock endpoint asks for an AWS access key, or none, and its connection works', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await page.goto('/endpoints');
  await hydrated(page);
  await page.getByLabel('Provider').selectOption('bedrock');
  await expect(page.getByLabel('AWS access key')).toBeVisible();
  await expect(page.getByText("Empty: the gateway host's AWS credentials")).toBeVisible();
  await expect(page.getByLabel('Region')).toHaveAttribute('placeholder', 'us-east-1');

  // Not ACCESS_KEY_ID:SECRET_ACCESS_KEY: refused under the key, without being shown back.
  await page.getByLabel('Name').fill('bedrock');
  await page.getByLabel('Model').fill('anthropic.claude-3-5-haiku-20241022-v1:0');
  await page.getByLabel('Base URL').fill(MOCK_URL);
  await page.getByLabel('AWS access key').fill('no-colon-secret');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.locator('#endpoint-api_key-error')).toContainText('ACCESS_KEY_ID');
  await expect(page.locator('body')).not.toContainText('no-colon-secret');

  await page.getByLabel('AWS access key').fill('AKIDE2E:e2e-secret-access-key');
  await page.getByLabel('Region').fill('eu-central-1');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  const row = page.getByTestId('endpoint-bedrock');
  await expect(row).toBeVisible();
  await expect(page.locator('body')).not.toContainText('e2e-secret-access-key');
  // The mock plays Bedrock's Converse API: the signed request is answered.
  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(row.getByTestId('probe')).toContainText('OK · 200');
  await deleteEndpoint(page, 'bedrock');
  expect(errors).toEqual([]);
});
