// The practice page: answers go by fetch, the next set arrives by Server-Sent Events, and when
// the event stream is unavailable the page polls the state endpoint instead. No framework.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("practice-config").textContent);
  var list = document.getElementById("practice-set");
  var statusBox = document.getElementById("status");
  var result = document.getElementById("result");
  var pollTimer = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function renderItem(item) {
    var li = el("li", { "class": "item", "data-item-id": String(item.item_id) });
    var form = el("form", { method: "post", action: config.answer });
    form.appendChild(el("input", { type: "hidden", name: "csrf_token", value: config.csrf }));
    form.appendChild(el("input", { type: "hidden", name: "item_id", value: String(item.item_id) }));
    var fieldset = el("fieldset");
    fieldset.appendChild(el("legend", {}, item.text));
    if (item.why) { fieldset.appendChild(el("p", { "class": "muted why" }, item.why)); }
    if (item.kind === "multichoice") {
      item.choices.forEach(function (choice, n) {
        var label = el("label");
        label.appendChild(el("input", { type: "radio", name: "choice", value: String(n), required: "" }));
        label.appendChild(document.createTextNode(" " + choice));
        fieldset.appendChild(label);
        fieldset.appendChild(el("br"));
      });
    } else {
      var label = el("label", {}, "Your answer ");
      label.appendChild(el("input", { type: "text", name: item.kind === "numeric" ? "value" : "text", required: "" }));
      fieldset.appendChild(label);
    }
    form.appendChild(fieldset);
    form.appendChild(el("button", { type: "submit" }, "Submit answer"));
    li.appendChild(form);
    return li;
  }

  function showSet(state) {
    if (!state || !state.items) { return; }
    if (state.event_id && list.dataset.eventId === state.event_id) { return; }
    list.replaceChildren.apply(list, state.items.map(renderItem));
    list.dataset.eventId = state.event_id || "";
    list.dataset.setId = state.set_id || "";
    var fb = document.getElementById("feedback");
    if (state.feedback && Object.keys(state.feedback).length) {
      fb.replaceChildren(el("pre", {}, JSON.stringify(state.feedback, null, 2)));
      document.getElementById("feedback-section").hidden = false;
    }
    statusBox.hidden = !state.pending;
    document.dispatchEvent(new CustomEvent("metis:practice-set", { detail: state }));
  }

  function poll() {
    fetch(config.state, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (state) { showSet(state); statusBox.hidden = !state.pending; }
      })
      .catch(function () {});
  }

  function startPolling() {
    if (pollTimer === null) { pollTimer = window.setInterval(poll, 3000); }
  }

  function listen() {
    if (!window.EventSource) { startPolling(); return; }
    var source = new EventSource(config.events + "?after=" + encodeURIComponent(list.dataset.eventId || ""));
    source.addEventListener("practice-set", function (e) {
      var state = JSON.parse(e.data);
      state.pending = 0;
      showSet(state);
    });
    source.addEventListener("unavailable", function () { source.close(); startPolling(); });
    source.onerror = function () {
      // The browser retries by itself; poll meanwhile so nothing is missed.
      if (source.readyState === EventSource.CLOSED) { startPolling(); } else { poll(); }
    };
  }

  list.addEventListener("submit", function (e) {
    var form = e.target;
    e.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(config.answer, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": config.csrf }
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (reply) {
      button.disabled = false;
      if (!reply.ok) { result.textContent = reply.body.error || "That answer could not be taken."; return; }
      result.textContent = reply.body.message;
      statusBox.hidden = false;
      if (!reply.body.queued) { startPolling(); }
    }).catch(function () {
      button.disabled = false;
      result.textContent = "The answer could not be sent; check your connection and try again.";
    });
  });

  listen();
})();
