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
        var label = el("label", { "class": "choice" });
        label.appendChild(el("input", { type: "radio", name: "choice", value: String(n), required: "" }));
        label.appendChild(document.createTextNode(" " + choice));
        fieldset.appendChild(label);
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

  function pct(x) { return Math.round(100 * x) + "%"; }

  // Same markup as the server-rendered feedback in practice.html.
  function renderFeedback(fb) {
    if (!fb || !fb.summary) { return; }
    var box = document.getElementById("feedback");
    var parts = [el("p", { "class": "summary" }, fb.summary)];
    if (fb.next_step) {
      var next = el("p", { "class": "next-step" });
      next.appendChild(el("strong", {}, fb.next_step));
      parts.push(next);
    }
    if (fb.skills && fb.skills.length) {
      var ul = el("ul", { "class": "mastery" });
      fb.skills.forEach(function (sk) {
        var li = el("li");
        li.appendChild(el("span", { "class": "skill-name" }, sk.name || ("skill " + sk.skill)));
        li.appendChild(el("meter", { min: "0", max: "1", value: String(sk.mastery), "aria-hidden": "true" }));
        var txt = el("span", {}, pct(sk.mastery) + " ");
        txt.appendChild(el("span", { "class": "muted" }, "(likely " + pct(sk.low) + "\u2013" + pct(sk.high) + ")"));
        li.appendChild(txt);
        ul.appendChild(li);
      });
      parts.push(ul);
    }
    (fb.changes || []).forEach(function (c) { parts.push(el("p", { "class": "muted change" }, c)); });
    box.replaceChildren.apply(box, parts);
    document.getElementById("feedback-section").hidden = false;
  }

  function showSet(state) {
    if (!state || !state.items) { return; }
    if (state.event_id && list.dataset.eventId === state.event_id) { return; }
    list.replaceChildren.apply(list, state.items.map(renderItem));
    list.dataset.eventId = state.event_id || "";
    list.dataset.setId = state.set_id || "";
    renderFeedback(state.feedback);
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
      if (!reply.ok) {
        result.className = "bad";
        result.textContent = reply.body.error || "That answer could not be taken.";
        return;
      }
      result.className = reply.body.correct ? "good" : "bad";
      result.textContent = reply.body.message;
      statusBox.hidden = false;
      if (!reply.body.queued) { startPolling(); }
    }).catch(function () {
      button.disabled = false;
      result.className = "bad";
      result.textContent = "The answer could not be sent; check your connection and try again.";
    });
  });

  listen();
})();
