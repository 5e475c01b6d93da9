/* The helpdesk widget's snippet. A host portal pastes one tag:

     <script src="https://HELPDESK/widget/embed.js" data-token="SIGNED.JWT" async></script>

   (or data-token-url="/path/on/the/host/returning/a/fresh/token" to sign one per opening).
   It adds a launcher button; the first click opens the widget in an iframe and posts the token
   into it with a form (never in a URL). The iframe says how tall it is through postMessage;
   only messages from the helpdesk's origin and from that iframe are heard. No cookies. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var origin = new URL(script.src).origin;
  var label = script.getAttribute("data-label") || "Help";
  var token = script.getAttribute("data-token");
  var tokenUrl = script.getAttribute("data-token-url");
  var panel, frame, button, open = false, started = false;

  function style(el, css) { for (var k in css) el.style[k] = css[k]; }

  function fetchToken() {
    if (!tokenUrl) return Promise.resolve(token);
    return fetch(tokenUrl, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("token " + r.status);
      return r.text();
    });
  }

  function start() {
    started = true;
    var name = "helpdesk-widget-" + Math.random().toString(36).slice(2);
    frame = document.createElement("iframe");
    frame.name = name;
    frame.title = label;
    style(frame, { border: "0", width: "100%", height: "480px", display: "block", background: "#fff" });
    panel.appendChild(frame);
    fetchToken().then(function (value) {
      var form = document.createElement("form");
      form.method = "post";
      form.action = origin + "/widget/start/";
      form.target = name;
      form.style.display = "none";
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "token";
      input.value = (value || "").trim();
      form.appendChild(input);
      var from = document.createElement("input");
      from.type = "hidden";
      from.name = "origin";
      from.value = window.location.origin;
      form.appendChild(from);
      document.body.appendChild(form);
      form.submit();
      form.parentNode.removeChild(form);
    }, function () { started = false; panel.removeChild(frame); frame = null; toggle(false); });
  }

  function toggle(show) {
    open = show;
    panel.style.display = show ? "block" : "none";
    button.setAttribute("aria-expanded", show ? "true" : "false");
    if (show && !started) start();
    if (show && frame) frame.focus();
    if (!show) button.focus();
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || !frame || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (data.type === "helpdesk-widget:resize" && typeof data.height === "number") {
      var max = Math.max(240, window.innerHeight - 120);
      frame.style.height = Math.min(Math.max(data.height, 200), max) + "px";
    } else if (data.type === "helpdesk-widget:close") {
      toggle(false);
    }
  });

  function mount() {
    button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("data-helpdesk-launcher", "");
    style(button, { position: "fixed", right: "1rem", bottom: "1rem", zIndex: "2147483000",
      padding: ".6rem 1.1rem", borderRadius: "999px", border: "0", font: "600 15px system-ui, sans-serif",
      background: "#1d2430", color: "#fff", cursor: "pointer", boxShadow: "0 2px 8px rgba(0,0,0,.3)" });
    panel = document.createElement("div");
    panel.setAttribute("data-helpdesk-panel", "");
    style(panel, { position: "fixed", right: "1rem", bottom: "4rem", width: "min(28rem, calc(100vw - 2rem))",
      zIndex: "2147483000", display: "none", borderRadius: "8px", overflow: "auto",
      maxHeight: "calc(100vh - 5.5rem)", boxShadow: "0 4px 24px rgba(0,0,0,.35)", background: "#fff" });
    button.addEventListener("click", function () { toggle(!open); });
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }

  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
