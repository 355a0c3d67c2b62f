// German and English: chosen from the browser, switched live, kept in the `lang` cookie.
import { expect, test } from '@playwright/test';
import { signIn, signInWithoutHydration, waitForHydration } from './support';

test('switching the language changes the text at once and survives a reload', async ({ page }) => {
  await signIn(page, 'leader');
  const nav = page.getByRole('navigation');
  await expect(nav.getByRole('link', { name: 'Overview' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');

  // After hydration the switch happens in the page: a full load would drop this marker.
  await page.evaluate(() => ((window as unknown as { e2eMarker: string }).e2eMarker = 'still here'));
  await page.getByRole('button', { name: 'DE', exact: true }).click();
  await expect(nav.getByRole('link', { name: 'Übersicht' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
  await expect(page.getByRole('columnheader', { name: 'DAU gesamt' })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { e2eMarker?: string }).e2eMarker)).toBe('still here');

  await page.reload();
  await expect(nav.getByRole('link', { name: 'Übersicht' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');

  // The switcher is interactive once the page has hydrated.
  await waitForHydration(page);
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await expect(nav.getByRole('link', { name: 'Overview' })).toBeVisible();
  await page.reload();
  await expect(nav.getByRole('link', { name: 'Overview' })).toBeVisible();
});

test.describe('with a German browser', () => {
  test.use({ locale: 'de-DE' });

  test('the page is German without any cookie', async ({ page }) => {
    await page.goto('/');
    await expect(page.locator('html')).toHaveAttribute('lang', 'de');
    await expect(page.getByRole('link', { name: 'Mit Discord anmelden' })).toBeVisible();
  });
});

test.describe('before the page has hydrated', () => {
  test('the language buttons still switch the language and stay on the same page', async ({ page }) => {
    // Without the wasm bundle the page never hydrates: the state of every page before it has.
    await page.route(/\/pkg\/guildhall\.[0-9a-f]+\.wasm$/, (route) => route.abort());
    await signInWithoutHydration(page, 'leader', '/?from=2026-01-01&to=2026-01-31');
    await expect(page.getByRole('navigation').getByRole('link', { name: 'Overview' })).toBeVisible();
    await page.getByRole('button', { name: 'DE', exact: true }).click();
    await expect(page).toHaveURL(/\/\?from=2026-01-01&to=2026-01-31$/);
    await expect(page.locator('html')).toHaveAttribute('lang', 'de');
    await expect(page.getByRole('navigation').getByRole('link', { name: 'Übersicht' })).toBeVisible();
    await expect(page.locator('.app[data-hydrated="true"]')).toHaveCount(0);
  });
});
