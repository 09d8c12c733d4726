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
  // Presses are stamped in the server's time: a tablet whose clock is off would otherwise be refused.
  var clockOffset = (parseInt(body.dataset.serverNow, 10) || Date.now()) - Date.now();
  var idle = document.getElementById("idle");
  var rate = document.getElementById("rate");
  var what = document.getElementById("what");
  var status = document.getElementById("status");
  var queued = document.getElementById("queued");
  var failedNote = document.getElementById("failed");
  var form = document.getElementById("rate-form");
  var reasonSets = Array.prototype.slice.call(document.querySelectorAll("section.reasons"));
  var KEY = "hcp-device-queue";
  var FAILED = "hcp-device-failed";
  var MAX_QUEUE = 500;
  var lastPress = 0;
  var idleTimer = null;
  var flushing = false;
  var current = null;
  var rated = {};
  if (form.matter_no.value) current = { matter_no: form.matter_no.value, service_no: form.service_no.value };

  function read(key) {
    try { return JSON.parse(localStorage.getItem(key) || "[]"); } catch (e) { return []; }
  }
  function save(q) {
    localStorage.setItem(KEY, JSON.stringify(q));
    queued.textContent = q.length ? "有 " + q.length + " 条评价等待网络恢复后提交" : "";
  }
  function fail(item, why) {
    // Refused for good (not a network problem): kept aside, counted on screen for the window's staff.
    var f = read(FAILED);
    f.push({ item: item, why: why });
    localStorage.setItem(FAILED, JSON.stringify(f.slice(-200)));
    failedNote.textContent = "有 " + f.length + " 条评价未被接受，请联系管理员";
    // Told to the county too (best effort: the device keeps its own copy).
    var b = item.body || {};
    fetch("/device/refused", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ matter_no: b.matter_no, service_no: b.service_no, level: b.level, code: String(why).slice(0, 40), rated_at: b.rated_at })
    }).catch(function () {});
  }
  function hideReasons() { reasonSets.forEach(function (s) { s.hidden = true; }); }
  function showIdle() {
    current = null;
    rate.hidden = true;
    hideReasons();
    idle.hidden = false;
  }
  function armIdle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(function () { showIdle(); status.textContent = ""; }, idleMs);
  }
  function offer(s) {
    current = s;
    // Nothing of the previous citizen's choices stays.
    document.querySelectorAll("#rate-form input[type=radio]:checked").forEach(function (r) { r.checked = false; });
    var d = document.querySelector("#rate-form details");
    if (d) d.open = false;
    document.querySelectorAll("input[name=matter_no]").forEach(function (i) { i.value = s.matter_no; });
    document.querySelectorAll("input[name=service_no]").forEach(function (i) { i.value = s.service_no; });
    what.textContent = s.item + (s.staff ? " · 服务人员 " + s.staff : "");
    hideReasons();
    idle.hidden = true;
    rate.hidden = false;
    status.textContent = "";
    armIdle();
  }
  // Resolves to true when the item is done with (stored, or refused for good), false to try again later.
  function send(item) {
    return fetch("/device/rate", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "idempotency-key": item.key },
      body: JSON.stringify(item.body)
    }).then(function (r) {
      if (r.status === 201 || r.status === 200 || r.status === 409) return true;
      if (r.status === 401) { window.location.href = "/device/setup"; return false; }
      if (r.status === 429 || r.status >= 500) return false;
      return r.json().then(function (b) { fail(item, b && b.error ? b.error.code : String(r.status)); return true; },
        function () { fail(item, String(r.status)); return true; });
    }, function () { return false; });
  }
  function flush() {
    if (flushing) return Promise.resolve();
    flushing = true;
    var step = function () {
      var q = read(KEY);
      if (!q.length) return Promise.resolve();
      var item = q[0];
      return send(item).then(function (done) {
        if (!done) return;
        save(read(KEY).filter(function (x) { return x.key !== item.key; }));
        return step();
      });
    };
    return step().then(function () { flushing = false; }, function () { flushing = false; });
  }
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
      // A bad review needs its reason: show that level's reasons. The press counts for the debounce, so a
      // double tap cannot choose a reason the citizen never read.
      if (!pressed()) return;
      rate.hidden = true;
      reasonSets.forEach(function (s) { s.hidden = s.dataset.level !== String(level); });
      var first = document.querySelector('section.reasons[data-level="' + level + '"] button');
      if (first) first.focus();
      armIdle();
      return;
    }
    rateWith(level, []);
  });
  reasonSets.forEach(function (s) {
    s.addEventListener("click", function (ev) {
      var back = ev.target.closest("a.back");
      if (back) {
        ev.preventDefault();
        hideReasons();
        rate.hidden = false;
        armIdle();
        return;
      }
      var b = ev.target.closest("button[name=reasons]");
      if (!b) return;
      ev.preventDefault();
      rateWith(parseInt(s.dataset.level, 10), [b.value]);
    });
  });
  function rateWith(level, reasons) {
    var now = pressed();
    if (!now) return;
    var q = read(KEY);
    if (q.length >= MAX_QUEUE) {
      status.textContent = "网络中断时间过长，暂时不能保存更多评价，请联系工作人员。";
      return;
    }
    // The indicators rated before the level (optional), then cleared for the next citizen.
    var indicators = {};
    document.querySelectorAll("#rate-form input[type=radio]:checked").forEach(function (r) {
      indicators[r.name.slice(4)] = parseInt(r.value, 10);
      r.checked = false;
    });
    var item = {
      key: "dev-" + current.matter_no + "-" + current.service_no + "-" + now,
      body: { matter_no: current.matter_no, service_no: current.service_no, level: level, reasons: reasons, indicators: indicators, rated_at: new Date(now + clockOffset).toISOString() }
    };
    rated[current.matter_no + "/" + current.service_no] = true;
    q.push(item);
    save(q);
    showIdle();
    status.textContent = "感谢您的评价！";
    armIdle();
    flush().then(function () {
      if (read(KEY).length) status.textContent = "感谢您的评价！网络暂时中断，评价已保存，恢复后自动提交。";
    });
  }
  save(read(KEY));
  if (read(FAILED).length) failedNote.textContent = "有 " + read(FAILED).length + " 条评价未被接受，请联系管理员";
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
