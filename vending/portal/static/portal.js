// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var csrf = main ? main.getAttribute("data-csrf") : null;

  // The request form: each field checked as you type (the API's own validation), the preview kept current.
  var form = document.getElementById("request-form");
  if (form && csrf) {
    var timer = null;
    var touched = {};
    var check = function () {
      var body = new URLSearchParams(new FormData(form)).toString();
      fetch("/validate", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
        body: body,
        credentials: "same-origin"
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (answer) {
        if (!answer) { return; }
        var byField = {};
        answer.errors.forEach(function (e) {
          var name = e.field.split(".")[0];
          (byField[name] = byField[name] || []).push(e.message);
        });
        form.querySelectorAll("[data-field]").forEach(function (box) {
          var name = box.getAttribute("data-field");
          var out = document.getElementById("err-" + name);
          var control = box.querySelector("input:not([type=checkbox]), select");
          var shown = touched[name] && byField[name];
          out.textContent = shown ? byField[name].join("; ") : "";
          if (control) {
            if (shown) { control.setAttribute("aria-invalid", "true"); } else { control.removeAttribute("aria-invalid"); }
          }
        });
        var preview = document.getElementById("preview");
        if (preview) { preview.innerHTML = answer.preview_html; }
      }).catch(function () { /* the server-side check still runs on submit */ });
    };
    var schedule = function (event) {
      var box = event.target.closest("[data-field]");
      if (box) { touched[box.getAttribute("data-field")] = true; }
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    };
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
  }

  // A running timeline refreshes itself until the request settles.
  var timeline = document.querySelector("[data-refresh]");
  if (timeline) {
    var url = timeline.getAttribute("data-refresh");
    var refresh = function () {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
        if (html === null) { return; }
        timeline.innerHTML = html;
        if (html.indexOf("(refreshing)") === -1) {
          timeline.removeAttribute("data-refresh");
          window.location.reload();  // settled: the page's actions (resume, change) follow the new status
          return;
        }
        setTimeout(refresh, 1500);
      });
    };
    setTimeout(refresh, 1500);
  }
})();
