// Mojule dashboard: local times, copy buttons, confirmations and charts. Pages work
// without it; this only formats and draws. No outside requests.
(function () {
  "use strict";

  var announcer = function (text) {
    var region = document.getElementById("announcer");
    if (region) { region.textContent = ""; setTimeout(function () { region.textContent = text; }, 50); }
  };

  // Times arrive as UTC ISO 8601 in <time datetime>; show them in the viewer's zone.
  var FORMATS = {
    datetime: { dateStyle: "medium", timeStyle: "short" },
    date: { dateStyle: "medium" },
    time: { timeStyle: "short" },
    seconds: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
    "datetime-seconds": { dateStyle: "medium", timeStyle: "medium" }
  };
  function formatTimes() {
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var format = el.getAttribute("data-format") || "datetime";
      var value = el.getAttribute("datetime");
      if (format === "day") {
        // A calendar day (YYYY-MM-DD), not an instant: format it without shifting zones.
        var day = new Date(value + "T00:00:00Z");
        if (!isNaN(day)) {
          el.textContent = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" }).format(day);
        }
        return;
      }
      var moment = new Date(value);
      if (isNaN(moment)) { return; }
      el.textContent = new Intl.DateTimeFormat(undefined, FORMATS[format] || FORMATS.datetime).format(moment);
      el.title = moment.toISOString().replace(".000Z", "Z") + " (UTC)";
    });
  }

  function browserTimeZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }

  function wireForms() {
    document.querySelectorAll("input[data-browser-tz]").forEach(function (input) {
      input.value = browserTimeZone();
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  function wireCopyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source) { return; }
        var text = source.textContent;
        var done = function () {
          var label = button.textContent;
          button.textContent = "Copied";
          announcer("Copied to the clipboard");
          setTimeout(function () { button.textContent = label; }, 1600);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
        } else {
          selectText(source);
          try { if (document.execCommand("copy")) { done(); } } catch (e) { /* selected: copy by hand */ }
        }
      });
    });
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // Share bars: widths from data attributes, since the page's CSP allows no inline styles.
  function drawBars() {
    document.querySelectorAll("[data-share]").forEach(function (bar) {
      bar.style.width = Math.max(0, Math.min(100, parseFloat(bar.getAttribute("data-share")) || 0)) + "%";
    });
  }

  var COLORS = { accent: "#3446c9", violet: "#7b5bd6", teal: "#0f8a8a", amber: "#c27c0e", added: "#0f7a3d", removed: "#b42318", grid: "#e8eaee", text: "#5a6472" };
  var usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
  var grouped = new Intl.NumberFormat(undefined);

  function drawCharts() {
    var source = document.getElementById("chart-data");
    if (!source || typeof window.Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var labels = data.days.map(function (day) {
      return new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" }).format(new Date(day + "T00:00:00Z"));
    });
    var Chart = window.Chart;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = COLORS.text;
    Chart.defaults.animation = false;
    var base = function (formatTick, stacked, wholeNumbers) {
      return {
        responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: { callbacks: { label: function (ctx) { return " " + ctx.dataset.label + ": " + formatTick(ctx.parsed.y); } } }
        },
        scales: {
          x: { stacked: !!stacked, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: { stacked: !!stacked, beginAtZero: true, grid: { color: COLORS.grid }, ticks: { callback: formatTick, maxTicksLimit: 6, precision: wholeNumbers ? 0 : undefined } }
        }
      };
    };
    var compact = function (value) {
      return new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 }).format(value);
    };
    var charts = {
      cost: { type: "bar", data: { labels: labels, datasets: [
        { label: "Cost", data: data.cost_usd, backgroundColor: COLORS.accent, borderRadius: 3 }] },
        options: base(function (v) { return usd.format(v); }) },
      people: { type: "bar", data: { labels: labels, datasets: [
        { label: "Sessions", data: data.sessions, backgroundColor: COLORS.accent, borderRadius: 3 },
        { label: "Active users", data: data.active_users, backgroundColor: COLORS.teal, borderRadius: 3 }] },
        options: base(function (v) { return grouped.format(v); }, false, true) },
      tokens: { type: "bar", data: { labels: labels, datasets: [
        { label: "Input", data: data.tokens.input, backgroundColor: COLORS.accent },
        { label: "Output", data: data.tokens.output, backgroundColor: COLORS.violet },
        { label: "Cache read", data: data.tokens.cache_read, backgroundColor: "#9aa6e8" },
        { label: "Cache write", data: data.tokens.cache_creation, backgroundColor: COLORS.amber }] },
        options: base(compact, true, true) },
      lines: { type: "bar", data: { labels: labels, datasets: [
        { label: "Added", data: data.lines_added, backgroundColor: COLORS.added, borderRadius: 3 },
        { label: "Removed", data: data.lines_removed, backgroundColor: COLORS.removed, borderRadius: 3 }] },
        options: base(function (v) { return grouped.format(v); }, false, true) }
    };
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var config = charts[canvas.getAttribute("data-chart")];
      if (config) { new Chart(canvas, config); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    formatTimes();
    wireForms();
    wireCopyButtons();
    drawBars();
    drawCharts();
  });
})();
