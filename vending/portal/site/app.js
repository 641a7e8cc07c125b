// The portal as static assets (S3 behind CloudFront in AWS): every page is drawn from the vending API, called with
// SigV4-signed requests from the signed-in person's short-lived credentials (a Cognito identity pool's session in AWS;
// an emulator role's session locally). The credentials live in this tab's sessionStorage only, for at most an hour,
// and are dropped at sign-out. The API decides what each person sees (vending.api.access): nothing here widens it.
// DOM is built with textContent only (never as HTML), so nothing the API returns is ever read as markup.
(function () {
  "use strict";
  var STORE = "vend.portal.credentials";
  var TERMINAL = ["READY", "FAILED", "CLOSED", "SUSPENDED", "PENDING_CLOSURE"];
  var FIELDS = ["team", "stage", "owner_email", "cost_center", "gpu_tier", "regions", "stacks", "repository"];
  var main = document.getElementById("main");
  var config = null, schema = null, me = null, timer = null;

  // --- small helpers -------------------------------------------------------------------------------------------
  function h(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k.slice(0, 2) === "on") { node.addEventListener(k.slice(2), v); } else { node.setAttribute(k, v === true ? "" : v); }
    });
    for (var i = 2; i < arguments.length; i++) { append(node, arguments[i]); }
    return node;
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) { return; }
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  function show(title) {
    clearTimeout(timer);
    document.title = title + " · Account vending";
    main.textContent = "";
    for (var i = 1; i < arguments.length; i++) { append(main, arguments[i]); }
    main.focus();
    performance.mark("portal-drawn");  // the browser test's time-to-content: the page's data drawn, not "Loading…"
  }
  function when(v) { return (v || "").slice(0, 19).replace("T", " "); }
  function seconds(v) { return v === null || v === undefined ? "" : (v < 120 ? v.toFixed(1) + " s" : (v / 60).toFixed(1) + " min"); }
  function usd(v) { return Number(v || 0).toFixed(2); }
  function status(s) { return h("span", { "class": "status s-" + String(s).toLowerCase() }, s); }
  function facts(pairs) {
    return h("dl", { "class": "facts" }, pairs.map(function (p) { return [h("dt", null, p[0]), h("dd", null, p[1])]; }));
  }
  function table(caption, heads, rows) {
    return h("table", null, h("caption", null, caption),
      h("thead", null, h("tr", null, heads.map(function (t) { return h("th", { scope: "col" }, t); }))),
      h("tbody", null, rows.map(function (r) {
        return h("tr", null, r.map(function (c, i) { return i === 0 ? h("th", { scope: "row" }, c) : h("td", null, c); }));
      })));
  }
  function link(href, text) { return h("a", { href: href }, text); }
  function random(bytes) {
    var raw = crypto.getRandomValues(new Uint8Array(bytes));
    return btoa(String.fromCharCode.apply(null, raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // --- credentials -------------------------------------------------------------------------------------------
  function credentials() {
    var kept = JSON.parse(sessionStorage.getItem(STORE) || "null");
    if (!kept || kept.expiration - 60000 < Date.now()) { sessionStorage.removeItem(STORE); return null; }
    return kept;
  }
  function keep(answer, label) {
    sessionStorage.setItem(STORE, JSON.stringify({
      accessKeyId: answer.AccessKeyId, secretAccessKey: answer.SecretAccessKey || answer.SecretKey,
      sessionToken: answer.SessionToken, expiration: Number(answer.Expiration) * 1000, label: label
    }));
  }
  function postJson(url, body, headers) {
    return fetch(url, { method: "POST", headers: Object.assign({ "Content-Type": "application/json" }, headers || {}),
      body: JSON.stringify(body), credentials: "omit" }).then(function (r) {
      return r.json().then(function (b) { if (!r.ok) { throw new Error(b.message || b.error || r.status); } return b; });
    });
  }
  // Cognito: the hosted UI's authorization code (PKCE), its id token, then the identity pool's short-lived role session.
  function cognitoStart() {
    var s = config.signIn, verifier = random(48), state = random(16);
    sessionStorage.setItem("vend.pkce", JSON.stringify({ verifier: verifier, state: state }));
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)).then(function (d) {
      var challenge = btoa(String.fromCharCode.apply(null, new Uint8Array(d))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      location.assign(s.domain + "/oauth2/authorize?" + new URLSearchParams({ response_type: "code", client_id: s.userPoolClientId,
        redirect_uri: location.origin + "/", scope: "openid", state: state, code_challenge_method: "S256", code_challenge: challenge }));
    });
  }
  function cognitoFinish(code, state) {
    var s = config.signIn, pkce = JSON.parse(sessionStorage.getItem("vend.pkce") || "null");
    sessionStorage.removeItem("vend.pkce");
    history.replaceState(null, "", location.pathname + "#/");
    if (!pkce || pkce.state !== state) { return Promise.reject(new Error("sign-in state does not match: sign in again")); }
    var identity = "https://cognito-identity." + config.region + ".amazonaws.com/";
    var target = function (op) { return { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSCognitoIdentityService." + op }; };
    var logins = {};
    return fetch(s.domain + "/oauth2/token", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", client_id: s.userPoolClientId, code: code,
        redirect_uri: location.origin + "/", code_verifier: pkce.verifier }) })
      .then(function (r) { if (!r.ok) { throw new Error("the sign-in code was refused"); } return r.json(); })
      .then(function (tokens) {
        logins[s.provider] = tokens.id_token;
        return fetch(identity, { method: "POST", headers: target("GetId"), body: JSON.stringify({ IdentityPoolId: s.identityPoolId, Logins: logins }) });
      })
      .then(function (r) { return r.json(); })
      .then(function (id) {
        return fetch(identity, { method: "POST", headers: target("GetCredentialsForIdentity"),
          body: JSON.stringify({ IdentityId: id.IdentityId, Logins: logins }) });
      })
      .then(function (r) { if (!r.ok) { throw new Error("no role for this user: ask a platform admin to add you to a group"); } return r.json(); })
      .then(function (answer) { keep(answer.Credentials, "signed in"); });
  }

  // --- the API ---------------------------------------------------------------------------------------------
  function Refused(status, body) { this.status = status; this.body = body || {}; this.message = (body && body.message) || String(status); }
  function api(method, path, body) {
    var creds = credentials();
    if (!creds) { location.hash = "#/signin"; return Promise.reject(new Refused(401, { message: "Sign in first." })); }
    var url = config.apiUrl + path, text = body === undefined ? "" : JSON.stringify(body);
    return SigV4.sign({ method: method, url: url, body: text, region: config.region, credentials: creds })
      .then(function (headers) { return fetch(url, { method: method, headers: headers, body: text || undefined, credentials: "omit" }); })
      .then(function (r) {
        var kind = r.headers.get("Content-Type") || "";
        return (kind.indexOf("json") >= 0 ? r.json() : r.text()).then(function (answer) {
          if (!r.ok) { throw new Refused(r.status, typeof answer === "object" ? answer : { message: answer }); }
          return answer;
        });
      });
  }
  function failed(e) {
    header();  // signed in but refused (an expired or altered session): signing out must stay possible
    show("Refused", h("h1", null, e.status ? e.status + " " + (e.body.code || "") : "Something went wrong"),
      h("p", { role: "alert", "class": "error-text" }, e.message || String(e)), h("p", null, link("#/", "Back to my requests")));
  }

  // --- pages --------------------------------------------------------------------------------------------------
  function signinPage() {
    var s = config.signIn;
    if (s.kind === "cognito") {
      return show("Sign in", h("h1", null, "Sign in"), h("p", null, "Your platform's sign-in page proves who you are; the portal then holds a one-hour AWS session in this tab only."),
        h("button", { type: "button", onclick: cognitoStart }, "Sign in"));
    }
    return fetch(s.principalsUrl, { credentials: "omit" }).then(function (r) { return r.json(); }).then(function (choices) {
      show("Sign in", h("h1", null, "Sign in"), h("p", null, "On the emulator you choose who you are; the portal holds that role's one-hour session in this tab only."),
        h("ul", { "class": "choices" }, choices.map(function (c) {
          return h("li", null, h("button", { type: "button", onclick: function () {
            postJson(s.url, { principal: c.key }).then(function (answer) { keep(answer, c.label); go("#/"); }).catch(failed);
          } }, "Sign in as " + c.label), " ", h("span", { "class": "help" }, c.description));
        })));
    });
  }

  function requestsPage() {
    return api("GET", "/requests").then(function (answer) {
      var list = answer.requests.sort(function (a, b) { return (b.updated_at || "").localeCompare(a.updated_at || ""); });
      show("My requests", h("h1", null, "My requests"), list.length === 0 ? h("p", null, "No requests yet. ", link("#/requests/new", "Request an environment"), ".") :
        table("Requests you can see (" + list.length + ")", ["Request", "Status", "Step", "Account", "Updated"], list.map(function (r) {
          return [link("#/requests/" + encodeURIComponent(r.request_id), r.request_id), status(r.status), r.step || "",
            r.account_id ? link("#/accounts/" + encodeURIComponent(r.request_id), r.account_id) : "-", when(r.updated_at)];
        })));
    });
  }

  function draftOf(form) {
    var data = new FormData(form), draft = {};
    FIELDS.forEach(function (name) {
      if (name === "regions" || name === "stacks") {
        var picked = data.getAll(name).filter(Boolean);
        if (name === "stacks") { picked = ["bootstrap"].concat(picked.filter(function (p) { return p !== "bootstrap"; })); }
        if (picked.length) { draft[name] = picked; }
      } else if (String(data.get(name) || "").trim() !== "") { draft[name] = String(data.get(name)).trim(); }
    });
    return draft;
  }
  function previewPanel(p) {
    return [h("h2", { id: "preview-heading" }, "What this request gets"), facts([
      ["GPU tier", (p.gpu_tier || "choose a tier") + (p.tier_description ? ": " + p.tier_description : "")],
      ["EC2 accelerated types", p.ec2_instance_types.join(", ") || "none"],
      ["SageMaker accelerated types", p.sagemaker_instance_types.join(", ") || "none"],
      ["Monthly budget", p.monthly_budget_usd ? Math.round(p.monthly_budget_usd) + " USD" : "-"],
      ["Spend caps", p.spend_caps ? p.spend_caps.hourly_usd + " USD/hour, " + p.spend_caps.daily_usd + " USD/day" : "-"],
      ["Regions", p.regions.join(", ") || "none chosen"]]),
      h("h3", null, "Stacks"), h("ul", null, p.stacks.map(function (s) { return h("li", null, h("code", null, s.name), ": " + s.description); })),
      h("h3", null, "Guardrails, in plain words"), h("ul", null, p.guardrails.map(function (g) { return h("li", null, g.replace(/`/g, "")); }))];
  }
  // The workflow's Reserve step writes the record a moment after the execution starts: wait for it (bounded).
  function recorded(rid, until) {
    return api("GET", "/requests/" + encodeURIComponent(rid)).catch(function (e) {
      if (e.status !== 404 || Date.now() > until) { throw e; }
      return new Promise(function (done) { setTimeout(done, 250); }).then(function () { return recorded(rid, until); });
    });
  }
  function newRequestPage() {
    return api("POST", "/preview", {}).then(function (first) {
      var p = first.preview, touched = {}, pending = null;
      var options = {
        stage: (schema.properties.stage.enum || []).map(function (v) { return [v, v]; }),
        gpu_tier: Object.keys(p.tiers).map(function (t) { return [t, t + ": " + p.tiers[t]]; }),
        regions: p.allowed_regions.map(function (r) { return [r, r]; }),
        stacks: p.templates.filter(function (t) { return t !== "bootstrap"; }).map(function (t) { return [t, t]; })
      };
      var fields = FIELDS.map(function (name) {
        var prop = schema.properties[name], required = schema.required.indexOf(name) >= 0;
        var label = name.replace(/_/g, " ").replace(/^./, function (c) { return c.toUpperCase(); }) + (required ? " (required)" : "");
        var help = h("p", { "class": "help", id: "help-" + name }, (prop.description || "") + (name === "stacks" ? " (bootstrap is always included)" : ""));
        var err = h("p", { "class": "error-text", id: "err-" + name, "aria-live": "polite" });
        var control;
        if (prop.type === "array") {
          control = h("fieldset", { "aria-describedby": "help-" + name + " err-" + name }, h("legend", null, label), help,
            options[name].map(function (o, i) {
              return h("div", { "class": "choice" }, h("input", { type: "checkbox", id: name + "-" + i, name: name, value: o[0] }), h("label", { "for": name + "-" + i }, o[1]));
            }));
          return h("div", { "class": "field", "data-field": name }, control, err);
        }
        control = options[name] ? h("select", { id: "f-" + name, name: name, "aria-describedby": "help-" + name + " err-" + name },
          h("option", { value: "" }, "Choose…"), options[name].map(function (o) { return h("option", { value: o[0] }, o[1]); })) :
          h("input", { id: "f-" + name, name: name, type: name === "owner_email" ? "email" : "text", autocomplete: "off",
            maxlength: prop.maxLength, "aria-describedby": "help-" + name + " err-" + name });
        return h("div", { "class": "field", "data-field": name }, h("label", { "for": "f-" + name }, label), help, control, err);
      });
      var formError = h("p", { role: "alert", "class": "error-text" });
      var preview = h("section", { id: "preview", "aria-labelledby": "preview-heading", "aria-live": "polite", "class": "panel" }, previewPanel(p));
      var form = h("form", { id: "request-form", novalidate: true }, formError, fields,
        h("div", { "class": "actions" }, h("button", { type: "submit" }, "Submit request")));
      function showErrors(errors, all) {
        var byField = {};
        errors.forEach(function (e) { var n = e.field.split(".")[0]; (byField[n] = byField[n] || []).push(e.message); });
        FIELDS.forEach(function (name) {
          var shown = (all || touched[name]) && byField[name];
          document.getElementById("err-" + name).textContent = shown ? byField[name].join("; ") : "";
          var control = form.querySelector("[data-field=" + name + "] input:not([type=checkbox]), [data-field=" + name + "] select");
          if (control) { if (shown) { control.setAttribute("aria-invalid", "true"); } else { control.removeAttribute("aria-invalid"); } }
        });
        formError.textContent = byField.request ? byField.request.join("; ") : "";
      }
      function check() {
        return api("POST", "/preview", draftOf(form)).then(function (answer) {
          showErrors(answer.errors, false);
          preview.textContent = "";
          append(preview, previewPanel(answer.preview));
          return answer;
        });
      }
      function typed(event) {
        var box = event.target.closest("[data-field]");
        if (box) { touched[box.getAttribute("data-field")] = true; }
        clearTimeout(pending);
        pending = setTimeout(function () { check().catch(function () { /* the submit checks again */ }); }, 250);
      }
      form.addEventListener("input", typed);
      form.addEventListener("change", typed);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var draft = draftOf(form);
        api("POST", "/preview", draft).then(function (answer) {
          if (!answer.valid) { showErrors(answer.errors, true); return null; }
          return api("POST", "/requests", draft).then(function (made) {
            return recorded(made.request_id, Date.now() + 15000).then(function () { go("#/requests/" + encodeURIComponent(made.request_id)); });
          });
        }).catch(function (e) { showErrors(e.body && e.body.errors ? e.body.errors : [{ field: "request", message: e.message }], true); });
      });
      show("Request an environment", h("h1", null, "Request an environment"), h("div", { "class": "two" }, form, preview));
    });
  }

  function timelineSection(record, timeline) {
    var terminal = TERMINAL.indexOf(record.status) >= 0;
    return [h("h2", { id: "timeline-heading" }, "Timeline"),
      h("p", null, "Status ", status(record.status), record.step ? " at " + record.step : "", terminal ? "" : " (refreshing)"),
      record.failed_step ? h("p", { "class": "error-text", role: "alert" }, "Failed at ", h("strong", null, record.failed_step), ": " + (record.failure_reason || "")) : null,
      timeline.executions.length === 0 ? h("p", null, "No execution yet.") : timeline.executions.map(function (run) {
        return [h("h3", null, (run.kind === "vend" ? "Vend, attempt " + run.attempt : "Change " + run.change_id) + ": " + run.status + " (" + seconds(run.seconds) + ")"),
          h("ol", { "class": "timeline" }, run.steps.map(function (s) {
            return h("li", { "class": "step o-" + s.outcome }, h("span", { "class": "name" }, s.name), " ", h("span", { "class": "outcome" }, s.outcome), " ",
              h("span", { "class": "dur" }, seconds(s.seconds)), s.errors.length ? h("span", { "class": "error-text" }, " (" + s.errors.length + " failed attempt(s): " + s.errors.join(", ") + ")") : null);
          })),
          run.failure ? h("p", { "class": "error-text" }, "Error ", h("code", null, run.failure.error), ": " + run.failure.cause) : null];
      })];
  }
  function requestPage(rid) {
    var path = "/requests/" + encodeURIComponent(rid);
    return Promise.all([api("GET", path), api("GET", path + "/timeline"), api("GET", "/changes"), api("POST", "/preview", {})]).then(function (got) {
      var record = got[0], changes = got[2].changes.filter(function (c) { return c.request_id === rid; });
      var section = h("section", { id: "timeline", "aria-labelledby": "timeline-heading", "aria-live": "polite" }, timelineSection(record, got[1]));
      var notice = h("p", { role: "status", "class": "notice" });
      var actions = [];
      if (record.status === "FAILED" && me.role === "admin") {
        actions.push(h("button", { type: "button", onclick: function () {
          api("POST", path + "/resume").then(function () { notice.textContent = "Resumed from the failed step."; setTimeout(function () { requestPage(rid).catch(failed); }, 1500); }).catch(failed);
        } }, "Resume from " + record.failed_step));
      }
      if (record.status === "READY" && (me.role === "admin" || me.teams.indexOf(record.team) >= 0)) {
        var select = h("select", { id: "change-tier", name: "gpu_tier" }, Object.keys(got[3].preview.tiers).map(function (t) {
          return h("option", { value: t, selected: t === record.request.gpu_tier }, t);
        }));
        actions.push(h("section", { "aria-labelledby": "change-heading" }, h("h2", { id: "change-heading" }, "Change the GPU tier"),
          h("form", { onsubmit: function (event) {
            event.preventDefault();
            api("PATCH", path, { gpu_tier: select.value }).then(function (answer) {
              notice.textContent = answer.needs_approval ? "Change filed: it waits for a platform approval." : "Change started.";
            }).catch(failed);
          } }, h("label", { "for": "change-tier" }, "New GPU tier"), select, h("button", { type: "submit" }, "Request the change"))));
      }
      show(rid, h("h1", null, "Request " + rid), notice, facts([["Team", record.team], ["Stage", record.stage], ["GPU tier", record.request.gpu_tier],
        ["Account", record.account_id ? link("#/accounts/" + encodeURIComponent(rid), record.account_id) : "not created yet"], ["Attempts", String(record.attempts)]]),
        section, actions, changes.length ? h("section", { "aria-labelledby": "changes-heading" }, h("h2", { id: "changes-heading" }, "Changes"),
          h("ul", null, changes.map(function (c) { return h("li", null, link("#/changes", c.change_id), ": " + c.status); }))) : null);
      if (TERMINAL.indexOf(record.status) < 0) {
        refreshLater(rid);
      }
    });
  }

  // A running request's page redraws itself every 2 s; a refresh that meets a transient failure (a network error or a
  // 5xx) keeps the page as it is and tries again, so one lost answer does not end the live timeline.
  function refreshLater(rid) {
    timer = setTimeout(function () {
      if (location.hash !== "#/requests/" + encodeURIComponent(rid)) { return; }
      requestPage(rid).catch(function (e) {
        if (e.status === undefined || e.status >= 500) { refreshLater(rid); } else { failed(e); }
      });
    }, 2000);
  }

  function accountPage(rid) {
    var path = "/requests/" + encodeURIComponent(rid);
    return api("GET", path + "/account").then(function (found) {
      var r = found.record, v = found.view;
      var guide = h("button", { type: "button", onclick: function () {
        api("GET", path + "/guide").then(function (text) {
          var a = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/markdown" })), download: rid + "-guide.md" });
          document.body.appendChild(a); a.click(); a.remove();
        }).catch(failed);
      } }, "Download the team guide (Markdown)");
      show("Account " + rid, h("h1", null, "Account " + (r.account_id || "(not created yet)") + " (" + rid + ")"), h("p", null, guide),
        h("section", { "aria-labelledby": "g-heading" }, h("h2", { id: "g-heading" }, "Guardrails, in plain words"),
          h("ul", null, v.guardrails.map(function (g) { return h("li", null, g.replace(/`/g, "")); })),
          h("p", null, "Service control policies attached: " + (v.scps.join(", ") || "none yet") + ".")),
        h("section", { "aria-labelledby": "gpu-heading" }, h("h2", { id: "gpu-heading" }, "GPU types allowed (tier " + v.gpu_tier + ")"),
          facts([["EC2", v.ec2_instance_types.join(", ") || "none"], ["SageMaker", v.sagemaker_instance_types.join(", ") || "none"],
            ["Monthly budget", v.monthly_budget_usd ? Math.round(v.monthly_budget_usd) + " USD" : "-"]])),
        h("section", { "aria-labelledby": "ci-heading" }, h("h2", { id: "ci-heading" }, "CI roles and GitHub setup"),
          facts([["Repository", [h("code", null, v.ci.repository), ", workflow ", h("code", null, v.ci.workflow)]],
            ["Plan", ["environment ", h("code", null, v.ci.plan.environment), ", role ", h("code", null, v.ci.plan.role), " (read-only)"]],
            ["Apply", ["environment ", h("code", null, v.ci.apply.environment), ", role ", h("code", null, v.ci.apply.role)]],
            ["OIDC subject", v.github.oidc_subject], ["Required reviewers", v.github.reviewers.join(", ") || "-"]]),
          table("Repository variables", ["Variable", "Value"], Object.keys(v.github.variables).map(function (k) { return [h("code", null, k), v.github.variables[k] || "-"]; }))),
        h("section", { "aria-labelledby": "backend-heading" }, h("h2", { id: "backend-heading" }, "Terraform backend block"), h("pre", null, h("code", null, v.backend))),
        h("section", { "aria-labelledby": "stacks-heading" }, h("h2", { id: "stacks-heading" }, "Stacks"),
          h("ul", null, v.stacks.map(function (s) { return h("li", null, h("code", null, s), v.pipelines[s] ? ": " + v.pipelines[s].status : ""); }))));
    });
  }

  function changesPage() {
    return api("GET", "/changes").then(function (answer) {
      var notice = h("p", { role: "status", "class": "notice" });
      show("Changes and approvals", h("h1", null, "Changes and approvals"), notice, answer.changes.length === 0 ? h("p", null, "No changes.") :
        answer.changes.map(function (c, i) {
          var d = c.diff, rows = Object.keys(d.fields).map(function (k) { return [k, String(d.fields[k].from), String(d.fields[k].to)]; });
          if (d.policies && (d.policies.attached.length || d.policies.detached.length)) { rows.push(["SCPs", d.policies.detached.join(", ") || "-", d.policies.attached.join(", ") || "-"]); }
          if (d.budget) { rows.push(["Monthly budget", String(d.budget.monthly_usd.from), String(d.budget.monthly_usd.to)]); }
          return h("section", { "class": "panel", id: c.change_id, "aria-labelledby": "h-" + i }, h("h2", { id: "h-" + i }, c.change_id + ": ", status(c.status)),
            h("p", null, "Asked by ", h("code", null, c.requested_by), " at " + when(c.requested_at) + ".", c.approved_by ? [" Approved by ", h("code", null, c.approved_by), "."] : null),
            c.approval_reasons && c.approval_reasons.length ? h("p", null, "Needs approval: " + c.approval_reasons.join("; ") + ".") : null,
            table("Diff", ["What", "Before", "After"], rows),
            c.status === "AWAITING_APPROVAL" && (me.role === "admin" || me.role === "approver") ? h("button", { type: "button", onclick: function () {
              api("POST", "/requests/" + encodeURIComponent(c.change_id) + "/approve", {}).then(function () {
                return changesPage().then(function () { document.querySelector("#main .notice").textContent = "Approved: the change is running."; });
              }).catch(failed);
            } }, "Approve " + c.change_id) : null);
        }));
    });
  }

  function findingsPage() {
    return api("GET", "/findings").then(function (report) {
      show("Audit findings", h("h1", null, "Audit findings"),
        h("p", null, report.generated_at ? ["Latest audit " + when(report.generated_at) + " (", h("code", null, report.report_uri), ")."] : "No audit report yet: the scheduled audit (or vend audit --publish) writes one."),
        (report.notes || []).map(function (n) { return h("p", { "class": "help" }, n); }),
        report.findings && report.findings.length ? table(report.findings.length + " finding(s)", ["Type", "Where", "Detail", "Remediation"], report.findings.map(function (f) {
          return [f.type, [f.request_id ? [link("#/accounts/" + encodeURIComponent(f.request_id), f.team), " "] : null, h("code", null, f.target)], f.detail, f.remediation];
        })) : (report.generated_at ? h("p", null, "No findings: every account carries exactly the guardrails it should.") : null));
    });
  }

  function spendPage() {
    return api("GET", "/spend").then(function (spend) {
      var live = spend.source === "live meter";
      show("Spend", h("h1", null, "Spend per team"), h("p", null, "Source: " + spend.source + " at " + when(spend.at) + " UTC."),
        (spend.notes || []).map(function (n) { return h("p", { "class": "help" }, n); }),
        spend.teams.length === 0 ? h("p", null, "No spend recorded for the teams you can see.") : live ?
          table("Spend (" + spend.source + ")", ["Team / stage", "Last hour (USD)", "Today (USD)", "Top sources today"], spend.teams.map(function (t) {
            return [t.team + "/" + t.stage, usd(t.hour_usd), usd(t.day_usd), t.top_sources.map(function (s) { return s[0] + " " + usd(s[1]); }).join(", ") || "-"];
          })) :
          table("Spend (" + spend.source + ")", ["Team / stage", "This month (USD)"], spend.teams.map(function (t) { return [t.team + "/" + t.stage, usd(t.amount)]; })));
    });
  }

  // --- routing --------------------------------------------------------------------------------------------------
  var ROUTES = [
    [/^#\/requests\/new$/, newRequestPage], [/^#\/requests\/([a-z0-9-]+)$/, requestPage], [/^#\/accounts\/([a-z0-9-]+)$/, accountPage],
    [/^#\/changes$/, changesPage], [/^#\/findings$/, findingsPage], [/^#\/spend$/, spendPage], [/^#?\/?$/, requestsPage]
  ];
  function header() {
    var nav = document.getElementById("nav"), who = document.getElementById("who"), creds = credentials();
    nav.hidden = !creds; who.textContent = "";
    document.querySelectorAll("#nav a").forEach(function (a) {
      if (a.getAttribute("href") === (location.hash || "#/")) { a.setAttribute("aria-current", "page"); } else { a.removeAttribute("aria-current"); }
    });
    if (creds) {
      append(who, [h("span", null, creds.label + (me ? " (" + me.role + (me.teams.length ? ": " + me.teams.join(", ") : "") + ")" : "")), " ",
        h("button", { type: "button", onclick: signOut }, "Sign out")]);
    }
  }
  function signOut() {
    sessionStorage.removeItem(STORE);
    me = null;
    if (config.signIn.kind === "cognito") {
      location.assign(config.signIn.domain + "/logout?" + new URLSearchParams({ client_id: config.signIn.userPoolClientId, logout_uri: location.origin + "/" }));
      return;
    }
    go("#/signin");
  }
  // Navigate: a new hash draws its page (hashchange); the same hash is drawn again.
  function go(hash) {
    if (location.hash === hash) { route(); } else { location.hash = hash; }
  }
  function route() {
    var hash = location.hash || "#/";
    if (hash === "#/signin" || !credentials()) { me = null; header(); return Promise.resolve(signinPage()).catch(failed); }
    var who = me ? Promise.resolve(me) : api("GET", "/me").then(function (answer) { me = answer; return me; });
    return who.then(function () {
      header();
      for (var i = 0; i < ROUTES.length; i++) {
        var found = ROUTES[i][0].exec(hash);
        if (found) { return ROUTES[i][1](found[1] && decodeURIComponent(found[1])); }
      }
      show("Not found", h("h1", null, "Not found"), h("p", null, "No page at " + hash));
    }).catch(failed);
  }

  Promise.all([fetch("config.json").then(function (r) { return r.json(); }), fetch("request-schema.json").then(function (r) { return r.json(); })])
    .then(function (got) {
      config = got[0]; schema = got[1];
      var query = new URLSearchParams(location.search);
      var start = query.get("code") && config.signIn.kind === "cognito" ? cognitoFinish(query.get("code"), query.get("state")) : Promise.resolve();
      return start.then(function () { window.addEventListener("hashchange", route); return route(); });
    }).catch(failed);
})();
