// The Content-Security-Policy in a real browser: pages hydrate under it (Leptos's hydration
// scripts carry the answer's nonce), nothing on them violates it, and an injected inline
// script is refused.
import { expect, test } from '@playwright/test';
import { signIn, waitForHydration, watchCsp } from './support';

test('pages hydrate under the Content-Security-Policy and nothing on them violates it', async ({ page }) => {
  const violations = watchCsp(page);
  const response = await page.goto('/');
  const headers = response?.headers() ?? {};
  const policy = headers['content-security-policy'] ?? '';
  const scriptSrc = policy
    .split(';')
    .map((directive) => directive.trim())
    .find((directive) => directive.startsWith('script-src'));
  expect(scriptSrc).toMatch(/^script-src 'self' 'nonce-[0-9a-f]{32}' 'wasm-unsafe-eval'$/);
  expect(policy).toContain("frame-ancestors 'none'");
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['cache-control']).toBe('no-store');
  await waitForHydration(page);

  await signIn(page, 'leader', '/members');
  for (const path of ['/retention', '/events', '/me']) {
    await page.goto(path);
    await waitForHydration(page);
  }
  expect(violations).toEqual([]);
});

test('an inline script without the nonce does not run', async ({ page }) => {
  const violations = watchCsp(page);
  await signIn(page, 'member', '/me');
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.__injected = true;';
    document.body.appendChild(script);
  });
  expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
  await expect.poll(() => violations.length).toBeGreaterThan(0);
});
