// The window rating device (评价器). The page works without this script (forms and a refresh link); with it,
// the server pushes each new service at this window (server-sent events), presses closer together than the
// configured interval are ignored, the screen returns to its welcome after the idle time, and ratings made while
// the network is down are kept in this browser and sent later — exactly once, by their Idempotency-Key.
"use strict";
(function () {
  document.documentElement.classList.add("js");
  var body = document.body;
  var idleMs = (parseInt(body.dataset.idleSecs, 10) || 60) * 1000;
  var minPress = parseInt(body.dataset.minPressMs, 10) || 800;
  var idle = document.getElementById("idle");
  var rate = document.getElementById("rate");
  var what = document.getElementById("what");
  var status = document.getElementById("status");
  var queued = document.getElementById("queued");
  var form = document.getElementById("rate-form");
  var KEY = "hcp-device-queue";
  var lastPress = 0;
  var idleTimer = null;
  var current = null;
  var rated = {};
  if (form.matter_no.value) current = { matter_no: form.matter_no.value, service_no: form.service_no.value };

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }
  function save(q) {
    localStorage.setItem(KEY, JSON.stringify(q));
    queued.textContent = q.length ? "有 " + q.length + " 条评价等待网络恢复后提交" : "";
  }
  function showIdle() {
    current = null;
    rate.hidden = true;
    reasonSets.forEach(function (s) { s.hidden = true; });
    idle.hidden = false;
  }
  function armIdle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(function () { showIdle(); status.textContent = ""; }, idleMs);
  }
  function offer(s) {
    current = s;
    form.matter_no.value = s.matter_no;
    form.service_no.value = s.service_no;
    what.textContent = s.item + (s.staff ? " · 服务人员 " + s.staff : "");
    document.querySelectorAll("input[name=matter_no]").forEach(function (i) { i.value = s.matter_no; });
    document.querySelectorAll("input[name=service_no]").forEach(function (i) { i.value = s.service_no; });
    idle.hidden = true;
    rate.hidden = false;
    status.textContent = "";
    armIdle();
  }
  function send(item) {
    return fetch("/device/rate", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "idempotency-key": item.key },
      body: JSON.stringify(item.body)
    }).then(function (r) {
      // Stored (201), replayed (201 again) or already rated by another channel (409): done with it either way.
      return r.status === 201 || r.status === 200 || r.status === 409 || r.status === 422;
    }, function () { return false; });
  }
  function flush() {
    var q = load();
    if (!q.length) return Promise.resolve();
    var item = q[0];
    return send(item).then(function (ok) {
      if (!ok) return;
      var rest = load().filter(function (x) { return x.key !== item.key; });
      save(rest);
      if (rest.length) return flush();
    });
  }
  var reasonSets = Array.prototype.slice.call(document.querySelectorAll("section.reasons"));
  function hideReasons() { reasonSets.forEach(function (s) { s.hidden = true; }); }
  function pressed() {
    var now = Date.now();
    if (now - lastPress < minPress || !current) return 0;
    lastPress = now;
    return now;
  }
  form.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[name=level]");
    if (!b) return;
    ev.preventDefault();
    var level = parseInt(b.value, 10);
    if (level <= 2) {
      // A bad review needs its reason: show that level's reasons (the press is not yet a rating).
      if (!pressed()) return;
      lastPress = 0;
      rate.hidden = true;
      reasonSets.forEach(function (s) { s.hidden = s.dataset.level !== String(level); });
      armIdle();
      return;
    }
    rateWith(level, []);
  });
  reasonSets.forEach(function (s) {
    s.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[name=reasons]");
      if (!b) return;
      ev.preventDefault();
      rateWith(parseInt(s.dataset.level, 10), [b.value]);
    });
  });
  function rateWith(level, reasons) {
    var now = pressed();
    if (!now) return;
    var item = {
      key: "dev-" + current.matter_no + "-" + current.service_no + "-" + now,
      body: { matter_no: current.matter_no, service_no: current.service_no, level: level, reasons: reasons, rated_at: new Date(now).toISOString() }
    };
    rated[current.matter_no + "/" + current.service_no] = true;
    var q = load();
    q.push(item);
    save(q);
    showIdle();
    status.textContent = "感谢您的评价！";
    armIdle();
    hideReasons();
    flush().then(function () {
      if (load().length) status.textContent = "感谢您的评价！网络暂时中断，评价已保存，恢复后自动提交。";
    });
  }
  save(load());
  setInterval(flush, 5000);
  window.addEventListener("online", flush);
  flush();
  if (current) armIdle();
  if (window.EventSource) {
    var es = new EventSource("/device/events");
    es.addEventListener("service", function (e) {
      var s = JSON.parse(e.data);
      if (rated[s.matter_no + "/" + s.service_no]) return;
      if (!current || current.matter_no !== s.matter_no || current.service_no !== s.service_no) offer(s);
    });
  }
})();
