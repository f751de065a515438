// makerfirst dashboard: draws the plotly figures each page carries in data-figure, and follows the
// server's /events stream (server-sent events): when a cycle is recorded or the kill switch moves,
// the page's content is fetched again and swapped in place. No build step, no network beyond us.
"use strict";

function drawPlots(root) {
  if (typeof Plotly === "undefined") return;
  root.querySelectorAll("div.plot[data-figure]").forEach(function (el) {
    var figure = JSON.parse(el.getAttribute("data-figure"));
    Plotly.react(el, figure.data, figure.layout, {displaylogo: false, responsive: true});
  });
}

function refresh() {
  fetch(window.location.href, {credentials: "same-origin"})
    .then(function (answer) { return answer.ok ? answer.text() : null; })
    .then(function (text) {
      if (text === null) return;
      var page = new DOMParser().parseFromString(text, "text/html");
      ["content", "state"].forEach(function (id) {
        var fresh = page.getElementById(id), current = document.getElementById(id);
        if (fresh && current) current.replaceWith(fresh);
      });
      drawPlots(document);
      document.body.setAttribute("data-refreshed", String(Date.now()));
    });
}

function follow() {
  if (typeof EventSource === "undefined") return;
  var seen = null;
  var events = new EventSource("/events");
  events.onmessage = function (message) {
    if (seen !== null && message.data !== seen) refresh();
    seen = message.data;
  };
}

document.addEventListener("DOMContentLoaded", function () {
  drawPlots(document);
  if (!document.querySelector("form.control")) follow();  // never swap a form while someone types
});
