// German and English: chosen from the browser, switched live, kept in the `lang` cookie.
import { expect, test } from '@playwright/test';
import { signIn, waitForHydration } from './support';

test('switching the language changes the text at once and survives a reload', async ({ page }) => {
  await signIn(page, 'leader');
  const nav = page.getByRole('navigation');
  await expect(nav.getByRole('link', { name: 'Overview' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');

  await page.getByRole('button', { name: 'DE', exact: true }).click();
  await expect(nav.getByRole('link', { name: 'Übersicht' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
  await expect(page.getByRole('columnheader', { name: 'DAU gesamt' })).toBeVisible();

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
