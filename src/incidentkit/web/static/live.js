// Live refresh of an open incident: poll its version; reload when it changes
// (or, when the reader has started typing into a form, say so instead).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || live.dataset.open !== "true") { return; }
  var seen = live.dataset.version;
  var every = Math.max(1, parseInt(live.dataset.interval, 10) || 10) * 1000;
  var typing = false;
  document.addEventListener("input", function () { typing = true; });
  function poll() {
    fetch(live.dataset.versionUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && String(body.version) !== seen) {
          if (typing) {
            document.getElementById("live-notice").hidden = false;
          } else {
            window.location.reload();
            return;
          }
        }
        window.setTimeout(poll, every);
      })
      .catch(function () { window.setTimeout(poll, every * 3); });
  }
  window.setTimeout(poll, every);
})();
