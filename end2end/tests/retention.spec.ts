// The retention heatmap shows exactly gold.retention_cohorts, already in the server's HTML,
// and its CSV download holds the same rows.
import { expect, test } from '@playwright/test';
import { query, signIn, signInWithoutHydration } from './support';

interface Cell {
  cohort: string;
  k: number;
  size: number;
  active: number;
  percentage: string;
  partial: boolean;
}

async function cellsFromDb(): Promise<Cell[]> {
  return query<Cell>(
    `select cohort_month::text as cohort, months_after as k, cohort_size as size, active,
            percentage::text as percentage, partial
       from gold.retention_cohorts order by cohort_month, months_after`,
  );
}

test('the retention heatmap shows the cohorts as the database has them', async ({ page }) => {
  const expected = await cellsFromDb();
  expect(expected.length, 'the demo data has cohorts').toBeGreaterThan(3);
  await signIn(page, 'leader', '/retention');
  const heatmap = page.getByTestId('retention-heatmap');
  await expect(heatmap).toBeVisible();

  const cohorts = [...new Set(expected.map((cell) => cell.cohort))].sort().reverse();
  await expect(heatmap.locator('tbody tr[data-cohort]')).toHaveCount(cohorts.length);
  for (const cell of expected) {
    const td = heatmap.locator(`tr[data-cohort="${cell.cohort}"] td[data-k="${cell.k}"]`);
    await expect(td).toHaveAttribute('data-active', String(cell.active));
    await expect(td).toHaveAttribute('data-percentage', Number(cell.percentage).toFixed(2));
    await expect(td).toHaveText(`${Number(cell.percentage).toFixed(0)} %`);
    await expect(td).toHaveAttribute('title', new RegExp(`^${cell.active} / ${cell.size}`));
    if (cell.partial) await expect(td).toHaveClass(/partial/);
  }
});

test('the heatmap is in the server-rendered HTML, before any script runs', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signInWithoutHydration(page, 'leader', '/retention');
  const expected = await cellsFromDb();
  await expect(page.getByTestId('retention-heatmap').locator('td[data-active]')).toHaveCount(expected.length);
  await context.close();
});

test('the CSV download holds every cohort cell', async ({ page }) => {
  await signIn(page, 'leader', '/retention');
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download CSV' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('retention_cohorts.csv');
  const text = await (await file.createReadStream()).toArray();
  const lines = Buffer.concat(text).toString('utf8').trim().split('\n');
  expect(lines[0]).toBe('cohort_month,months_after,cohort_size,active,percentage,partial');
  const expected = await cellsFromDb();
  expect(lines.slice(1)).toEqual(
    expected.map((c) => [c.cohort, c.k, c.size, c.active, c.percentage, c.partial ? 't' : 'f'].join(',')),
  );
});

test('a member is refused the retention page and its download', async ({ page }) => {
  await signIn(page, 'member');
  const response = await page.goto('/retention');
  expect(response?.status()).toBe(403);
  const csv = await page.request.get('/export/retention_cohorts.csv');
  expect(csv.status()).toBe(403);
});
