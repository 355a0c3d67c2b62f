// The admin console: every section has its own address and is reached from the console
// menu (on a desktop and on a phone), leaders and members are refused every section, the
// community settings are saved and audited, and the public privacy page reads the same
// signed out in German and English.
import { expect, test, type Page } from '@playwright/test';
import { query, signIn, waitForHydration } from './support';

const SECTIONS: [string, string][] = [
  ['status', 'Status'],
  ['discord', 'Discord'],
  ['servers', 'Game servers'],
  ['identities', 'Identities'],
  ['people', 'People and roles'],
  ['privacy', 'Privacy and retention'],
  ['audit', 'Audit log'],
];

async function visitEverySection(page: Page): Promise<void> {
  const menu = page.getByTestId('console-menu');
  for (const [section, name] of SECTIONS) {
    await menu.getByRole('link', { name, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`/admin/${section}$`));
    await expect(page.getByTestId('admin')).toHaveAttribute('data-section', section);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
    await expect(menu.getByRole('link', { name, exact: true })).toHaveAttribute('aria-current', 'page');
  }
}

test('an admin reaches every console section from the menu', async ({ page }) => {
  await signIn(page, 'admin', '/admin');
  await expect(page.getByTestId('admin')).toHaveAttribute('data-section', 'status');
  await visitEverySection(page);
});

test('on a phone the console menu scrolls sideways and reaches every section', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, 'admin', '/admin');
  const menu = page.getByTestId('console-menu');
  // One row of tabs, wider than the screen, inside a box that is not.
  const box = await menu.boundingBox();
  expect(box?.width ?? 0).toBeLessThanOrEqual(390);
  const wide = await menu.evaluate((el) => el.scrollWidth > el.clientWidth);
  expect(wide).toBe(true);
  await visitEverySection(page);
  // Nothing in a section is wider than the phone.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(overflow).toBeLessThanOrEqual(390);
});

for (const role of ['leader', 'member'] as const) {
  test(`a ${role} is refused every console section`, async ({ page }) => {
    await signIn(page, role);
    for (const path of ['/admin', ...SECTIONS.map(([section]) => `/admin/${section}`)]) {
      const response = await page.goto(path);
      expect(response?.status(), path).toBe(403);
      await expect(page.getByTestId('admin'), path).toHaveCount(0);
    }
  });
}

test('an admin sets the time zone and retention, and both show on the privacy page and in the audit log', async ({ page, browser }) => {
  await signIn(page, 'admin', '/admin/privacy');
  const settings = page.getByTestId('community-settings');
  await expect(page.getByTestId('zone-note')).toContainText('Europe/Berlin');
  await settings.getByTestId('timezone-pick').selectOption('Europe/Lisbon');
  await settings.getByTestId('retention-days').fill('90');
  await settings.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByTestId('settings-saved')).toBeVisible();
  await expect(page.getByTestId('zone-note')).toContainText('Europe/Lisbon');
  expect(await query('select timezone, bronze_retention_days from app.community_settings')).toEqual([
    { timezone: 'Europe/Lisbon', bronze_retention_days: 90 },
  ]);

  // The public page follows at once, for a visitor who is not signed in.
  const visitor = await browser.newPage();
  await visitor.goto('/privacy');
  await expect(visitor.getByTestId('retention')).toHaveText(
    'Raw events are deleted 90 days after they were processed; sessions and KPIs stay.',
  );
  await visitor.close();

  await page.goto('/admin/audit');
  await waitForHydration(page);
  const latest = page.getByTestId('audit-table').locator('tbody tr').first();
  await expect(latest).toHaveAttribute('data-action', 'community.settings');
  await expect(latest).toContainText('Europe/Lisbon');

  // Back to the configuration, so the other tests see the demo as it was.
  await page.goto('/admin/privacy');
  await waitForHydration(page);
  await settings.getByTestId('timezone-pick').selectOption('');
  await settings.getByTestId('retention-days').fill('');
  await settings.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByTestId('zone-note')).toContainText('Europe/Berlin');
  expect(await query('select timezone, bronze_retention_days from app.community_settings')).toEqual([
    { timezone: null, bronze_retention_days: null },
  ]);
});

test('the privacy page is readable signed out, in German and in English', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('sign-in')).toBeVisible();
  await page.getByTestId('privacy-link').click();
  await expect(page).toHaveURL(/\/privacy$/);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Privacy: what Guildhall collects');
  await expect(page.getByTestId('never')).toContainText('The content of messages: never stored, logged or passed on.');
  await expect(page.getByTestId('retention')).toHaveText(
    'Raw events are deleted 400 days after they were processed; sessions and KPIs stay.',
  );
  await page.getByRole('group', { name: 'Language' }).getByRole('button', { name: 'DE' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Datenschutz: was Guildhall erfasst');
  await expect(page.getByTestId('never')).toContainText('Der Inhalt von Nachrichten: nie gespeichert, nie protokolliert, nie weitergegeben.');
  await expect(page.getByTestId('retention')).toHaveText(
    'Rohdaten werden 400 Tage nach ihrer Verarbeitung gelöscht; Sitzungen und Kennzahlen bleiben.',
  );
  // Read in German from the start too (the cookie the switch set), before hydration.
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Datenschutz: was Guildhall erfasst');
});
