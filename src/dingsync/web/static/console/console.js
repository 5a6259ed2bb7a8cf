/* dingsync console: CSRF header on htmx requests, ECharts from embedded options. No build step.
 *
 * A chart is an element with data-chart="ID" and a <script type="application/json" id="ID">
 * holding an ECharts option object; it is drawn on load and after every htmx swap. The drawn
 * instance is reachable with echarts.getInstanceByDom(el) (tests read its data points). */
(function () {
  "use strict";
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : null;
  }
  document.addEventListener("htmx:configRequest", function (evt) {
    var t = csrf();
    if (t) { evt.detail.headers["X-CSRF-Token"] = t; }
  });
  function drawCharts(root) {
    if (!window.echarts) { return; }
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      var src = document.getElementById(el.getAttribute("data-chart"));
      if (!src) { return; }
      var option;
      try { option = JSON.parse(src.textContent); } catch (e) { return; }
      var chart = window.echarts.getInstanceByDom(el) || window.echarts.init(el);
      chart.setOption(option, true);
      el.setAttribute("data-chart-ready", "1");
    });
  }
  window.dingsyncDrawCharts = drawCharts;
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { drawCharts(evt.target); });
  window.addEventListener("resize", function () {
    if (!window.echarts) { return; }
    document.querySelectorAll("[data-chart-ready]").forEach(function (el) {
      var c = window.echarts.getInstanceByDom(el); if (c) { c.resize(); }
    });
  });
})();
