// How the console reaches a browser over a slow link (issue 19, delivery): its WASM, JS and CSS
// come compressed and content-hashed, kept a year; a repeat visit takes them from the cache.
// Measured, not asserted, on a throttled link (10 Mbit/s, 40 ms): the WASM's transfer size and
// how long the sign-in page takes to become interactive, cold. The figures that matter are the
// release build's: `E2E_BUILD=release end2end/run.sh tests/delivery.spec.mjs`.
import { test, expect } from '@playwright/test';
import { EMAIL, PASSWORD, hydrated } from './helpers.mjs';

/** Throttles `page` to the link: 10 Mbit/s down and up, 40 ms. */
async function throttled(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 40, downloadThroughput: 10e6 / 8, uploadThroughput: 10e6 / 8,
  });
  return cdp;
}

test('the console assets come compressed and hashed, and a repeat visit fetches the script and styles from the cache', async ({ page }) => {
  const cdp = await throttled(page);
  const transferred = new Map();
  const urls = new Map();
  cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
  cdp.on('Network.loadingFinished', (e) => transferred.set(urls.get(e.requestId), e.encodedDataLength));
  const assets = [];
  page.on('response', (r) => { if (new URL(r.url()).pathname.startsWith('/pkg/')) assets.push(r); });

  const started = Date.now();
  await page.goto('/login');
  await hydrated(page);
  const interactive = Date.now() - started;

  const wasm = assets.find((r) => r.url().endsWith('.wasm'));
  expect(wasm, 'the page loads its WASM').toBeTruthy();
  for (const asset of assets) {
    expect(new URL(asset.url()).pathname).toMatch(/^\/pkg\/admin\.[0-9a-f]{16}\.(js|wasm|css)$/);
    expect(asset.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers()['content-encoding']).toBe('br');
  }
  const wasmBytes = transferred.get(wasm.url());
  console.log(`delivery: WASM ${wasmBytes} bytes transferred; sign-in page interactive after ${interactive} ms cold (10 Mbit/s, 40 ms)`);
  test.info().annotations.push({ type: 'delivery', description: `wasm_transfer_bytes=${wasmBytes} cold_interactive_ms=${interactive}` });

  // A repeat visit (another page, not a reload): the assets come from the browser's cache.
  const repeat = new Map();
  const cached = new Set();
  cdp.on('Network.requestWillBeSent', (e) => {
    if (new URL(e.request.url).pathname.startsWith('/pkg/')) repeat.set(e.requestId, e.request.url);
  });
  cdp.on('Network.requestServedFromCache', (e) => cached.add(e.requestId));
  await page.goto('/login?again=1');
  await hydrated(page);
  expect(repeat.size, 'the page still loads its assets').toBeGreaterThan(0);
  // The script and stylesheet at least; whether Chromium keeps the WASM depends on its size
  // against the (in-memory, for a test profile) cache, so it is reported, not asserted.
  const refetched = [...repeat].filter(([id]) => !cached.has(id)).map(([, url]) => url);
  expect(refetched.filter((url) => !url.endsWith('.wasm'))).toEqual([]);
  console.log(`delivery: on a repeat visit the WASM came from ${refetched.length ? 'the network' : 'the cache'}`);
});

test('the dashboard becomes interactive on a cold cache over a slow link (measured)', async ({ browser }) => {
  const context = await browser.newContext();
  // Signed in without loading a page, so that nothing is cached when the dashboard loads.
  const signedIn = await context.request.post('/login', { form: { email: EMAIL, password: PASSWORD } });
  expect(signedIn.ok()).toBe(true);
  const page = await context.newPage();
  await throttled(page);
  const started = Date.now();
  await page.goto('/');
  await hydrated(page);
  const interactive = Date.now() - started;
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  console.log(`delivery: dashboard interactive after ${interactive} ms cold (10 Mbit/s, 40 ms)`);
  test.info().annotations.push({ type: 'delivery', description: `dashboard_cold_interactive_ms=${interactive}` });
  await context.close();
});
