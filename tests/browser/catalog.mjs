// Drives headless Chromium through the web catalog (`meshkit catalog serve`)
// as a person would, and checks what the pages show. Run by
// tests/tests/catalog_web_broker.rs, which starts the products and the
// server and says what to expect:
//
//   node catalog.mjs BASE_URL PHASE ARTIFACT_DIR SPEC_JSON
//
// PHASE `explore`: the list shows every product with its status; a search by
// a field name finds its product alone; the product page shows the owner,
// the fields table and the lineage graph naming the upstream product.
// PHASE `stopped`: reloading the list shows SPEC.product stopped within
// SPEC.withinMs.
// PHASE `json`: prints the JSON forms of the list and of each product page.
// Screenshots (PNG) go to ARTIFACT_DIR. Any failed check exits 1 with a
// message naming what was expected and what the page showed.

import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(path.join(process.env.MESHKIT_PLAYWRIGHT_MODULES, 'playwright-core'));

const [, , base, phase, artifacts, specJson] = process.argv;
const spec = JSON.parse(specJson);

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

async function statusOf(page, key) {
  const cell = page.locator(`tr[data-product="${key}"] .status`);
  if ((await cell.count()) === 0) {
    return null;
  }
  return cell.getAttribute('data-status');
}

async function listedKeys(page) {
  return page.locator('tr[data-product]').evaluateAll((rows) => rows.map((r) => r.dataset.product));
}

async function explore(page) {
  await page.goto(base);
  for (const [key, status] of Object.entries(spec.statuses)) {
    const shown = await statusOf(page, key);
    check(shown === status, `list: ${key} should be ${status}, shows ${shown}; rows: ${await listedKeys(page)}`);
    // The status is written out, not only coloured.
    const text = (await page.locator(`tr[data-product="${key}"] .status`).innerText()).trim();
    check(text === status, `list: ${key}'s status reads "${text}"`);
  }
  await page.screenshot({ path: path.join(artifacts, 'list.png'), fullPage: true });

  // Keyboard: the first Tab reaches the skip link to the main content.
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('href'));
  check(focused === '#main', `the first Tab should focus the skip link to #main, focused ${focused}`);

  // Search by a field name, typed into the labelled box and sent with Enter.
  const box = page.getByLabel(spec.searchLabel, { exact: true });
  await box.fill(spec.field);
  await Promise.all([page.waitForURL(/[?&]q=/), box.press('Enter')]);
  const found = await listedKeys(page);
  check(
    JSON.stringify(found) === JSON.stringify([spec.fieldProduct]),
    `search for field "${spec.field}" should find only ${spec.fieldProduct}, found ${JSON.stringify(found)}`,
  );
  await page.screenshot({ path: path.join(artifacts, 'search.png'), fullPage: true });

  // The product page, reached through its link in the whole list.
  await page.goto(base);
  await page.locator(`tr[data-product="${spec.product}"] a`).first().click();
  await page.waitForLoadState();
  const owner = (await page.locator('dd.owner').first().innerText()).trim();
  check(owner === spec.owner, `product page: owner should be ${spec.owner}, shows ${owner}`);
  const fields = page.locator('table.fields');
  check((await fields.count()) > 0, 'product page: no fields table');
  const names = await fields.locator('tbody tr th, tbody tr td:first-child').allInnerTexts();
  check(
    names.some((n) => n.trim() === spec.productField),
    `product page: field ${spec.productField} not in the fields tables (${names.join(', ')})`,
  );
  const graph = page.locator('figure.lineage svg');
  check((await graph.count()) === 1, 'product page: no lineage graph');
  const drawn = await graph.textContent();
  check(
    drawn.includes(spec.upstreamName),
    `product page: the lineage graph does not show the upstream ${spec.upstreamName}: ${drawn}`,
  );
  await page.screenshot({ path: path.join(artifacts, 'product.png'), fullPage: true });
  console.log(JSON.stringify({ phase, listed: Object.keys(spec.statuses), found, owner }));
}

async function stopped(page) {
  const started = Date.now();
  let shown = null;
  // Reload as a person would, until the status changes or the time is up.
  while (Date.now() - started <= spec.withinMs) {
    await page.goto(base);
    shown = await statusOf(page, spec.product);
    if (shown === 'stopped') {
      await page.screenshot({ path: path.join(artifacts, 'stopped.png'), fullPage: true });
      console.log(JSON.stringify({ phase, product: spec.product, afterMs: Date.now() - started }));
      return;
    }
    await page.waitForTimeout(100);
  }
  throw new Error(`${spec.product} still shows ${shown} ${spec.withinMs} ms after it stopped`);
}

async function json(page) {
  const get = async (url) => {
    const response = await page.request.get(url, { headers: { Accept: 'application/json' } });
    check(response.ok(), `${url} answered ${response.status()}`);
    check(
      (response.headers()['content-type'] || '').startsWith('application/json'),
      `${url} is not JSON: ${response.headers()['content-type']}`,
    );
    return response.json();
  };
  const list = await get(base);
  const products = {};
  for (const key of spec.products) {
    products[key] = await get(`${base}products/${key}`);
  }
  console.log(JSON.stringify({ list, products }));
}

const browser = await chromium.launch({
  executablePath: process.env.MESHKIT_CHROMIUM || '/usr/bin/chromium',
  // The machine's network is closed: no background traffic, no first-run.
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const phases = { explore, stopped, json };
  check(phase in phases, `unknown phase ${phase}`);
  await phases[phase](page);
} catch (error) {
  console.error(`browser check failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
