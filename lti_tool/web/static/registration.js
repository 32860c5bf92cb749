// The registration page's one button. The LTI Dynamic Registration close signal makes Moodle
// remove its dialog at once, taking this page with it: so it is sent only when the admin has
// read the steps and clicks, never when the page loads.
(function () {
  "use strict";
  var button = document.getElementById("close-dialog");
  if (!button) { return; }
  button.addEventListener("click", function () {
    (window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
    if (window.opener) { window.close(); }
  });
  button.dataset.ready = "1";  // the tests wait on this, not on a timer
}());
