// Shared helpers: demo sign-in, waiting for hydration, reading the database and running a
// pipeline job.
import { execFileSync } from 'node:child_process';
import { expect, type Page } from '@playwright/test';
import { Client } from 'pg';

export type Role = 'admin' | 'leader' | 'member';

/** The e2e database (`scripts/e2e.sh` sets it). */
const E2E_DATABASE_URL = process.env.E2E_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/guildhall_e2e';

/** What the Content-Security-Policy blocked on each page, as the console reported it. */
const cspViolations = new WeakMap<Page, string[]>();

/** Starts recording the page's CSP violations (once per page). */
export function watchCsp(page: Page): string[] {
  let seen = cspViolations.get(page);
  if (!seen) {
    const list: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Content-Security-Policy/i.test(message.text())) list.push(message.text());
    });
    cspViolations.set(page, list);
    seen = list;
  }
  return seen;
}

/**
 * Signs the page's browser context in as the demo user of `role` with the demo page's
 * button (a form POST), and lands on `next`; does not wait for hydration.
 */
export async function signInWithoutHydration(page: Page, role: Role | 'outsider', next = '/'): Promise<void> {
  watchCsp(page);
  await page.goto(`/auth/demo?next=${encodeURIComponent(next)}`);
  await page.locator(`button[data-role="${role}"]`).click();
  if (role !== 'outsider') await page.waitForURL((url) => !url.pathname.startsWith('/auth/'));
}

/** Signs the page's browser context in as the demo user of `role`. */
export async function signIn(page: Page, role: Role, next = '/'): Promise<void> {
  await signInWithoutHydration(page, role, next);
  await waitForHydration(page);
}

/**
 * Waits until the wasm bundle has hydrated the page (an Effect sets `data-hydrated`), and
 * checks that the Content-Security-Policy blocked nothing on the way.
 */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator('.app[data-hydrated="true"]')).toBeAttached({ timeout: 20_000 });
  expect(watchCsp(page)).toEqual([]);
}

/**
 * Runs one pipeline job with the real binary, as `serve`'s scheduler does when the database
 * wakes it (the e2e server runs with the scheduler off, so tests decide when jobs run).
 */
export function runJob(job: string): void {
  const bin = process.env.GUILDHALL_BIN;
  if (!bin) throw new Error('GUILDHALL_BIN is not set: run the tests with `make test-e2e`');
  execFileSync(bin, ['run-job', job], {
    env: { ...process.env, DATABASE_URL: E2E_DATABASE_URL },
    stdio: 'pipe',
  });
}

/**
 * Gives a game server a new HTTP log token with `guildhall servers regenerate-token` and
 * returns it: tokens are stored only as their hash, so this is the way to learn one.
 */
export function regenerateLogToken(server: string): string {
  const bin = process.env.GUILDHALL_BIN;
  if (!bin) throw new Error('GUILDHALL_BIN is not set: run the tests with `make test-e2e`');
  const said = execFileSync(bin, ['servers', 'regenerate-token', server], {
    env: { ...process.env, DATABASE_URL: E2E_DATABASE_URL },
    stdio: 'pipe',
  }).toString();
  const url = said.match(/\/ingest\/logs\/([0-9a-f]{64})/);
  if (!url) throw new Error(`no log URL in: ${said}`);
  return url[1];
}

/** Runs one query against the e2e database. */
export async function query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({
    connectionString: E2E_DATABASE_URL,
  });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export interface DauDay {
  total: number;
  voice: number;
}

/** `gold.daily_active_users` for every day from `from` to `to`; days without a row are 0. */
export async function dauFromDb(from: string, to: string): Promise<Map<string, DauDay>> {
  const rows = await query<{ day: string; dau_total: number; dau_voice: number }>(
    `select day::text as day, dau_total, dau_voice
       from gold.daily_active_users where day between $1::date and $2::date`,
    [from, to],
  );
  const byDay = new Map<string, DauDay>();
  for (const day of daysBetween(from, to)) byDay.set(day, { total: 0, voice: 0 });
  for (const row of rows) byDay.set(row.day, { total: row.dau_total, voice: row.dau_voice });
  return byDay;
}

/** The ISO days from `from` to `to`, inclusive. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let d = new Date(`${from}T00:00:00Z`); d <= new Date(`${to}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + 1)) {
    days.push(d.toISOString().slice(0, 10));
  }
  return days;
}

/** `day` moved by `n` days. */
export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** What the overview's table and chart show, by day. */
export async function shownDau(page: Page): Promise<{ table: Map<string, DauDay>; chart: Map<string, number> }> {
  const table = new Map<string, DauDay>();
  const rows = await page.locator('[data-testid="dau-table"] tbody tr[data-day]').evaluateAll((trs) =>
    trs.map((tr) => ({
      day: tr.getAttribute('data-day') ?? '',
      total: Number(tr.querySelector('[data-dau-total]')?.getAttribute('data-dau-total')),
      voice: Number(tr.querySelector('[data-dau-voice]')?.getAttribute('data-dau-voice')),
      totalText: tr.querySelector('[data-dau-total]')?.textContent?.trim() ?? '',
    })),
  );
  for (const row of rows) {
    // The visible text says the same as the attribute (no thousands here: small community).
    expect(row.totalText.replace(/[.,]/g, '')).toBe(String(row.total));
    table.set(row.day, { total: row.total, voice: row.voice });
  }
  const chart = new Map<string, number>();
  const bars = await page.locator('[data-testid="dau-chart"] rect[data-day]').evaluateAll((rects) =>
    rects.map((r) => [r.getAttribute('data-day') ?? '', Number(r.getAttribute('data-value'))] as const),
  );
  for (const [day, value] of bars) chart.set(day, value);
  return { table, chart };
}

/** Asserts that the overview shows exactly the database's numbers for `from`…`to`. */
export async function expectOverviewMatchesDb(page: Page, from: string, to: string): Promise<void> {
  const expected = await dauFromDb(from, to);
  await expect(page.locator('[data-testid="dau-table"] tbody tr[data-day]')).toHaveCount(expected.size);
  await expect(page.locator('[data-testid="dau-table"] tbody tr[data-day]').first()).toHaveAttribute('data-day', from);
  await expect(page.locator('[data-testid="dau-table"] tbody tr[data-day]').last()).toHaveAttribute('data-day', to);
  const { table, chart } = await shownDau(page);
  expect([...table.entries()]).toEqual([...expected.entries()]);
  expect([...chart.entries()]).toEqual([...expected.entries()].map(([day, v]) => [day, v.total]));

  const totals = [...expected.values()].map((v) => v.total);
  const peak = Math.max(...totals);
  await expect(page.getByTestId('peak-dau').locator('.figure-value')).toHaveText(String(peak));
  const average = totals.reduce((a, b) => a + b, 0) / totals.length;
  await expect(page.getByTestId('avg-dau').locator('.figure-value')).toHaveText(average.toFixed(1));
}
