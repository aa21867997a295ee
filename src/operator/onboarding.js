// Copy buttons and "Test my connection": a real token request and one list call through this
// gateway with the credentials on the page. No framework, nothing fetched from elsewhere.
(function () {
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      var text = el.value !== undefined ? el.value : el.textContent;
      var done = function () { b.textContent = b.getAttribute("data-copied"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { el.select && el.select(); document.execCommand("copy"); done(); });
      } else { el.select && el.select(); document.execCommand("copy"); done(); }
    });
  });
  var test = document.getElementById("test");
  if (!test) return;
  test.addEventListener("click", function () {
    var out = document.getElementById("test-result");
    var d = test.dataset;
    out.textContent = d.running;
    var started = performance.now();
    var form = new URLSearchParams();
    form.set("grant_type", "client_credentials");
    form.set("client_id", document.getElementById("client-id").value);
    form.set("client_secret", document.getElementById("client-secret").value);
    fetch(d.tokenUrl, { method: "POST", body: form })
      .then(function (r) { return r.json().then(function (t) { return [r.status, t]; }); })
      .then(function (rt) {
        if (rt[0] !== 200) throw new Error("token " + rt[0]);
        return fetch(d.callUrl, { headers: { "Authorization": "Bearer " + rt[1].access_token, "Accept-Language": document.documentElement.lang } });
      })
      .then(function (r) {
        return r.json().then(function (body) {
          var ms = Math.round(performance.now() - started);
          var record = Array.isArray(body.data) ? body.data[0] : body;
          out.innerHTML = "";
          var s = document.createElement("p");
          s.className = r.ok ? "status-ok" : "status-bad";
          s.id = "test-status";
          s.textContent = d.statusLabel + " " + r.status + " \u00b7 " + ms + " ms";
          out.appendChild(s);
          var pre = document.createElement("pre");
          pre.textContent = JSON.stringify(record === undefined ? body : record, null, 2).slice(0, 2000);
          out.appendChild(pre);
        });
      })
      .catch(function (e) { out.innerHTML = ""; var p = document.createElement("p"); p.className = "status-bad"; p.id = "test-status"; p.textContent = d.failed + " " + e.message; out.appendChild(p); });
  });
})();
