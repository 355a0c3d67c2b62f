// Browser tests against a running Guildhall (started by scripts/e2e.sh) and its database.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './tests',
  // One server and one database: tests run one after another.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  // Generous: a debug wasm bundle hydrates slowly on a loaded 2-core machine.
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    baseURL: process.env.E2E_BASE_URL ?? 'http://127.0.0.1:3900',
    locale: 'en-US',
    trace: 'retain-on-failure',
    // Browsers cannot be downloaded here: use Debian's chromium.
    launchOptions: {
      executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
