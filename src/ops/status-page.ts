// The status page at / for the technician at the modality: plain HTML and a small script, no build step,
// served as is by src/ops/http.ts. It polls /status.json every second and redraws; every value from the
// wire (AE titles, patient IDs) goes in with textContent, never as markup.

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>storescp status</title>
<link rel="icon" href="data:,">
<style>
  :root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color-scheme: light dark; }
  body { margin: 0; padding: 0.75rem; max-width: 70rem; margin-inline: auto; }
  header { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; }
  h1 { font-size: 1.2rem; margin: 0; }
  h2 { font-size: 1rem; margin: 0 0 0.4rem; }
  .badge { padding: 0.2rem 0.7rem; border-radius: 1rem; font-weight: 600; color: #fff; background: #888; }
  .ok { background: #1b7f3b; } .bad { background: #b3261e; } .warn { background: #a86b00; }
  .muted { opacity: 0.7; font-size: 0.85rem; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); gap: 0.75rem; margin: 0.75rem 0; }
  section { border: 1px solid #8884; border-radius: 0.5rem; padding: 0.6rem 0.8rem; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 0.15rem 0.8rem; margin: 0; }
  dt { opacity: 0.75; } dd { margin: 0; overflow-wrap: anywhere; }
  table { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
  th, td { text-align: left; padding: 0.25rem 0.4rem; border-bottom: 1px solid #8883; vertical-align: top; }
  td.st-ok { color: #1b7f3b; font-weight: 600; } td.st-bad { color: #b3261e; font-weight: 600; }
  td .why { display: block; font-weight: 400; font-size: 0.8rem; color: inherit; opacity: 0.85; }
  td .to { display: block; font-size: 0.8rem; opacity: 0.85; }
  #warnings li { color: #a86b00; }
  #disks { grid-template-columns: 1fr; } #disks dd { margin-bottom: 0.3rem; }
  .scroll { overflow-x: auto; }
  ul { margin: 0; padding-left: 1.1rem; }
  @media (max-width: 40rem) { .wide { display: none; } }
</style>
</head>
<body>
<header>
  <h1 id="ident">storescp</h1>
  <span id="version" class="muted"></span>
  <span id="health" class="badge">loading</span>
  <span id="updated" class="muted"></span>
</header>
<ul id="failing"></ul>
<ul id="warnings"></ul>
<div class="grid">
  <section><h2>Associations</h2><dl>
    <dt>running</dt><dd id="assoc-active">-</dd>
    <dt>accepted</dt><dd id="assoc-total">-</dd>
    <dt>rejected</dt><dd id="assoc-rejected">-</dd>
    <dt>instances</dt><dd id="inst-total">-</dd>
    <dt>failures</dt><dd id="inst-failures">-</dd>
  </dl><ul id="assoc-list" class="muted"></ul></section>
  <section><h2>Outbox &amp; Kafka</h2><dl>
    <dt>Kafka</dt><dd id="kafka">-</dd>
    <dt>backlog</dt><dd id="backlog">-</dd>
    <dt>oldest</dt><dd id="oldest">-</dd>
    <dt>rate</dt><dd id="rate">-</dd>
    <dt>last error</dt><dd id="last-error">-</dd>
  </dl></section>
  <section><h2>Disk</h2><dl id="disks"></dl></section>
  <section><h2>License</h2><dl>
    <dt>state</dt><dd id="license-state">-</dd>
    <dt>client</dt><dd id="license-client">-</dd>
    <dt>expires</dt><dd id="license-expires">-</dd>
  </dl></section>
</div>
<section>
  <h2>Last instances</h2>
  <div class="scroll"><table id="recent">
    <thead><tr><th>time</th><th>tenant</th><th>patient ID</th><th>modality</th><th>syntax</th><th>status</th><th class="wide">from</th></tr></thead>
    <tbody></tbody>
  </table></div>
</section>
<script src="/status.js"></script>
</body>
</html>
`;

export const STATUS_PAGE_JS = `"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var text = function (id, v) { $(id).textContent = v === null || v === undefined || v === "" ? "-" : String(v); };
  var el = function (tag, value, cls) {
    var e = document.createElement(tag);
    e.textContent = value === null || value === undefined || value === "" ? "-" : String(value);
    if (cls) e.className = cls;
    return e;
  };
  var age = function (s) {
    if (s === null || s === undefined) return "-";
    if (s < 120) return Math.round(s) + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    return Math.round(s / 3600) + " h";
  };
  var time = function (iso) { var d = new Date(iso); return d.toLocaleTimeString(); };
  var failures = 0;

  function render(s) {
    // AE title, port and version once, in the header.
    text("ident", s.ae + " \\u00b7 port " + s.port);
    text("version", s.version);
    document.title = s.ae + " \\u2014 storescp";
    var warnings = s.health.warnings || [];
    var h = $("health");
    h.textContent = !s.health.ok ? "attention: " + s.health.failing.join(", ") : warnings.length ? "warning" : "healthy";
    h.className = "badge " + (!s.health.ok ? "bad" : warnings.length ? "warn" : "ok");
    var fl = $("failing");
    fl.replaceChildren();
    s.health.failing.forEach(function (k) { fl.appendChild(el("li", k + ": " + s.health.checks[k].detail)); });
    var wl = $("warnings");
    wl.replaceChildren();
    warnings.forEach(function (w) { wl.appendChild(el("li", w)); });
    text("updated", "updated " + time(s.now));
    text("assoc-active", s.associations.length);
    text("assoc-total", s.totals.associations);
    text("assoc-rejected", s.totals.rejected);
    text("inst-total", s.totals.instances + " (" + (s.totals.bytes / 1048576).toFixed(1) + " MiB)");
    text("inst-failures", s.totals.failures);
    var al = $("assoc-list");
    al.replaceChildren();
    s.associations.forEach(function (a) {
      al.appendChild(el("li", a.calling + " \\u2192 " + a.called + " (" + a.tenant + ", " + a.peer + "): " +
        a.instances + " instances"));
    });
    var o = s.outbox;
    if (o) {
      text("kafka", !o.enabled ? "off: records accumulate, export needed" : o.connected ? "connected" : "not connected");
      text("backlog", o.backlog + " records" + (o.full ? " \\u2014 FULL, instances refused" : ""));
      text("oldest", o.backlog > 0 ? age(o.oldest_age_s) : "-");
      text("rate", o.rate.toFixed(1) + " records/s");
      text("last-error", o.lastError ? o.lastError + " (" + time(o.lastErrorAt) + ")" : "none");
    }
    var d = $("disks");
    d.replaceChildren();
    s.disks.forEach(function (x) {
      d.appendChild(el("dt", x.path));
      d.appendChild(el("dd", x.free_mb === null ? "unreadable" : x.free_mb + " MB free (min " + x.min_free_mb + ")",
        x.free_mb !== null && x.free_mb < x.min_free_mb ? "st-bad" : ""));
    });
    text("license-state", s.license.state);
    text("license-client", s.license.client);
    text("license-expires", s.license.not_after ? s.license.not_after.slice(0, 10) + " (" + s.license.days_left + " days)" : null);
    var tb = $("recent").tBodies[0];
    tb.replaceChildren();
    s.recent.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-sop", r.sop);
      tr.title = "SOP Instance UID " + r.sop + ", " + r.bytes + " bytes, " + r.ms + " ms";
      tr.appendChild(el("td", time(r.time)));
      tr.appendChild(el("td", r.tenant));
      tr.appendChild(el("td", r.patient_id));
      tr.appendChild(el("td", r.modality));
      var syntax = el("td", r.ts_name, "syntax");
      if (r.stored_ts_name) {
        // Transcoded: received -> stored.
        tr.setAttribute("data-transcoded", "");
        syntax.appendChild(el("span", "\\u2192 " + r.stored_ts_name, "to"));
      }
      tr.appendChild(syntax);
      var status = el("td", r.status === "0000" ? "stored" : (r.quarantined ? "quarantined " : "failed ") + r.status,
        r.failed ? "st-bad status" : "st-ok status");
      if (r.quarantined) tr.setAttribute("data-quarantined", "");
      if (r.error) status.appendChild(el("span", r.error, "why"));
      tr.appendChild(status);
      tr.appendChild(el("td", r.calling, "wide"));
      tb.appendChild(tr);
    });
  }

  function poll() {
    fetch("/status.json", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) { failures = 0; render(s); })
      .catch(function () {
        failures += 1;
        var h = $("health");
        h.textContent = "no answer from storescp";
        h.className = "badge " + (failures > 2 ? "bad" : "warn");
      })
      .finally(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
`;
