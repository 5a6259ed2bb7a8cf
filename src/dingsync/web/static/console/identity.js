/* dingsync console inside DingTalk (H5 micro-app): is the person at this device the cookie's?
 *
 * A phone or PC shared by several people keeps the last one's session cookie. Once per tab
 * (sessionStorage), a page opened inside DingTalk asks DingTalk for a fresh login-free code and
 * posts it to /console/login/recheck: the same person keeps the session; another person gets
 * their own (the old one is revoked) and starts at the console's home; a refused code ends the
 * session and shows the login page with the reason. In an ordinary browser nothing happens. */
(function () {
  "use strict";
  var cfgEl = document.getElementById("identity-config");
  var dd = window.dd;
  if (!cfgEl || !dd || !dd.env || !dd.env.platform || dd.env.platform === "notInDingTalk") return;
  var cfg = JSON.parse(cfgEl.textContent);
  var KEY = "dingsync_identity";
  var store = null;
  try { store = window.sessionStorage; } catch (e) { store = null; }
  if (store && store.getItem(KEY) === cfg.userid) return;
  var note = document.querySelector("[data-testid=identity-check]");
  // The previous person's data stays hidden until DingTalk says who is here.
  document.body.classList.add("identity-checking");
  if (note) note.hidden = false;

  function done() {
    document.body.classList.remove("identity-checking");
    if (note) note.hidden = true;
  }
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  function recheck(code) {
    fetch("/console/login/recheck", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
      body: JSON.stringify({authCode: code})
    }).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      var body = res.body || {};
      if (res.ok && !body.switched) {
        if (store) store.setItem(KEY, cfg.userid);
        done();
      } else if (res.ok) {
        if (store) store.setItem(KEY, body.userid);
        window.location.replace(body.next || "/console");
      } else {
        if (store) store.removeItem(KEY);
        window.location.replace(body.login || "/console/login");
      }
    }).catch(function () { done(); });
  }
  dd.ready(function () {
    dd.runtime.permission.requestAuthCode({
      corpId: cfg.corpId,
      onSuccess: function (result) { recheck(result.code || result.authCode); },
      onFail: function () { done(); }
    });
  });
})();
