// Runs first: records script errors and content the page's policy blocked into the page
// itself (#js-errors, and data-js-errors on <html>), so that a reader and the tests see them.
(function () {
  var errors = [];
  function note(text) {
    errors.push(String(text));
    document.documentElement.setAttribute("data-js-errors", String(errors.length));
    var box = document.getElementById("js-errors");
    if (box) {
      box.hidden = false;
      box.textContent = "Script problems: " + errors.join(" | ");
    }
  }
  window.addEventListener("error", function (e) {
    note((e.message || "error") + " at " + (e.filename || "") + ":" + (e.lineno || 0));
  });
  window.addEventListener("unhandledrejection", function (e) {
    note("unhandled rejection: " + (e.reason && e.reason.message ? e.reason.message : e.reason));
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    note("blocked by the page's policy: " + e.violatedDirective + " " + (e.blockedURI || "inline"));
  });
  window.addEventListener("DOMContentLoaded", function () {
    if (errors.length) note("(recorded before the page was ready)");
  });
})();
