// AWS Signature Version 4 for the browser (WebCrypto), enough for the vending API: API Gateway's IAM authorization
// checks it exactly as for the CLI. The signature covers method, path, query, host, x-amz-date, the session token,
// content-type and the body's SHA-256; locally `vend api serve --emulator` verifies it with botocore's own signer.
(function (global) {
  "use strict";
  var enc = new TextEncoder();

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function sha256(text) { return crypto.subtle.digest("SHA-256", enc.encode(text)); }
  function hmac(key, text) {
    var raw = typeof key === "string" ? enc.encode(key) : key;
    return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
      .then(function (k) { return crypto.subtle.sign("HMAC", k, enc.encode(text)); });
  }
  // RFC 3986 unreserved characters stay, everything else is %XX (what SigV4 calls UriEncode).
  function uriEncode(text) {
    return encodeURIComponent(text).replace(/[!'()*]/g, function (c) {
      return "%" + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }
  function canonicalQuery(params) {
    return Object.keys(params).sort().map(function (k) { return uriEncode(k) + "=" + uriEncode(params[k]); }).join("&");
  }
  function amzDate(now) { return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, ""); }

  // -> Promise of the headers to send: Authorization, X-Amz-Date, X-Amz-Security-Token (when a session), Content-Type.
  function sign(opts) {
    var url = new URL(opts.url);
    var now = opts.now || new Date();
    var stamp = amzDate(now), day = stamp.slice(0, 8);
    var body = opts.body || "";
    var params = {};
    url.searchParams.forEach(function (v, k) { params[k] = v; });
    var headers = { host: url.host, "x-amz-date": stamp };
    if (opts.credentials.sessionToken) { headers["x-amz-security-token"] = opts.credentials.sessionToken; }
    if (body) { headers["content-type"] = "application/json"; }
    var names = Object.keys(headers).sort();
    var path = url.pathname.split("/").map(function (p) { return uriEncode(decodeURIComponent(p)); }).join("/");
    var scope = [day, opts.region, opts.service || "execute-api", "aws4_request"].join("/");
    return sha256(body).then(function (bodyHash) {
      var canonical = [
        opts.method.toUpperCase(), path || "/", canonicalQuery(params),
        names.map(function (n) { return n + ":" + String(headers[n]).trim() + "\n"; }).join(""),
        names.join(";"), hex(bodyHash)
      ].join("\n");
      return sha256(canonical);
    }).then(function (canonicalHash) {
      var toSign = ["AWS4-HMAC-SHA256", stamp, scope, hex(canonicalHash)].join("\n");
      return hmac("AWS4" + opts.credentials.secretAccessKey, day)
        .then(function (k) { return hmac(k, opts.region); })
        .then(function (k) { return hmac(k, opts.service || "execute-api"); })
        .then(function (k) { return hmac(k, "aws4_request"); })
        .then(function (k) { return hmac(k, toSign); })
        .then(function (signature) {
          var out = {
            "Authorization": "AWS4-HMAC-SHA256 Credential=" + opts.credentials.accessKeyId + "/" + scope +
              ", SignedHeaders=" + names.join(";") + ", Signature=" + hex(signature),
            "X-Amz-Date": stamp
          };
          if (headers["x-amz-security-token"]) { out["X-Amz-Security-Token"] = headers["x-amz-security-token"]; }
          if (headers["content-type"]) { out["Content-Type"] = headers["content-type"]; }
          return out;
        });
    });
  }

  global.SigV4 = { sign: sign };
})(window);
