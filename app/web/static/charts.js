// Draws the indicator chart from the JSON the server embedded in the page (no inline script: CSP allows 'self' only).
(function () {
  "use strict";
  var holder = document.getElementById("chart");
  var source = document.getElementById("chart-data");
  if (!holder || !source || !window.echarts) { return; }
  var d = JSON.parse(source.textContent);
  var money = d.unit === "yuan";
  var scale = function (v) { return v === null || v === undefined ? null : (money ? v / 10000 : v); };
  var fmt = function (v) { return v === null || v === undefined ? "—" : Number(v).toLocaleString("zh-CN", {maximumFractionDigits: 2}); };
  var years = d.years.map(String);
  var series = d.lines.map(function (l) {
    return {
      name: l.name, type: "line", data: l.values.map(scale), connectNulls: false, symbolSize: l.city ? 7 : 4,
      z: l.city ? 5 : 2, lineStyle: {width: l.city ? 3.5 : 1.2, opacity: l.city ? 1 : 0.75},
      itemStyle: l.city ? {color: "#1f4e79"} : undefined, emphasis: {focus: "series"}
    };
  });
  d.targets.forEach(function (t, i) {
    if (t.year === null) { return; }
    var start = String(t.kind === "every_year" && t.from ? t.from : years[0]);
    series.push({
      name: "目标" + (d.targets.length > 1 ? i + 1 : ""), type: "line", data: [],
      lineStyle: {type: "dashed", color: "#c4162a", width: 2}, itemStyle: {color: "#c4162a"},
      markLine: {symbol: ["none", "circle"], silent: true, lineStyle: {type: "dashed", color: "#c4162a", width: 2},
                 label: {formatter: (t.op === ">=" ? "≥" : "≤") + fmt(scale(t.value)) + "（" + t.year + "年）", position: "insideEndTop"},
                 data: [[{coord: [start, scale(t.value)]}, {coord: [String(t.year), scale(t.value)]}]]}
    });
  });
  d.projections.forEach(function (p) {
    series.push({
      name: "预测", type: "line", symbol: "diamond", symbolSize: 8,
      lineStyle: {type: [6, 3, 2, 3], color: "#8f3bb8", width: 2}, itemStyle: {color: "#8f3bb8"},
      data: years.map(function (y) {
        if (y === String(p.from_year)) { return scale(p.from_value); }
        if (y === String(p.year)) { return scale(p.value); }
        return null;
      }), connectNulls: true
    });
  });
  var chart = echarts.init(holder, null, {renderer: "canvas"});
  var narrow = holder.clientWidth < 560;
  chart.setOption({
    animation: false,
    textStyle: {fontFamily: "Noto Sans CJK SC, Noto Sans SC, sans-serif"},
    tooltip: {trigger: "axis", valueFormatter: fmt},
    legend: {type: "scroll", top: 0, textStyle: {fontSize: narrow ? 10 : 12}},
    grid: {left: 8, right: narrow ? 12 : 24, top: narrow ? 56 : 40, bottom: 8, containLabel: true},
    xAxis: {type: "category", data: years, boundaryGap: false},
    yAxis: {type: "value", scale: true, name: money ? "万元" : (d.unit === "percent" ? "%" : ""),
            axisLabel: {formatter: function (v) { return fmt(v); }}},
    series: series
  });
  window.addEventListener("resize", function () { chart.resize(); });
  window.matchMedia("print").addEventListener("change", function () { chart.resize(); });
  holder.setAttribute("data-rendered", "true");
})();
