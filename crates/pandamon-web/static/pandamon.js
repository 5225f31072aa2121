// pandamon page behaviour: enhances server-rendered tables and draws charts. Every page is
// complete without it.
(function () {
  "use strict";

  function enhanceTables() {
    if (typeof DataTable === "undefined") return;
    document.querySelectorAll("table[data-enhance]").forEach(function (table) {
      new DataTable(table, {
        pageLength: 25,
        lengthMenu: [10, 25, 50, 100, { label: "all", value: -1 }],
        order: [],
        autoWidth: false,
      });
    });
  }

  function go(link) {
    if (link) window.location.href = link;
  }

  function pie(el, spec) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      title: {
        text: spec.total,
        subtext: spec.title,
        left: "center",
        top: "center",
        textStyle: { fontSize: 18 },
        subtextStyle: { fontSize: 12 },
      },
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      series: [
        {
          type: "pie",
          radius: ["48%", "72%"],
          avoidLabelOverlap: true,
          label: { show: false },
          data: spec.data,
        },
      ],
    });
    chart.on("click", function (p) {
      go(p.data && p.data.link);
    });
    return chart;
  }

  function bar(el, spec) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      title: { text: spec.title, left: "center", textStyle: { fontSize: 13 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 50, right: 20, top: 35, bottom: 60, containLabel: true },
      xAxis: { type: "category", data: spec.categories, axisLabel: { rotate: 30 } },
      yAxis: { type: "value" },
      series: spec.series.map(function (s) {
        return { name: s.name, type: "bar", stack: "total", data: s.data };
      }),
    });
    chart.on("click", function (p) {
      go(spec.links && spec.links[p.dataIndex]);
    });
    return chart;
  }

  function line(el, spec) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      title: { text: spec.title, left: "center", textStyle: { fontSize: 13 } },
      tooltip: { trigger: "axis" },
      grid: { left: 50, right: 20, top: 35, bottom: 40, containLabel: true },
      xAxis: { type: "time" },
      yAxis: { type: "value" },
      dataZoom: [{ type: "inside" }],
      series: [{ type: "line", step: "end", showSymbol: false, areaStyle: {}, data: spec.data }],
    });
    return chart;
  }

  function drawCharts() {
    if (typeof echarts === "undefined") return;
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec;
      try {
        spec = JSON.parse(el.getAttribute("data-chart"));
      } catch (e) {
        return;
      }
      if (spec.wide) el.classList.add("wide");
      var draw = { pie: pie, bar: bar, line: line }[spec.type];
      if (draw) charts.push(draw(el, spec));
      el.setAttribute("data-drawn", "true");
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) {
        c.resize();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhanceTables();
    drawCharts();
  });
})();
