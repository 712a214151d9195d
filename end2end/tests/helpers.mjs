// Steps the console's browser tests share: signing in, waiting for hydration, and making the
// endpoint and gateway a test needs, the way an admin would, through the pages.
import { expect } from '@playwright/test';

export const EMAIL = process.env.E2E_EMAIL ?? 'e2e@example.com';
export const PASSWORD = process.env.E2E_PASSWORD ?? 'e2e password 123';
export const MOCK_URL = process.env.MOCK_URL;
export const SHOTS = 'artifacts';

/** Signs in as the bootstrapped admin and lands on the dashboard. */
export async function signIn(page) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
}

/** Waits until the WASM has hydrated the page (an effect marks the body). */
export async function hydrated(page) {
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 15_000 });
}

/** Adds an OpenAI-shaped endpoint named `name` at the mock upstream, on the Endpoints page. */
export async function addEndpoint(page, name, apiKey = 'sk-e2e-not-shown') {
  await page.goto('/endpoints');
  await hydrated(page);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Model').fill('gpt-4o-mini');
  await page.getByLabel('Base URL').fill(`${MOCK_URL}/v1`);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId(`endpoint-${name}`)).toBeVisible();
}

/** Adds a gateway named `name` over `endpoints` (the CLI's notation), on the Gateways page. */
export async function addGateway(page, name, endpoints) {
  await page.goto('/gateways');
  await hydrated(page);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Endpoints').fill(endpoints);
  await page.getByRole('button', { name: 'Add gateway' }).click();
  await expect(page.getByTestId(`gateway-${name}`)).toBeVisible();
}
