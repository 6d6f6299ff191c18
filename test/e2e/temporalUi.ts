// Drives the Temporal Web UI with Debian's Chromium (never a downloaded browser): finds a run by
// its search attributes, opens it and reads what the page shows. Keeps a screenshot.
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.EDGESHIP_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set EDGESHIP_CHROMIUM`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface UiRunCheck {
  listedIds: string[];
  runPageText: string;
  listScreenshot: string;
  runScreenshot: string;
}

/**
 * Lists runs with a visibility query, opens the one with this workflow id, shows its search
 * attributes and waits until the page shows `expectOnRunPage` (it renders skeletons first).
 */
export async function findRunInUi(uiUrl: string, namespace: string, visibilityQuery: string, workflowId: string, expectOnRunPage: string, artifactsDir: string): Promise<UiRunCheck> {
  mkdirSync(artifactsDir, { recursive: true });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${uiUrl}/namespaces/${namespace}/workflows?query=${encodeURIComponent(visibilityQuery)}`, { waitUntil: 'networkidle' });
    const link = page.locator(`a:has-text("${workflowId}")`).first();
    await link.waitFor({ timeout: 30_000 });
    const listedIds = await page.locator('a[href*="/workflows/deploy-"]').allInnerTexts();
    const listScreenshot = path.join(artifactsDir, 'temporal-ui-list.png');
    await page.screenshot({ path: listScreenshot, fullPage: true });
    await link.click();
    await page.waitForLoadState('networkidle');
    await page.getByRole('heading', { name: workflowId }).first().waitFor({ timeout: 30_000 });
    // The run's typed search attributes have their own tab on the run page.
    await page.getByText('Search Attributes', { exact: true }).first().click();
    const runScreenshot = path.join(artifactsDir, 'temporal-ui-run.png');
    try {
      await page.getByText(expectOnRunPage).first().waitFor({ timeout: 30_000 });
    } finally {
      await page.screenshot({ path: runScreenshot, fullPage: true });
    }
    const runPageText = await page.locator('body').innerText();
    return { listedIds: listedIds.map((t) => t.trim()), runPageText, listScreenshot, runScreenshot };
  } finally {
    await browser.close();
  }
}
