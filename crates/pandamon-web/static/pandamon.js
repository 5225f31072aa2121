// pandamon page behaviour: enhances server-rendered tables and draws charts. Every page is
// complete without it.
(function () {
  "use strict";

  function enhanceTables() {
    if (typeof DataTable === "undefined") return;
    document.querySelectorAll("table[data-enhance]").forEach(function (table) {
      // A short table only gets sorting: no pager, count line or search box around a few rows.
      var rows = table.tBodies.length ? table.tBodies[0].rows.length : 0;
      new DataTable(table, {
        paging: rows > 25,
        info: rows > 25,
        searching: rows > 10,
        pageLength: 25,
        lengthMenu: [10, 25, 50, 100, { label: "all", value: -1 }],
        order: [],
        autoWidth: false,
      });
    });
  }

  // One colour per job, task and worker status, in every chart and table.
  var STATUS_COLOURS = {
    finished: "#2e8b3e", done: "#2e8b3e", completed: "#2e8b3e",
    failed: "#c9302c", broken: "#8b1a1a", aborted: "#8b1a1a", missed: "#c9302c", exhausted: "#8b1a1a",
    holding: "#e8850c", throttled: "#b8860b", pending: "#9aa5b1",
    running: "#1f5fa8", transforming: "#1f5fa8", starting: "#6a4fb3", sent: "#8e6fd1", transferring: "#17918f", merging: "#17918f",
    activated: "#5aa9e6", assigned: "#7fb8e8", defined: "#a9cdee", waiting: "#a9cdee",
    submitted: "#5aa9e6", ready: "#7fb8e8", idle: "#b7c3d0", scouting: "#7fb8e8",
    cancelled: "#7a7a7a", closed: "#7a7a7a", removed: "#7a7a7a",
  };
  var STATUS_FIELDS = ["jobstatus", "status", "superstatus", "state"];

  function statusColour(name) {
    return Object.prototype.hasOwnProperty.call(STATUS_COLOURS, name) ? STATUS_COLOURS[name] : undefined;
  }

  // Status cells of tables and status facet values get the status's class (and so its colour).
  function markStatuses() {
    document.querySelectorAll("table.data").forEach(function (table) {
      var columns = [];
      table.querySelectorAll("thead th").forEach(function (th, i) {
        if (STATUS_FIELDS.indexOf(th.textContent.trim()) >= 0) columns.push(i);
      });
      if (!columns.length) return;
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        columns.forEach(function (i) {
          var td = tr.children[i];
          if (td && statusColour(td.textContent.trim())) td.classList.add("st-" + td.textContent.trim());
        });
      });
    });
    document.querySelectorAll(".facet").forEach(function (facet) {
      if (STATUS_FIELDS.indexOf(facet.getAttribute("data-field")) < 0) return;
      facet.querySelectorAll("a[data-value]").forEach(function (a) {
        var v = a.getAttribute("data-value");
        if (statusColour(v)) a.classList.add("st-" + v);
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
        left: "29%",
        top: "center",
        textAlign: "center",
        textStyle: { fontSize: 18 },
        subtextStyle: { fontSize: 12 },
      },
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: {
        type: "scroll",
        orient: "vertical",
        right: 4,
        top: 8,
        bottom: 8,
        width: "42%",
        textStyle: { fontSize: 11, width: 110, overflow: "truncate" },
        tooltip: { show: true },
      },
      series: [
        {
          type: "pie",
          center: ["30%", "50%"],
          radius: ["40%", "62%"],
          avoidLabelOverlap: true,
          label: { show: false },
          data: spec.data.map(function (d) {
            var colour = statusColour(d.name);
            return colour ? Object.assign({}, d, { itemStyle: { color: colour } }) : d;
          }),
        },
      ],
    });
    chart.on("click", function (p) {
      go(p.data && p.data.link);
    });
    return chart;
  }

  // Bars; `horizontal` ones list their categories down the side, where long names stay readable.
  function bar(el, spec) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    var categories = { type: "category", data: spec.categories, axisLabel: { rotate: 30, hideOverlap: true } };
    var values = { type: "value" };
    if (spec.horizontal) {
      categories = { type: "category", data: spec.categories, inverse: true, axisLabel: { fontSize: 11, width: 120, overflow: "truncate" } };
    }
    chart.setOption({
      title: { text: spec.title, left: "center", textStyle: { fontSize: 13 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, show: !spec.horizontal },
      grid: { left: 50, right: 20, top: 35, bottom: spec.horizontal ? 10 : 60, containLabel: true },
      xAxis: spec.horizontal ? values : categories,
      yAxis: spec.horizontal ? categories : values,
      series: spec.series.map(function (s) {
        var serie = { name: s.name, type: "bar", data: s.data };
        if (!spec.grouped) serie.stack = "total";
        var colour = s.colour || statusColour(s.name.split(" ")[0]);
        if (colour) serie.itemStyle = { color: colour };
        return serie;
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

  // Several time series: [[ms, value], ...] each; `dashed` ones are drawn dashed (targets).
  function lines(el, spec) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      title: { text: spec.title, left: "center", textStyle: { fontSize: 13 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 50, right: 20, top: 35, bottom: 60, containLabel: true },
      xAxis: { type: "time" },
      yAxis: { type: "value" },
      dataZoom: [{ type: "inside" }],
      series: spec.series.map(function (s) {
        var serie = { name: s.name, type: "line", showSymbol: false, data: s.data };
        if (s.dashed) serie.lineStyle = { type: "dashed", width: 1 };
        return serie;
      }),
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
      var draw = { pie: pie, bar: bar, line: line, lines: lines }[spec.type];
      if (draw) charts.push(draw(el, spec));
      el.setAttribute("data-drawn", "true");
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) {
        c.resize();
      });
    });
  }

  // "Go back" links return to the previous page when there is one (no inline script: the
  // content security policy forbids it).
  function wireBackLinks() {
    document.querySelectorAll("a[data-back]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        if (window.history.length > 1) {
          event.preventDefault();
          window.history.back();
        }
      });
    });
  }

  // "Narrow" forms add one condition (field = value) to the page's URL: the server applies it
  // to the whole selection, not to the rows shown.
  function wireNarrowForms() {
    document.querySelectorAll("form[data-narrow]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var params = new URLSearchParams();
        form.querySelectorAll("input[data-keep]").forEach(function (input) {
          params.append(input.name, input.value);
        });
        var field = form.elements.narrowfield.value;
        params.delete(field);
        params.set(field, form.elements.narrowvalue.value.trim());
        window.location.href = "?" + params.toString();
      });
    });
  }

  // The header's freshness line, and counters marked `data-live="jobsummary:<status>"`, follow
  // the data without a reload: asked for every 10 s (counters every 30 s) while the tab is
  // visible, at once when it becomes visible again.
  function keepLive() {
    var line = document.querySelector("header .freshness");
    var counters = document.querySelectorAll("[data-live]");
    var lastCounters = 0;
    function refresh() {
      if (document.visibilityState !== "visible") return;
      if (line) {
        fetch("/api/freshness", { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (f) { if (f && f.line) line.innerHTML = f.line; })
          .catch(function () {});
      }
      if (counters.length && Date.now() - lastCounters > 29000) {
        lastCounters = Date.now();
        var q = new URLSearchParams(window.location.search);
        q.set("json", "1");
        fetch(window.location.pathname + "?" + q.toString(), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            if (!data || !data.jobsummary) return;
            var counts = {};
            data.jobsummary.forEach(function (s) { counts[s.jobstatus] = s.count; });
            counters.forEach(function (el) {
              var key = el.getAttribute("data-live").split(":");
              if (key[0] !== "jobsummary") return;
              el.textContent = (counts[key[1]] || 0).toLocaleString("en").replace(/,/g, "\u2009");
            });
          })
          .catch(function () {});
      }
    }
    setInterval(refresh, 10000);
    document.addEventListener("visibilitychange", refresh);
  }

  // A workflow graph (`#dag[data-dag]`): tasks coloured by status with their files done/total,
  // laid out in layers by dagre. Big graphs fold the tasks of a layer that share a status into
  // one box (failed tasks stay single, one click from their task; a click on a box unfolds it)
  // and take the server's layers as positions when still too big for dagre. Redrawn from the
  // JSON every 30 s.
  var DAG_FOLD = 400; // fold layers of graphs with more tasks than this
  var DAG_DAGRE = 1500; // lay out with dagre up to this many drawn nodes
  var DAG_SINGLE = { failed: true, broken: true, aborted: true, exhausted: true };
  function dagElements(data, unfolded) {
    var group = {};
    var size = {};
    if (data.nodes.length > DAG_FOLD) {
      data.nodes.forEach(function (n) {
        var g = "layer-" + n.layer + "-" + n.status;
        if (DAG_SINGLE[n.status] || unfolded[g]) return;
        group[n.id] = g;
        size[g] = (size[g] || 0) + 1;
      });
    }
    var folded = {};
    Object.keys(group).forEach(function (id) {
      if (size[group[id]] >= 10) folded[id] = group[id];
    });
    var elements = [];
    var seen = {};
    var position = {};
    var perLayer = {};
    data.nodes.forEach(function (n) {
      var id = folded[n.id] || n.id;
      if (seen[id]) {
        seen[id].data.done += n.done;
        seen[id].data.total += n.total;
        seen[id].data.count += 1;
        return;
      }
      var slot = (perLayer[n.layer] = (perLayer[n.layer] || 0) + 1) - 1;
      position[id] = { x: slot * 150, y: n.layer * 110 };
      var el = {
        group: "nodes",
        data: { id: id, label: n.label, status: n.status, done: n.done, total: n.total, task: n.jeditaskid, count: 1, folded: !!folded[n.id], layer: n.layer },
        position: position[id],
      };
      seen[id] = el;
      elements.push(el);
    });
    elements.forEach(function (el) {
      var d = el.data;
      d.colour = statusColour(d.status) || "#9aa5b1";
      d.text = (d.folded ? "layer " + d.layer + ": " + d.count + " tasks " + d.status : d.label) + "\n" + d.done + " / " + d.total;
    });
    var edgeSeen = {};
    data.edges.forEach(function (e, i) {
      var s = folded[e.source] || e.source;
      var t = folded[e.target] || e.target;
      if (s === t || edgeSeen[s + ">" + t]) return;
      edgeSeen[s + ">" + t] = true;
      elements.push({ group: "edges", data: { id: "e" + i, source: s, target: t, cycle: e.cycle } });
    });
    // A graph much deeper than wide reads better from left to right.
    var counts = Object.keys(perLayer).map(function (l) { return perLayer[l]; });
    var across = counts.length > 1.5 * Math.max.apply(null, counts.concat([1]));
    if (across) {
      Object.keys(position).forEach(function (id) {
        var p = position[id];
        position[id] = { x: p.y * 1.6, y: p.x / 1.6 };
      });
      elements.forEach(function (el) { if (el.group === "nodes") el.position = position[el.data.id]; });
    }
    return { elements: elements, nodes: Object.keys(seen).length, across: across };
  }

  function drawDag() {
    var el = document.getElementById("dag");
    if (!el || typeof cytoscape === "undefined") return;
    var url = el.getAttribute("data-dag");
    var cy = null;
    var shape = "";
    var unfolded = {};
    var last = null;
    function render(data) {
      last = data;
      var built = dagElements(data, unfolded);
      var ids = built.elements.map(function (e) { return e.data.id; }).join(",");
      if (cy && ids === shape) {
        built.elements.forEach(function (e) {
          if (e.group === "nodes") cy.getElementById(e.data.id).data(e.data);
        });
        return;
      }
      shape = ids;
      if (cy) cy.destroy();
      var dagre = built.nodes <= DAG_DAGRE && typeof cytoscapeDagre !== "undefined";
      cy = cytoscape({
        container: el,
        elements: built.elements,
        wheelSensitivity: 0.3,
        textureOnViewport: built.nodes > 1000,
        hideEdgesOnViewport: built.nodes > 1000,
        style: [
          { selector: "node", style: { "background-color": "data(colour)", label: "data(text)", "text-wrap": "wrap", "font-size": 10, "text-valign": "bottom", "text-margin-y": 3, "min-zoomed-font-size": 5, width: 18, height: 18 } },
          { selector: "node[?folded]", style: { shape: "round-rectangle", width: 60, height: 22 } },
          { selector: "edge", style: { width: 1, "line-color": "#b7c3d0", "target-arrow-color": "#b7c3d0", "target-arrow-shape": "triangle", "curve-style": built.nodes > 1000 ? "haystack" : "bezier" } },
          { selector: "edge[?cycle]", style: { "line-color": "#c9302c", "target-arrow-color": "#c9302c", "line-style": "dashed", width: 2 } },
        ],
        layout: dagre ? { name: "dagre", rankDir: built.across ? "LR" : "TB", nodeSep: 20, rankSep: 60 } : { name: "preset" },
      });
      cy.on("tap", "node", function (evt) {
        var node = evt.target.data();
        if (node.folded) {
          unfolded[node.id] = true;
          render(last);
        } else if (node.task) {
          window.location.href = "/task/" + node.task + "/";
        }
      });
      el.setAttribute("data-tasks", String(data.nodes.length));
      el.setAttribute("data-drawn", String(built.nodes));
      window.pandamonDag = cy;
    }
    function load() {
      if (document.visibilityState !== "visible" && cy) return;
      fetch(url, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) render(data); })
        .catch(function () {});
    }
    load();
    setInterval(load, 30000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireBackLinks();
    drawDag();
    keepLive();
    wireNarrowForms();
    markStatuses();
    enhanceTables();
    drawCharts();
  });
})();
