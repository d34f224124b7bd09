// Loads the server's page (GET /) in Debian's headless Chromium, submits the
// repo's example article and checks the rendered DOM; saves a screenshot.
// Usage: node page_test.mjs http://HOST:PORT/ ARTICLE_FILE SCREENSHOT_PNG
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [url, articleFile, screenshot] = process.argv.slice(2);
const article = readFileSync(articleFile, "utf8");
const fail = (msg) => { console.error("FAIL: " + msg); process.exitCode = 1; };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  // A phone-sized window: the page must be readable there.
  const page = await browser.newPage({ viewport: { width: 412, height: 915 }, deviceScaleFactor: 1 });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => {
    if (!r.url().startsWith(url)) errors.push("request outside the server: " + r.url());
  });
  await page.goto(url);
  await page.fill("#text", article);
  await page.selectOption("#sentences", "2");
  await page.click("#analyze");
  await page.waitForSelector("#results:not([hidden])", { timeout: 120000 });

  const dom = await page.evaluate(() => ({
    dir: document.getElementById("article").dir,
    summaryItems: document.querySelectorAll("#summary li").length,
    highlighted: [...document.querySelectorAll("#article .sum")].map((n) => n.textContent).join(""),
    marks: [...document.querySelectorAll("#article mark.ent")].map((m) => [m.firstChild.textContent, m.dataset.label]),
    groups: [...document.querySelectorAll("#groups tbody tr")].map((r) => [...r.cells].map((c) => c.textContent)),
    mentions: document.querySelectorAll("#mentions tbody tr").length,
    status: document.getElementById("status").textContent,
    overflow: document.documentElement.scrollWidth > window.innerWidth + 1,
  }));
  console.log(JSON.stringify(dom));
  if (dom.dir !== "rtl") fail("the Arabic article is not right to left: " + dom.dir);
  if (dom.summaryItems !== 2) fail("expected 2 summary sentences, got " + dom.summaryItems);
  if (!dom.highlighted.startsWith("قالت المستشارة الألمانية")) fail("the lead sentence is not highlighted");
  const has = (name, label) => dom.marks.some(([t, l]) => t.includes(name) && l === label);
  if (!has("ميركل", "PER")) fail("Merkel is not marked PER");
  if (!has("تونس", "LOC")) fail("Tunisia is not marked LOC");
  if (!has("الأمم المتحدة", "ORG")) fail("the United Nations is not marked ORG");
  const group = dom.groups.find((g) => g[0] === "تونس");
  if (!group || group[1] !== "LOC" || Number(group[2]) < 2) fail("no LOC group for Tunisia with its mentions: " + JSON.stringify(group));
  if (dom.mentions !== dom.marks.length) fail("the mention table and the marks disagree");
  if (dom.overflow) fail("the page is wider than a phone screen");
  if (errors.length) fail("page errors: " + errors.join("; "));
  await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
