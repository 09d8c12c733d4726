// End to end in Debian's headless Chromium: a matter's receipt is printed, its QR code decoded with a real
// decoder (zbarimg), the rater opens that URL on a phone-sized screen and gives 非常不满意 with a reason; the
// unit's handler signs in, walks the case to its reply in the back office; the rater gets the reply by SMS (a
// real local HTTP receiver), opens their link and gives a verdict; the public results page shows the unit.
// axe-core checks the rater's pages for serious or critical violations. Screenshots go to out/.
//
// Environment: HCP_BIN (the haochaping binary), CHROMIUM (default /usr/bin/chromium).

import { spawn, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "out");
mkdirSync(out, { recursive: true });
const bin = process.env.HCP_BIN;
if (!bin) throw new Error("set HCP_BIN to the haochaping binary");
const axePath = join(here, "node_modules", "axe-core", "axe.min.js");
const APPLICANT_PHONE = "13712345678";

let failures = 0;
function check(cond, what) {
  if (cond) {
    console.log(`  ok   ${what}`);
  } else {
    failures += 1;
    console.log(`  FAIL ${what}`);
  }
}

// --- a real HTTP receiver standing in for the SMS gateway
const sms = [];
const gateway = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    try {
      sms.push(JSON.parse(body));
    } catch {
      sms.push({ raw: body });
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"code":0}');
  });
});
await new Promise((r) => gateway.listen(0, "127.0.0.1", r));
const smsUrl = `http://127.0.0.1:${gateway.address().port}/sms`;

// --- the server, on its embedded default (SQLite) with the Long County demo
const dir = mkdtempSync(join(tmpdir(), "hcp-e2e-"));
const port = await new Promise((r) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => r(p));
  });
});
const base = `http://127.0.0.1:${port}`;
const server = spawn(
  bin,
  ["demo", "--matters", "200", "--listen", `127.0.0.1:${port}`, "--sms-url", smsUrl, "--notify-interval-ms", "300", "--device-idle-secs", "4"],
  { cwd: dir, env: { ...process.env, HCP_LOG: "warn" } },
);
let serverOut = "";
server.stdout.on("data", (d) => (serverOut += d));
server.stderr.on("data", (d) => (serverOut += d));
const deadline = Date.now() + 120_000;
while (!serverOut.includes("try:") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
if (!serverOut.includes("try:")) {
  console.log(serverOut);
  throw new Error("the demo server did not start");
}
const keyOf = (kind) => serverOut.split("\n").find((l) => l.trim().startsWith(kind) && l.includes("hcp_")).trim().split(/\s+/).pop();
const systemKey = keyOf("system");
const deviceKey = keyOf("device");

async function api(method, path, body) {
  const r = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${systemKey}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: r.headers.get("content-type")?.includes("json") ? await r.json() : await r.arrayBuffer() };
}

/** RFC 6238 (SHA-1, 30 s, 6 digits), as an authenticator app computes it. */
function totp(base32) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of base32.replace(/=+$/, "")) bits += alphabet.indexOf(ch.toUpperCase()).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const h = createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 0x0f;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

