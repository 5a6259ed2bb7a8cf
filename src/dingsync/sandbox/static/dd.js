/* dingsync sandbox: a DingTalk client emulator for tests and the demo (not DingTalk's JSAPI). */
(function () {
  var BASE = __BASE__;
  var CORP_ID = __CORP_ID__;
  var params = new URLSearchParams(location.search);
  var store = window.sessionStorage;
  if (params.get("dd_user")) store.setItem("dd_user", params.get("dd_user"));
  if (params.get("dd_platform")) store.setItem("dd_platform", params.get("dd_platform"));
  var user = store.getItem("dd_user") || window.localStorage.getItem("dd_user");
  var platform = user ? (store.getItem("dd_platform") || "android") : "notInDingTalk";
  function log(entry) {
    var list = JSON.parse(store.getItem("dd_emulator_log") || "[]");
    entry.page = location.pathname;
    list.push(entry);
    store.setItem("dd_emulator_log", JSON.stringify(list));
  }
  function post(path, body) {
    // text/plain: a simple request, no CORS preflight
    return fetch(BASE + path, {method: "POST", body: JSON.stringify(body)}).then(function (r) {
      return r.json().then(function (data) { return {ok: r.ok, data: data}; });
    });
  }
  function requestAuthCode(opts) {
    if (!user) {
      return Promise.reject({errorCode: "9", errorMessage: "notInDingTalk"});
    }
    if (opts && opts.corpId && opts.corpId !== CORP_ID) {
      log({api: "requestAuthCode", ok: false, corpId: opts.corpId});
      return Promise.reject({errorCode: "3", errorMessage: "corpId 与当前组织不一致"});
    }
    return post("/sandbox/authcode", {userid: user}).then(function (r) {
      log({api: "requestAuthCode", ok: r.ok, userid: user});
      if (!r.ok) throw {errorCode: "3", errorMessage: r.data.error || "failed"};
      return {code: r.data.code, authCode: r.data.code};
    });
  }
  function api(fn) {
    return function (opts) {
      opts = opts || {};
      var p = fn(opts);
      p.then(function (res) { (opts.onSuccess || opts.success || function () {})(res); },
             function (err) { (opts.onFail || opts.fail || function () {})(err); });
      return p;
    };
  }
  var readyQueue = [], errorQueue = [], status = "pending", failure = null;
  function settle(ok, detail) {
    status = ok ? "ready" : "failed";
    failure = detail;
    var queue = ok ? readyQueue : errorQueue;
    readyQueue = []; errorQueue = [];
    queue.forEach(function (cb) { try { cb(detail); } catch (e) { console.error(e); } });
  }
  var configured = false;
  setTimeout(function () { if (!configured && status === "pending") settle(true); }, 0);
  var dd = {
    version: "7.0.0-sandbox",
    env: {platform: platform, version: "7.0.0", appName: "DingTalk", language: "zh_CN"},
    ready: function (cb) { if (status === "ready") setTimeout(cb, 0); else readyQueue.push(cb); },
    error: function (cb) {
      if (status === "failed") setTimeout(function () { cb(failure); }, 0);
      else errorQueue.push(cb);
    },
    config: function (cfg) {
      configured = true;
      status = "pending";
      var body = {agentId: cfg.agentId, corpId: cfg.corpId, timeStamp: cfg.timeStamp,
                  nonceStr: cfg.nonceStr, signature: cfg.signature, url: location.href};
      post("/sandbox/jsapi/verify", body).then(function (r) {
        log({api: "config", ok: r.ok, algorithm: r.data.algorithm, message: r.data.message});
        settle(r.ok, r.ok ? undefined : {errorCode: r.data.errorCode, message: r.data.message});
      });
    },
    getAuthCode: api(requestAuthCode),
    requestAuthCode: api(requestAuthCode),
    runtime: {permission: {requestAuthCode: api(requestAuthCode)}},
    biz: {navigation: {setTitle: api(function () { return Promise.resolve({}); })}},
    sandbox: {base: BASE, user: user}
  };
  window.dd = dd;
})();
