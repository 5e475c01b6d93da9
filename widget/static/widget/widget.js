/* Inside the widget's iframe: tell the host page how tall the content is, and ask it to close
   the panel. Messages go to the host portal's origin only (named, never "*"); this page takes
   no messages from anyone. */
(function () {
  "use strict";
  var host = document.documentElement.getAttribute("data-host-origin");
  if (!host || window.parent === window) return;
  function send(message) { window.parent.postMessage(message, host); }
  var last = 0;
  function resize() {
    var height = Math.ceil(document.documentElement.scrollHeight);
    if (height !== last) { last = height; send({ type: "helpdesk-widget:resize", height: height }); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    resize();
    if (window.ResizeObserver) new ResizeObserver(resize).observe(document.body);
    var close = document.querySelector("[data-widget-close]");
    if (close) close.addEventListener("click", function () { send({ type: "helpdesk-widget:close" }); });
  });
})();