let browser;
try {
  console.log("receipt and QR code");
  const now = new Date();
  const accepted = new Date(now.getTime() - 3600_000).toISOString();
  const m = await api("POST", "/matters", {
    matter_no: "E2E-0001", item_code: "61032707009", unit_code: "LX-GAJ", accepted_at: accepted, completed_at: now.toISOString(),
    applicant: { kind: "person", name: "测试申请人", phone: APPLICANT_PHONE },
  });
  check(m.status === 201, `matter registered (${m.status})`);
  const svc = await api("POST", "/matters/E2E-0001/services", { window_code: "ZX-01", staff_code: "P001" });
  check(svc.status === 201, `service recorded (${svc.status})`);
  const png = await api("GET", "/matters/E2E-0001/receipt?format=png");
  check(png.status === 200, "receipt QR code as PNG");
  const pngPath = join(out, "receipt-qr.png");
  writeFileSync(pngPath, Buffer.from(png.body));
  const decoded = execFileSync("zbarimg", ["--raw", "-q", pngPath]).toString().trim();
  check(decoded.startsWith(`${base}/r/`), `zbarimg decodes the rating URL: ${decoded}`);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  // bypassCSP only so that the test can inject axe-core; the pages themselves run no script.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, bypassCSP: true, locale: "zh-CN" });
  const desktop = await browser.newContext({ viewport: { width: 1366, height: 900 }, bypassCSP: true, locale: "zh-CN" });

  async function axe(page, name) {
    await page.addScriptTag({ path: axePath });
    const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
    const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    for (const v of bad) console.log(`       ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    check(bad.length === 0, `axe: no serious or critical violation on ${name}`);
  }
  async function shot(page, name) {
    await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  }

  console.log("the rater, on a phone");
  const rater = await phone.newPage();
  await rater.goto(decoded);
  check((await rater.title()).includes("请您评价"), "the rating page opens from the QR code");
  check((await rater.locator("script").count()) === 0, "no script on the rating page");
  await axe(rater, "the rating page (levels)");
  await shot(rater, "phone-rating-levels");
  // The elder-friendly mode: larger type, stronger contrast, fewer words, the same choices.
  const elder = await phone.newPage();
  await elder.goto(`${decoded}?big=1`);
  check((await elder.locator("body.big").count()) === 1 && (await elder.locator("a.level").count()) === 5, "the elder-friendly mode (大字版)");
  await axe(elder, "the rating page (elder-friendly)");
  await shot(elder, "phone-rating-elder");
  await elder.close();
  await rater.getByRole("link", { name: /非常不满意/ }).click();
  await axe(rater, "the rating page (reasons)");
  await rater.locator('input[name="reasons"]').first().check();
  await rater.locator("#text").fill("排队时间太长，窗口只开了一个");
  await shot(rater, "phone-rating-form");
  await rater.getByRole("button", { name: "提交评价" }).click();
  check((await rater.title()).includes("感谢您的评价"), "the rating is confirmed");
  await axe(rater, "the confirmation page");
  await shot(rater, "phone-rating-done");
  await rater.goto(decoded);
  await rater.getByRole("link", { name: /非常满意/ }).first().click();
  await rater.getByRole("button", { name: "提交评价" }).click();
  check((await rater.title()).includes("已评价"), "a second rating of the same service is explained, not counted");

  console.log("the self-service terminal");
  const kioskCtx = await browser.newContext({ viewport: { width: 1080, height: 1920 }, bypassCSP: true, locale: "zh-CN" });
  const kiosk = await kioskCtx.newPage();
  await kiosk.goto(`${base}/kiosk`);
  await axe(kiosk, "the self-service terminal");
  await shot(kiosk, "kiosk");
  await kiosk.locator("#matter_no").fill("E2E-0001");
  await kiosk.locator("#phone4").fill(APPLICANT_PHONE.slice(-4));
  await kiosk.getByRole("button", { name: "开始评价" }).click();
  check(kiosk.url().includes("/r/E2E-0001.") && kiosk.url().includes("c=hall_terminal"), "the terminal leads to the same rating page");
  await kiosk.getByRole("link", { name: "非常满意", exact: true }).click();
  await kiosk.getByRole("button", { name: "提交评价" }).click();
  check((await kiosk.title()).includes("已评价"), "already rated from the QR code: explained, not counted twice");

  console.log("the window device (评价器) on a tablet");
  const tablet = await browser.newContext({ viewport: { width: 1024, height: 768 }, bypassCSP: true, locale: "zh-CN" });
  const dev = await tablet.newPage();
  await dev.goto(`${base}/device`);
  check(dev.url().endsWith("/device/setup"), "an unset device asks for its key");
  await dev.locator("#key").fill("hcp_not_a_key");
  await dev.getByRole("button", { name: "保存" }).click();
  check((await dev.locator(".alert").count()) === 1, "a wrong key is refused");
  await dev.locator("#key").fill(deviceKey);
  await dev.getByRole("button", { name: "保存" }).click();
  await dev.waitForSelector("#idle:not([hidden])");
  check((await dev.locator("#idle h1").innerText()).includes("欢迎"), "bound to its window, the welcome screen");
  await axe(dev, "the window device (welcome)");
  await shot(dev, "tablet-device-idle");
  async function serviceAtWindow(no) {
    const r1 = await api("POST", "/matters", {
      matter_no: no, item_code: "61032707009", unit_code: "LX-GAJ", accepted_at: new Date(Date.now() - 600_000).toISOString(),
      applicant: { kind: "person", name: "测试申请人" },
    });
    const r2 = await api("POST", `/matters/${no}/services`, { window_code: "ZX-01", staff_code: "P001" });
    return r1.status === 201 && r2.status === 201 ? r2.body.service_no : null;
  }
  const s2 = await serviceAtWindow("E2E-0002");
  await dev.waitForSelector("#rate:not([hidden])", { timeout: 15_000 });
  check((await dev.locator("#rate h1").innerText()).includes("请您评价"), "a service at the window is pushed to the device");
  await axe(dev, "the window device (rating)");
  await shot(dev, "tablet-device-rate");
  // A double tap is one rating.
  await dev.evaluate(() => { const b = document.querySelector('#rate button[value="4"]'); b.click(); b.click(); });
  await dev.waitForFunction(() => document.getElementById("status").textContent.includes("感谢"));
  await dev.waitForFunction(() => (JSON.parse(localStorage.getItem("hcp-device-queue") || "[]")).length === 0);
  const again2 = await api("POST", "/ratings", { matter_no: "E2E-0002", service_no: s2, channel: "business_system", level: 5 });
  check(again2.status === 409 && again2.body.error.code === "already_rated", "the press was stored (a second rating is refused)");
  // The screen returns to its welcome after the idle time.
  await dev.waitForSelector("#idle:not([hidden])", { timeout: 8_000 });
  check(true, "back to the welcome screen after the idle time");
  // The network goes down: a bad review (with its reason) is kept and sent once it is back.
  const s3 = await serviceAtWindow("E2E-0003");
  await dev.waitForSelector("#rate:not([hidden])", { timeout: 15_000 });
  await tablet.setOffline(true);
  await dev.locator('#rate button[value="1"]').click();
  await dev.waitForSelector('section.reasons[data-level="1"]:not([hidden])');
  check(true, "a bad review asks for its reason");
  await dev.waitForTimeout(900); // a second tap within the press interval would not count
  await shot(dev, "tablet-device-reasons");
  await dev.locator('section.reasons[data-level="1"] button').first().click();
  await dev.waitForFunction(() => document.getElementById("status").textContent.includes("网络暂时中断"));
  check((await dev.evaluate(() => JSON.parse(localStorage.getItem("hcp-device-queue")).length)) === 1, "kept on the device while offline");
  await tablet.setOffline(false);
  await dev.waitForFunction(() => (JSON.parse(localStorage.getItem("hcp-device-queue") || "[]")).length === 0, null, { timeout: 20_000 });
  const again3 = await api("POST", "/ratings", { matter_no: "E2E-0003", service_no: s3, channel: "business_system", level: 5 });
  check(again3.status === 409, "sent when the network came back");
  const stored = await api("GET", `/ratings/${again3.body.id}`);
  check(stored.body.level === 1 && stored.body.channel === "pad" && stored.body.reasons.length === 1, "as pressed: 非常不满意, one reason, from the device");

  console.log("the unit's handler, at a desk");
  const staff = await desktop.newPage();
  await staff.goto(`${base}/staff/cases`);
  check(staff.url().endsWith("/staff/sign-in"), "the back office asks for a sign-in");
  await staff.locator("#username").fill("gaj_handler");
  await staff.locator("#password").fill("Longxian-2026");
  await staff.getByRole("button", { name: "登录" }).click();
  check(staff.url().endsWith("/staff/cases"), "signed in, the work queue");
  await shot(staff, "desktop-queue");
  const rows = await staff.locator("table.queue tbody tr").count();
  check(rows > 0, `the queue lists open cases (${rows})`);
  // The new case: the one opened by our rating.
  await staff.goto(`${base}/staff/cases`);
  const ours = staff.locator("table.queue tr", { hasText: "E2E-0001" });
  await ours.locator("a").click();
  check((await staff.locator("h1").innerText()).includes("待响应"), "the case page");
  check((await staff.locator("body").innerText()).includes("排队时间太长"), "the case shows the rater's words");
  await shot(staff, "desktop-case-open");
  await staff.locator("#note").fill("已安排专人核实");
  await staff.getByRole("button", { name: "确认响应" }).click();
  await staff.getByRole("button", { name: /查看评价人联系方式/ }).click();
  check((await staff.locator("body").innerText()).includes(APPLICANT_PHONE), "the handler sees the number for the callback (recorded)");
  await staff.locator("#summary").fill("已电话联系，评价人反映高峰时段排队久");
  await staff.getByRole("button", { name: "记录回访" }).click();
  await staff.locator('input[name="outcome"][value="fixed_at_once"]').check();
  await staff.locator("#fixed").fill("高峰时段增开两个综合窗口");
  await staff.getByRole("button", { name: "确定处理结果" }).click();
  await staff.locator("#text").fill("已在高峰时段增开两个综合窗口，感谢您的监督");
  await staff.getByRole("button", { name: "答复并报备" }).click();
  check((await staff.locator("h1").innerText()).includes("待评价人反馈"), "replied: waiting for the rater");
  await shot(staff, "desktop-case-replied");

  await staff.goto(`${base}/staff/dashboard`);
  check((await staff.locator("body").innerText()).includes("陇县公安局"), "the unit's statistics");
  await shot(staff, "desktop-dashboard");

  console.log("the county's administrator");
  const secret = serverOut.split("\n").find((l) => l.trim().startsWith("secret ")).trim().split(/\s+/)[1];
  const adminCtx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: "zh-CN" });
  const adm = await adminCtx.newPage();
  await adm.goto(`${base}/staff/sign-in`);
  await adm.locator("#username").fill("admin");
  await adm.locator("#password").fill("Longxian-2026");
  await adm.getByRole("button", { name: "登录" }).click();
  check((await adm.locator(".alert").innerText()).includes("动态口令"), "the administrator is asked for the second factor");
  await adm.locator("#password").fill("Longxian-2026");
  await adm.locator("#otp").fill(totp(secret));
  await adm.getByRole("button", { name: "登录" }).click();
  check(adm.url().endsWith("/staff/cases"), "signed in with TOTP");
  await adm.getByRole("link", { name: "密钥管理" }).click();
  await adm.locator("#kind").selectOption("device");
  await adm.locator("#unit").fill("LX-ZWZX");
  await adm.locator("#window").fill("ZX-02");
  await adm.locator("#label").fill("综合受理2号窗口评价器");
  await adm.getByRole("button", { name: "签发" }).click();
  const issued = (await adm.locator("code").innerText()).trim();
  check(issued.startsWith("hcp_device_"), "a device key is issued and shown once");
  await shot(adm, "desktop-keys");
  await adm.goto(`${base}/staff/settings`);
  check((await adm.locator("body").innerText()).includes("调休上班"), "the settings page shows the holiday calendar");
  await shot(adm, "desktop-settings");
  await adm.goto(`${base}/staff/keys`);
  await adm.getByRole("button", { name: "吊销 综合受理2号窗口评价器" }).click();
  const probe = await fetch(`${base}/api/v1/ratings`, { method: "POST", headers: { authorization: `Bearer ${issued}`, "content-type": "application/json" }, body: "{}" });
  check(probe.status === 401, "the revoked key is refused");

  console.log("the rater's feedback");
  let replyText;
  for (let i = 0; i < 50 && !replyText; i += 1) {
    replyText = sms.map((s) => s.text || "").find((t) => t.includes("/f/") && t.includes("已办理答复"));
    if (!replyText) await new Promise((r) => setTimeout(r, 200));
  }
  check(Boolean(replyText), "the reply reaches the applicant by SMS with their link");
  check(sms.some((s) => s.phone === APPLICANT_PHONE), "to the applicant's number");
  const feedbackUrl = replyText.match(/https?:\/\/\S+\/f\/[^\s。]+/)[0];
  const fb = await phone.newPage();
  await fb.goto(feedbackUrl);
  check((await fb.locator("body").innerText()).includes("已在高峰时段增开两个综合窗口"), "the feedback page shows the reply");
  await axe(fb, "the feedback page");
  await shot(fb, "phone-feedback");
  await fb.locator('input[name="verdict"][value="satisfied"]').check();
  await fb.getByRole("button", { name: "提交" }).click();
  check((await fb.locator("body").innerText()).includes("工单已办结"), "the verdict closes the case");
  await fb.locator('input[name="level"][value="4"]').check();
  await fb.getByRole("button", { name: "提交追评" }).click();
  check((await fb.locator("body").innerText()).includes("追评已提交"), "one follow-up rating (追评)");
  await shot(fb, "phone-feedback-done");

  console.log("public results");
  const home = await phone.newPage();
  await home.goto(base);
  check((await home.getByRole("link", { name: /评价结果公开/ }).count()) === 1, "the front page leads everyone on");
  await axe(home, "the front page");
  await shot(home, "phone-home");
  for (const ctx of [["phone", phone], ["desktop", desktop]]) {
    const p = await ctx[1].newPage();
    await p.goto(`${base}/results`);
    check((await p.locator("table").innerText()).includes("陇县公安局"), `the public page lists the department (${ctx[0]})`);
    check(!(await p.locator("body").innerText()).includes(APPLICANT_PHONE), `no rater data on the public page (${ctx[0]})`);
    await axe(p, `the public results (${ctx[0]})`);
    await shot(p, `${ctx[0]}-results`);
  }
} catch (e) {
  failures += 1;
  console.log(`  FAIL ${e.stack || e}`);
} finally {
  if (browser) await browser.close();
  server.kill();
  gateway.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(failures === 0 ? "browser tests passed" : `${failures} browser check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
