// The ops dashboard's script, served as /ops/dashboard.js: gets the token (address fragment
// once, or the form), asks /ops/api/summary with it every refresh_ms, and draws the figures.
// Everything is written with textContent, never as HTML, so no figure can inject markup.
(function () {
  "use strict";
  var TOKEN_KEY = "payout-gateway-ops-token";
  var refreshMs = 5000;
  var timer = null;

  function byId(id) { return document.getElementById(id); }

  function dong(amount) {
    return String(amount).replace(/\B(?=(\d{3})+(?!\d))/g, ".") + " \u20ab";
  }
  function count(value) { return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, "."); }
  function duration(ms) {
    if (ms === null || ms === undefined) { return "\u2013"; }
    var s = Math.floor(ms / 1000);
    if (ms < 1000) { return Math.round(ms) + " ms"; }
    if (s < 60) { return (ms / 1000).toFixed(1) + " s"; }
    if (s < 3600) { return Math.floor(s / 60) + " min " + (s % 60) + " s"; }
    if (s < 86400) { return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min"; }
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function cell(row, text, className, id) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    if (id) { td.id = id; }
    row.appendChild(td);
    return td;
  }
  function clear(element) { while (element.firstChild) { element.removeChild(element.firstChild); } }

  function setStatus(text, isError) {
    var status = byId("status");
    status.textContent = text;
    status.className = isError ? "status error" : "status";
  }

  function showForm(message) {
    byId("token-form").hidden = false;
    byId("board").hidden = true;
    if (message) { byId("token-message").textContent = message; }
    setStatus("A token is needed.", true);
  }

  function takeTokenFromFragment() {
    var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (match) {
      // Out of the address bar first, whatever the token holds.
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
      var token = match[1];
      // A token is printable ASCII and may hold a `%` that starts no escape: taken as written
      // (decodeURIComponent threw on it, and the page stopped at "Loading…").
      try { token = decodeURIComponent(token); } catch (notEncoded) { /* as written */ }
      window.sessionStorage.setItem(TOKEN_KEY, token);
    }
  }

  function drawStates(payments) {
    var table = byId("states");
    var head = table.tHead, body = table.tBodies[0];
    clear(head); clear(body);
    var channels = payments.channels;
    var headRow = head.insertRow();
    ["State"].concat(channels, ["All channels"]).forEach(function (name, index) {
      var th = document.createElement("th");
      th.textContent = name;
      if (index > 0) { th.className = "num"; }
      headRow.appendChild(th);
    });
    var counts = {};
    payments.counts.forEach(function (c) { counts[c.state + "/" + c.channel] = c; });
    payments.states.forEach(function (state) {
      var row = body.insertRow();
      row.id = "state-" + state;
      if (state === "succeeded" || state === "failed" || state === "rejected") { row.className = "final"; }
      cell(row, state);
      var total = 0, amount = 0;
      channels.forEach(function (channel) {
        var c = counts[state + "/" + channel];
        var n = c ? c.count : 0;
        total += n; amount += c ? c.amount : 0;
        var td = cell(row, n ? count(n) : "\u2013", n ? "num" : "num zero", "state-" + state + "-" + channel);
        if (c) { td.title = dong(c.amount); }
      });
      var td = cell(row, count(total), total ? "num" : "num zero", "state-" + state + "-total");
      td.title = dong(amount);
    });
    byId("payments-total").textContent = count(payments.total);
  }

  function drawReview(review) {
    byId("review-total").textContent = count(review.total);
    byId("review-amount").textContent = dong(review.total_amount);
    var body = byId("review").tBodies[0];
    clear(body);
    review.shown.forEach(function (item) {
      var row = body.insertRow();
      row.id = "review-" + item.order_id;
      cell(row, item.order_id);
      cell(row, item.channel);
      cell(row, item.provider);
      cell(row, dong(item.amount), "num");
      var reason = cell(row, item.reason_code || "\u2013");
      if (item.reason) { reason.title = item.reason; }
      cell(row, duration(item.age_ms), "num", "review-age-" + item.order_id);
      cell(row, item.sent ? "yes" : "no");
    });
    byId("review-more").textContent = review.total > review.shown.length
      ? "Showing the oldest " + review.shown.length + " of " + count(review.total) + "." : "";
  }

  function drawDlq(dlq) {
    byId("dlq-queue").textContent = dlq.queue || "\u2013";
    byId("dlq-depth").textContent = dlq.depth === null || dlq.depth === undefined ? "?" : count(dlq.depth);
    var body = byId("dlq").tBodies[0];
    clear(body);
    Object.keys(dlq.by_reason).sort().forEach(function (reason) {
      var row = body.insertRow();
      row.id = "dlq-reason-" + reason;
      cell(row, reason);
      cell(row, count(dlq.by_reason[reason]), "num");
    });
    var note;
    if (dlq.error) {
      note = dlq.error;
    } else if (dlq.depth === 0) {
      note = "The queue is empty (looked at " + dlq.looked_at + ").";
    } else if (dlq.complete) {
      note = "Every message read (looked at " + dlq.looked_at + ").";
    } else {
      note = "Reasons of the first " + count(dlq.read) + " of " + count(dlq.depth) +
        " messages (looked at " + dlq.looked_at + "); `gateway dlq list` reads them all.";
    }
    byId("dlq-note").textContent = note;
  }

  function drawProviders(providers) {
    var body = byId("providers").tBodies[0];
    clear(body);
    var open = 0;
    providers.forEach(function (p) {
      var row = body.insertRow();
      row.id = "provider-" + p.provider;
      cell(row, p.provider);
      var breaker = cell(row, "");
      var pill = document.createElement("span");
      var state = p.breaker || "none";
      if (state === "open") { open += 1; }
      pill.className = "pill " + state;
      pill.textContent = p.breaker ? p.breaker.replace("_", "-") +
        (p.unavailable_for_ms ? " (" + duration(p.unavailable_for_ms) + ")" : "") : "no breaker";
      breaker.appendChild(pill);
      cell(row, count(p.calls), "num", "provider-" + p.provider + "-calls");
      cell(row, p.mean_ms === null ? "\u2013" : duration(p.mean_ms), "num");
      cell(row, p.calls === 0 ? "\u2013" : (p.p95_ms_at_most === null ? "> 30 s" : duration(p.p95_ms_at_most)), "num");
      cell(row, count(p.errors), "num");
      cell(row, p.error_rate === null ? "\u2013" : (p.error_rate * 100).toFixed(1) + " %", "num");
      cell(row, Object.keys(p.errors_by_kind).map(function (k) { return k + " " + p.errors_by_kind[k]; }).join(", ") || "\u2013");
      cell(row, count(p.circuit_open_refusals), "num");
    });
    byId("providers-count").textContent = count(providers.length);
    byId("providers-open").textContent = open ? open + " breaker(s) open" : "no breaker open";
  }

  function tally(t) { return count(t.orders) + " \u00b7 " + dong(t.amount); }

  function drawBatches(batches) {
    var body = byId("batches").tBodies[0];
    clear(body);
    batches.shown.forEach(function (b) {
      var row = body.insertRow();
      row.id = "batch-" + b.batch_id;
      cell(row, b.batch_id);
      cell(row, b.commune_code);
      cell(row, b.program);
      cell(row, b.period);
      cell(row, tally(b.check.declared), "num");
      var progress = cell(row, "", null, "batch-final-" + b.batch_id);
      var meter = document.createElement("progress");
      meter.max = Math.max(b.check.declared.orders, 1);
      meter.value = b.check.final_orders;
      progress.appendChild(meter);
      progress.appendChild(document.createTextNode(" " + count(b.check.final_orders) + " / " + count(b.check.declared.orders)));
      cell(row, tally(b.check.succeeded), "num");
      cell(row, tally(b.check.failed), "num");
      cell(row, tally(b.check.in_progress), "num");
      cell(row, tally(b.check.invalid), "num");
      var more = b.differences_total - b.differences.length;
      cell(row, b.differences.length ?
        b.differences.join("; ") + (more > 0 ? "; and " + count(more) + " more" : "") : "none so far");
      cell(row, duration(b.age_ms), "num");
    });
    var note = batches.error || (batches.open === 0 ? "No batch is open." :
      (batches.open > batches.shown.length ? "Showing the oldest " + batches.shown.length + " of " + batches.open + " open batches." : ""));
    byId("batches-note").textContent = note;
  }

  function drawOrdersSide(side) {
    var banner = byId("orders-side");
    banner.hidden = side.working;
    banner.textContent = side.working ? "" : "This gateway is not taking orders or not sending results: " + side.why;
  }

  function draw(summary) {
    refreshMs = summary.refresh_ms || refreshMs;
    byId("token-form").hidden = true;
    byId("board").hidden = false;
    drawStates(summary.payments);
    drawReview(summary.needs_review);
    drawDlq(summary.dlq);
    drawProviders(summary.providers);
    drawBatches(summary.batches);
    drawOrdersSide(summary.orders_side);
    setStatus("Updated " + new Date().toLocaleTimeString("vi-VN") + " \u00b7 every " + refreshMs / 1000 + " s", false);
    document.documentElement.setAttribute("data-dashboard-ready", summary.generated_at);
  }

  function schedule() {
    if (timer !== null) { window.clearTimeout(timer); }
    timer = window.setTimeout(refresh, refreshMs);
  }

  function refresh() {
    var token = window.sessionStorage.getItem(TOKEN_KEY);
    if (!token) { showForm(); return; }
    window.fetch("/ops/api/summary", { headers: { "Authorization": "Bearer " + token }, cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) {
          window.sessionStorage.removeItem(TOKEN_KEY);
          showForm("The gateway refused that token.");
          return null;
        }
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.message || ("HTTP " + response.status)); }
          return body;
        });
      })
      .then(function (summary) {
        if (summary) { draw(summary); schedule(); }
      })
      .catch(function (error) {
        setStatus("Could not refresh: " + error.message + " Trying again.", true);
        schedule();
      });
  }

  byId("token-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = byId("token-input").value.trim();
    if (value) {
      window.sessionStorage.setItem(TOKEN_KEY, value);
      byId("token-input").value = "";
      refresh();
    }
  });

  takeTokenFromFragment();
  refresh();
})();
