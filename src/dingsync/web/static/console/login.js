/* dingsync console login: inside DingTalk (H5 micro-app), log in with a login-free code.
 * In an ordinary browser DingTalk's JSAPI says dd.env.platform === "notInDingTalk" and the page
 * keeps its 钉钉扫码登录 button. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("login-config").textContent);
  // A failed login's page keeps no login code in the address bar (history, screenshots, a
  // shared link): the URL becomes the login page's own, with the error's code.
  var shown = document.querySelector("[data-testid=login-error]");
  if (shown && /[?&](authCode|code|state)=/.test(window.location.search) && window.history.replaceState) {
    var q = "?error=" + encodeURIComponent(shown.getAttribute("data-error-code") || "");
    if (cfg.next && cfg.next !== "/console") q += "&next=" + encodeURIComponent(cfg.next);
    window.history.replaceState(null, "", "/console/login" + q);
  }
  var dd = window.dd;
  if (!dd || !dd.env || !dd.env.platform || dd.env.platform === "notInDingTalk") return;
  // A login that just failed is shown, not retried in a loop.
  if (document.querySelector("[data-testid=login-error]")) return;
  document.body.classList.add("in-dingtalk");
  var waiting = document.querySelector("[data-testid=login-dd]");
  var errorBox = document.querySelector("[data-testid=login-error-dd]");
  waiting.hidden = false;

  function fail(message, code) {
    waiting.hidden = true;
    errorBox.hidden = false;
    errorBox.textContent = message;
    if (code) errorBox.setAttribute("data-error-code", code);
    document.body.classList.remove("in-dingtalk");
  }

  function go(next) { window.location.replace(next || "/console"); }
  // DingTalk just said who is here: the pages need not ask again in this tab (identity.js).
  function remember(userid) {
    try { if (userid) window.sessionStorage.setItem("dingsync_identity", userid); } catch (e) { /* private mode */ }
  }

  function exchange(code) {
    fetch("/console/login/authcode", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({authCode: code, url: window.location.href, next: cfg.next,
                            corpId: cfg.corpId})
    }).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      if (!res.ok) {
        var err = (res.body && res.body.error) || {};
        fail(err.message || "登录失败", err.code);
        return;
      }
      remember(res.body.userid);
      var jsapi = res.body.jsapi;
      if (!jsapi || typeof dd.config !== "function") { go(res.body.next); return; }
      // Sign the page for the JSAPI (dd.config), then go on either way: a page that needs a
      // JSAPI signs itself again (/api/jsapi/config).
      dd.config({agentId: jsapi.agentId, corpId: jsapi.corpId, timeStamp: jsapi.timeStamp,
                 nonceStr: jsapi.nonceStr, signature: jsapi.signature, type: 0,
                 jsApiList: ["runtime.permission.requestAuthCode", "biz.navigation.setTitle"]});
      var done = false;
      function once() { if (!done) { done = true; go(res.body.next); } }
      dd.ready(once);
      dd.error(function (e) { if (window.console) console.warn("dd.config", e); once(); });
    }).catch(function () { fail("网络错误，请重试。"); });
  }

  dd.ready(function () {
    dd.runtime.permission.requestAuthCode({
      corpId: cfg.corpId,
      onSuccess: function (result) { exchange(result.code || result.authCode); },
      onFail: function (err) {
        fail("无法获取钉钉免登授权码：" + ((err && (err.errorMessage || err.message)) || "未知错误"));
      }
    });
  });
})();
