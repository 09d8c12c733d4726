// End to end in Debian's headless Chromium: a matter's receipt is printed, its QR code decoded with a real
// decoder (zbarimg), the rater opens that URL on a phone-sized screen and gives 非常不满意 with a reason; the
// unit's handler signs in, walks the case to its reply in the back office; the rater gets the reply by SMS (a
// real local HTTP receiver), opens their link and gives a verdict; the public results page shows the unit.
// A county's working day: a village station registers a matter, prints its receipt and enters a paper form; a
// citizen's complaint about the same matter stands beside it; the handler merges them and follows a 限期整改 to
// done; the town's approver decides the station's 复核. axe-core checks the older pages for serious or critical
// violations and the new ones for any. Screenshots go to out/.
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
  // New pages are held to every impact level.
  async function axeAll(page, name) {
    await page.addScriptTag({ path: axePath });
    const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
    for (const v of res.violations) console.log(`       ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    check(res.violations.length === 0, `axe: no violation of any impact on ${name}`);
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
  check((await rater.title()).includes("已评价") && (await rater.locator("a.level").count()) === 0, "a used link says so at once, without the levels");
  check((await rater.locator("body").innerText()).includes("非常不满意"), "with the rating it made");
  await axeAll(rater, "a used rating link");

  console.log("the self-service terminal");
  const kioskCtx = await browser.newContext({ viewport: { width: 1080, height: 1920 }, bypassCSP: true, locale: "zh-CN" });
  const kiosk = await kioskCtx.newPage();
  await kiosk.goto(`${base}/kiosk`);
  await axe(kiosk, "the self-service terminal");
  await shot(kiosk, "kiosk");
  await kiosk.locator("#matter_no").fill("E2E-0001");
  await kiosk.locator("#phone4").fill(APPLICANT_PHONE.slice(-4));
  await kiosk.getByRole("button", { name: "开始评价" }).click();
  check(kiosk.url().includes("/r/E2E-0001.") && kiosk.url().split("/r/")[1].split(".")[3] === "t" && !kiosk.url().includes("?"), "the terminal leads to the rating page with its own signed link");
  check((await kiosk.title()).includes("已评价"), "already rated from the QR code: said at once, not counted twice");

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
  // An optional indicator first, then the level; a double tap is one rating.
  await dev.locator("details.inds summary").click();
  await dev.locator('input[name="ind_E02"][value="5"]').check();
  await dev.evaluate(() => { const b = document.querySelector('#rate button[value="4"]'); b.click(); b.click(); });
  await dev.waitForFunction(() => document.getElementById("status").textContent.includes("感谢"));
  await dev.waitForFunction(() => (JSON.parse(localStorage.getItem("hcp-device-queue") || "[]")).length === 0);
  const again2 = await api("POST", "/ratings", { matter_no: "E2E-0002", service_no: s2, channel: "business_system", level: 5 });
  check(again2.status === 409 && again2.body.error.code === "already_rated", "the press was stored (a second rating is refused)");
  const storedPress = await api("GET", `/ratings/${again2.body.id}`);
  check(storedPress.body.level === 4 && storedPress.body.indicators && storedPress.body.indicators.E02 === 5, "with the indicator tapped before the level");
  check((await dev.locator("#rate-form input[type=radio]:checked").count()) === 0, "nothing of the previous citizen's choices stays");
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
  const adminCtx = await browser.newContext({ viewport: { width: 1366, height: 900 }, bypassCSP: true, locale: "zh-CN" });
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
  for (const [path, name] of [
    ["/staff/inspections", "the inspections"],
    ["/staff/replies", "the filed replies"],
    ["/staff/notifications", "the failed notifications"],
    ["/staff/dead-letters", "the devices' refused presses"],
  ]) {
    await adm.goto(`${base}${path}`);
    check((await adm.locator("h1").count()) === 1 && (await adm.getByRole("link", { name: /导出 Excel/ }).count()) === 1, `${name}: a page with its export`);
    await axeAll(adm, name);
  }
  await shot(adm, "desktop-dead-letters");
  await adm.goto(`${base}/staff/keys`);
  await adm.getByRole("button", { name: "吊销 综合受理2号窗口评价器" }).click();
  const probe = await fetch(`${base}/api/v1/ratings`, { method: "POST", headers: { authorization: `Bearer ${issued}`, "content-type": "application/json" }, body: "{}" });
  check(probe.status === 401, "the revoked key is refused");

  console.log("a county's working day: a village station, a complaint, the 台账, a town's 复核");
  const station = await desktop.newPage();
  async function signIn(page, user) {
    await page.goto(`${base}/staff/sign-in`);
    await page.locator("#username").fill(user);
    await page.locator("#password").fill("Longxian-2026");
    await page.getByRole("button", { name: "登录" }).click();
  }
  await signIn(station, "dongguan");
  await station.getByRole("link", { name: "办件登记" }).click();
  await axeAll(station, "the registration page");
  await station.locator("#item_code").selectOption("61032705043");
  await station.locator("#applicant_name").fill("王秀兰");
  await station.locator("#applicant_phone").fill("1370000111");
  await station.locator("#window_code").selectOption("CG-V1");
  await station.locator("#promise_limit").fill("10工作日");
  await station.getByRole("button", { name: "登记办件" }).click();
  check((await station.locator("#e_applicant_phone").innerText()).includes("手机号码格式不正确"), "a wrong phone is said next to it");
  check((await station.locator("#applicant_name").inputValue()) === "王秀兰", "what was typed stays");
  await axeAll(station, "the registration page with an error");
  await station.locator("#applicant_phone").fill("13700001111");
  await station.getByRole("button", { name: "登记办件" }).click();
  const doneText = await station.locator("#done_h").innerText();
  const villageNo = doneText.replace("已登记办件", "").trim();
  check(villageNo.startsWith("LX-CG-V1-"), `the station's matter is registered: ${villageNo}`);
  await shot(station, "desktop-station-registered");
  const paperHref = await station.getByRole("link", { name: "录入书面评价表" }).getAttribute("href");
  await station.getByRole("link", { name: /打印办件回执/ }).click();
  check((await station.locator("body").innerText()).includes(villageNo) && (await station.locator("svg").count()) > 0, "its receipt, with the QR code");
  await shot(station, "desktop-station-receipt");
  await station.goto(`${base}${paperHref}`);
  check((await station.locator("#matter_no").inputValue()) === villageNo, "the paper form opens for the matter");
  await station.locator('input[name="level"][value="2"]').check();
  await station.locator('input[name="reasons"][value="208"]').check();
  await station.locator("#text").fill("排队一个多小时");
  await station.getByRole("button", { name: "录入" }).click();
  check((await station.locator(".notice").innerText()).includes("差评已自动立案交办"), "the paper bad review opens a case");

  const citizen = await phone.newPage();
  await citizen.goto(`${base}/complaint`);
  await axeAll(citizen, "the complaint form");
  await citizen.locator("#matter_no").fill(villageNo);
  await citizen.locator("#text").fill("上次评了差评，代办点还是只有一个人");
  await citizen.locator("#phone").fill("13700001111");
  await citizen.getByRole("button", { name: "提交" }).click();
  check((await citizen.locator("#done_h").innerText()).includes("已收到"), "the complaint is received");
  await axeAll(citizen, "the complaint confirmation");
  await shot(citizen, "phone-complaint-done");

  await station.goto(`${base}/staff/cases`);
  await station.locator("table.queue tr", { hasText: villageNo }).filter({ hasText: "差评" }).first().locator("a").click();
  const reviewUrl = station.url();
  check((await station.locator("body").innerText()).includes("同一办件的其他工单"), "the handler sees the complaint beside the bad review");
  await station.locator("section", { hasText: "同一办件的其他工单" }).locator("a").first().click();
  check((await station.locator("body").innerText()).includes("代办点还是只有一个人"), "the complaint's own words");
  await axeAll(station, "a complaint's case page");
  await shot(station, "desktop-complaint-case");
  await station.locator("#merge_note").fill("同一诉求，一并办理");
  await station.getByRole("button", { name: "合并工单" }).click();
  check(station.url() === reviewUrl, "merged into the bad review");
  await station.locator("#note").fill("已安排核实");
  await station.getByRole("button", { name: "确认响应" }).click();
  await station.locator("#summary").fill("已电话联系王女士");
  await station.getByRole("button", { name: "记录回访" }).click();
  await station.locator('input[name="outcome"][value="ledger"]').check();
  await station.locator("#reason").fill("代办点需增设一名代办员");
  await station.locator("#rectify_by").fill("2027-03-31");
  await station.getByRole("button", { name: "确定处理结果" }).click();
  await station.locator("#text").fill("已列入台账，3月底前增设代办员");
  await station.getByRole("button", { name: "答复并报备" }).click();
  check((await station.locator("#rect-h").innerText()).includes("整改中"), "after the reply the rectification stays open");
  await station.locator("#rect_note").fill("已选定代办员人选");
  await station.getByRole("button", { name: "记录整改" }).click();
  await station.locator('input[name="action"][value="done"]').check();
  await station.locator("#rect_note").fill("代办员已到岗");
  await station.locator("#rect_evidence").fill("镇党委会议纪要 2027-3 号");
  await station.getByRole("button", { name: "记录整改" }).click();
  check((await station.locator("#rect-h").innerText()).includes("已完成"), "the rectification is tracked to done");
  await axeAll(station, "a bad review's case page with its rectification");
  await shot(station, "desktop-case-rectified");
  await station.getByRole("link", { name: "整改台账" }).click();
  check((await station.locator("table").innerText()).includes("代办点需增设一名代办员"), "the 台账 lists it");
  await axeAll(station, "the 台账");

  // A second paper bad review at the station; the station applies for 复核, the town's approver decides.
  const second = await api("POST", "/matters", {
    matter_no: "E2E-V1-2", item_code: "61032705043", unit_code: "LX-CG-V1", accepted_at: new Date(Date.now() - 600_000).toISOString(),
    completed_at: new Date().toISOString(), applicant: { kind: "person", name: "赵大爷" },
  });
  check(second.status === 201, "a second matter of the station");
  await station.goto(`${base}/staff/paper?matter_no=E2E-V1-2`);
  await station.locator('input[name="level"][value="1"]').check();
  await station.locator('input[name="reasons"][value="199"]').check();
  await station.locator('input[name="anonymous"][value="1"]').check();
  await station.getByRole("button", { name: "录入" }).click();
  await station.goto(`${base}/staff/cases`);
  await station.locator("table.queue tr", { hasText: "E2E-V1-2" }).first().locator("a").click();
  const appealUrl = station.url();
  await station.locator("#ap_reason").fill("评价人为隔壁村民，当日未来办事");
  await station.locator("#ap_evidence").fill("登记簿当日无此人");
  await station.getByRole("button", { name: "申请复核" }).click();
  const town = await (await browser.newContext({ viewport: { width: 1366, height: 900 }, bypassCSP: true, locale: "zh-CN" })).newPage();
  await signIn(town, "cg_shenhe");
  await town.goto(appealUrl);
  await town.locator('input[name="upheld"][value="true"]').check();
  await town.locator("#de_note").fill("经核实不属实");
  await town.getByRole("button", { name: "作出决定" }).click();
  check((await town.locator("h1").innerText()).includes("已办结"), "the town's approver decided the village's 复核");
  await shot(town, "desktop-town-appeal");

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
