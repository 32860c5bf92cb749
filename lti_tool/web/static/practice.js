// The practice page: answers go by fetch and their feedback appears at once without a reload;
// hints come one at a time on request; the next set arrives by Server-Sent Events, and when the
// event stream is unavailable the page polls the state endpoint instead. No framework.
// Every word shown comes from the message catalogue, passed in the page's JSON config.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("practice-config").textContent);
  var list = document.getElementById("practice-set");
  var statusBox = document.getElementById("status");
  var result = document.getElementById("result");
  var slot = document.getElementById("answer-slot");
  var SVG = "http://www.w3.org/2000/svg";
  var pollTimer = null;
  var awaitingSet = false;  // an answer was taken; its next set has not arrived yet

  // Same rule as lti_tool.web.messages.fill: {name} is replaced, unknown names stay as written.
  function msg(key, params) {
    var text = config.messages[key];
    if (text === undefined) { return key; }
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return params && Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole;
    });
  }

  // In a browser that keeps no cookie of ours (Safari inside the course page), the launch's
  // page token proves who we are: config.lt is set then, and every request and form carries it
  // (the URLs in config already hold it as the query arg `lt`).
  function withParam(url, name, value) {
    return url + (url.indexOf("?") < 0 ? "?" : "&") + name + "=" + encodeURIComponent(value);
  }

  function headers(extra) {
    var all = Object.assign({ Accept: "application/json" }, extra);
    if (config.lt) { all["X-Metis-Launch"] = config.lt; }
    return all;
  }

  function tokenField(form) {
    if (config.lt) { form.appendChild(el("input", { type: "hidden", name: "lt", value: config.lt })); }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // Item HTML (question, choices, feedback, hints, solution) was sanitised with an allow-list
  // when the bank was imported, as the server-rendered page assumes too; nothing else is set
  // as markup here.
  function itemHtml(tag, attrs, html) {
    var node = el(tag, attrs);
    node.innerHTML = html;
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }

  function choice(type, value, html, required) {
    var label = el("label", { "class": "choice" });
    var input = el("input", { type: type, name: "choice", value: String(value) });
    if (required) { input.required = true; }
    label.appendChild(input);
    label.appendChild(itemHtml("span", {}, html));
    return label;
  }

  function typed(name, extra) {
    var label = el("label", { "class": "typed" }, msg("student.set.your_answer"));
    var input = el("input", Object.assign({ type: "text", name: name, autocomplete: "off" }, extra));
    input.required = true;
    label.appendChild(input);
    return label;
  }

  // The page's one polite live region (#result, visually hidden): the verdict for screen
  // readers, since sighted users read it on the feedback card. Later news is added as its own
  // node so only the addition is read out.
  function announce(text, keep) {
    if (!keep) { result.replaceChildren(); }
    result.appendChild(el("span", {}, (keep ? " " : "") + text));
  }

  // Errors stay visible next to the question they are about (and are read out once).
  function showError(li, text) {
    var box = li && li.querySelector(".item-error");
    if (box) {
      box.textContent = text;
      box.hidden = false;
      var fieldset = li.querySelector("fieldset");
      fieldset.setAttribute("aria-describedby", "q-" + li.dataset.itemId + " " + box.id);
    }
    announce(text);
  }

  function clearError(li) {
    var box = li && li.querySelector(".item-error");
    if (box && !box.hidden) {
      box.hidden = true;
      box.textContent = "";
      li.querySelector("fieldset").setAttribute("aria-describedby", "q-" + li.dataset.itemId);
    }
  }

  function hintForm(item) {
    var id = String(item.item_id);
    var form = el("form", {
      "class": "hint-form", method: "get", action: config.page + "#item-" + id,
      "data-url": config.hint.replace("/items/0/", "/items/" + id + "/"),
      "data-total": String(item.hints)
    });
    tokenField(form);  // a GET form's own fields replace the query string of its action
    form.appendChild(el("input", { type: "hidden", name: "hints_for", value: id }));
    form.appendChild(el("input", { type: "hidden", name: "hints", value: "1" }));
    form.appendChild(el("button", { type: "submit", "class": "secondary" }, msg("student.hint.show")));
    return form;
  }

  // Same markup as the server-rendered items in practice.html.
  function answeredLabel(a) {
    return msg(a.correct ? "student.set.answered_right"
               : a.credit > 0 ? "student.set.answered_partly" : "student.set.answered_wrong");
  }

  function renderItem(item, n, standIn) {
    var id = String(item.item_id);
    var li = el("li", { "class": "item" + (item.answered ? " answered-item" : "") +
                                 (standIn ? " stand-in" : ""), id: "item-" + id, "data-item-id": id });
    var form = el("form", { "class": "answer-form", method: "post", action: config.answer });
    form.appendChild(el("input", { type: "hidden", name: "csrf_token", value: config.csrf }));
    tokenField(form);
    form.appendChild(el("input", { type: "hidden", name: "item_id", value: id }));
    form.appendChild(el("input", { type: "hidden", name: "hints_seen", value: "0" }));
    var fieldset = el("fieldset", { "aria-describedby": "q-" + id });
    fieldset.appendChild(el("legend", {}, msg("student.set.question", { n: n + 1 })));
    fieldset.appendChild(itemHtml("div", { "class": "question", id: "q-" + id }, item.text));
    fieldset.appendChild(el("p", { "class": "muted why" }, item.why || msg("student.set.why_first")));
    if (item.kind === "multichoice") {
      item.choices.forEach(function (c, i) { fieldset.appendChild(choice("radio", i, c, true)); });
    } else if (item.kind === "multiresponse") {
      fieldset.appendChild(el("p", { "class": "muted" }, msg("student.set.tick_all")));
      item.choices.forEach(function (c, i) { fieldset.appendChild(choice("checkbox", i, c, false)); });
    } else if (item.kind === "truefalse") {
      fieldset.appendChild(choice("radio", 0, "", true));
      fieldset.appendChild(choice("radio", 1, "", true));
      var spans = fieldset.querySelectorAll("label.choice span");
      spans[0].textContent = msg("student.set.true");
      spans[1].textContent = msg("student.set.false");
    } else if (item.kind === "numeric") {
      fieldset.appendChild(typed("value", { inputmode: "decimal" }));
    } else {
      fieldset.appendChild(typed("text", { maxlength: "500" }));
    }
    form.appendChild(fieldset);
    if (item.answered) {
      fieldset.disabled = true;
      form.appendChild(el("p", { "class": "answered muted" }, answeredLabel(item.answered)));
    } else {
      form.appendChild(el("button", { type: "submit" }, msg("student.set.submit")));
    }
    var error = el("p", { "class": "item-error", id: "error-" + id });
    error.hidden = true;
    form.appendChild(error);
    li.appendChild(form);
    if (item.hints && !item.answered) {
      li.appendChild(el("div", { "class": "hints", id: "hints-" + id, "aria-live": "polite" }));
      li.appendChild(hintForm(item));
    }
    return li;
  }

  function skillRow(sk, threshold) {
    var li = el("li", { "class": "skill" + (sk.mastered ? " mastered" : "") });
    li.appendChild(el("span", { "class": "skill-name" }, sk.name || msg("student.mastery.skill", { id: sk.skill })));
    var bar = svg("svg", { "class": "bar", viewBox: "0 0 100 12", preserveAspectRatio: "none",
                           "aria-hidden": "true", focusable: "false" });
    bar.appendChild(svg("rect", { "class": "track", width: 100, height: 12 }));
    bar.appendChild(svg("rect", { "class": "fill", width: sk.pct, height: 12 }));
    bar.appendChild(svg("rect", { "class": "range", x: sk.low_pct, y: 4.5,
                                  width: sk.high_pct - sk.low_pct, height: 3 }));
    bar.appendChild(svg("line", { "class": "goal", x1: threshold, x2: threshold, y1: 0, y2: 12 }));
    li.appendChild(bar);
    var numbers = el("span", { "class": "skill-numbers" },
                     msg("student.mastery.numbers", { pct: sk.pct, low: sk.low_pct, high: sk.high_pct }));
    if (sk.mastered) {
      numbers.appendChild(document.createTextNode(" "));
      numbers.appendChild(el("strong", { "class": "badge" }, msg("student.mastery.mastered")));
    }
    li.appendChild(numbers);
    return li;
  }

  // Same markup as the server-rendered feedback in practice.html.
  function renderFeedback(fb, threshold) {
    if (!fb || !fb.summary) { return; }
    var box = document.getElementById("feedback");
    var parts = [el("p", { "class": "summary" }, fb.summary)];
    if (fb.next_step) {
      var next = el("p", { "class": "next-step" });
      next.appendChild(el("strong", {}, fb.next_step));
      parts.push(next);
    }
    if (fb.skills && fb.skills.length) {
      parts.push(el("p", { "class": "muted legend-text" }, msg("student.mastery.legend", { threshold: threshold })));
      var ul = el("ul", { "class": "mastery" });
      fb.skills.forEach(function (sk) { ul.appendChild(skillRow(sk, threshold)); });
      parts.push(ul);
    }
    if (fb.changes && fb.changes.length) {
      parts.push(el("h3", {}, msg("student.mastery.changes")));
      var changes = el("ul", { "class": "changes" });
      fb.changes.forEach(function (c) { changes.appendChild(el("li", { "class": "muted change" }, c)); });
      parts.push(changes);
    }
    box.replaceChildren.apply(box, parts);
    document.getElementById("feedback-section").hidden = false;
  }

  function goalText(p) {
    if (p.policy === "completion") { return msg("student.progress.completion", { done: p.completed, goal: p.goal }); }
    if (p.policy === "best_set") {
      return p.answers ? msg("student.progress.best_set", { right: p.best_right, of: p.best_of })
                       : msg("student.progress.best_set_none");
    }
    if (p.policy === "mastery") {
      return msg("student.progress.mastery", { mastered: p.skills_mastered, total: p.skills_total,
                                               threshold: p.threshold_pct });
    }
    return msg("student.progress.correct", { right: p.right, answers: p.answers });
  }

  function scoreText(gb) {
    if (!gb) { return msg("student.score.none"); }
    // Same wording as the `score` macro in student/_parts.html.
    var status = { verified: "student.score.verified", sent: "student.score.sent",
                   mismatch: "student.score.mismatch", failed: "student.score.failed" }[gb.status] ||
                 "student.score.pending";
    return msg("student.score.given", { given: gb.given, maximum: gb.maximum }) + " " + msg(status);
  }

  // The set just finished, until the new set's first answer (same markup as practice.html).
  function renderSummary(last) {
    var box = document.getElementById("set-summary");
    if (!box) { return; }
    box.hidden = !last;
    if (!last) { return; }
    document.getElementById("summary-total").textContent =
      msg("student.set.summary", { right: last.right, answered: last.answered });
    var ul = document.getElementById("summary-skills");
    ul.replaceChildren.apply(ul, (last.skills || []).map(function (sk) {
      return el("li", {}, msg("student.set.summary_skill", {
        skill: sk.name || msg("student.mastery.skill", { id: sk.skill }),
        right: sk.right, answered: sk.answered }));
    }));
  }

  function renderProgress(state) {
    if (!state.progress) { return; }
    var done = document.getElementById("done");
    if (done) {
      done.hidden = !state.progress.done;
      done.textContent = state.progress.done && state.gradebook
        ? msg("student.done", { given: state.gradebook.given, maximum: state.gradebook.maximum }) : "";
    }
    document.getElementById("goal-text").textContent = goalText(state.progress);
    var bar = document.getElementById("goal-bar");
    if (bar) { bar.value = state.progress.goal_pct; }
    document.getElementById("score-text").textContent = scoreText(state.gradebook);
  }

  var lateTimer = null;
  var LATE_MS = 2000;  // after this, a finished set whose successor is not here is "late"

  function showPosition(state) {
    var pos = document.getElementById("set-position");
    if (pos) { pos.textContent = state.size ? msg("student.set.position", { k: state.position, n: state.size }) : ""; }
    var done = document.getElementById("set-finished");
    if (done) { done.hidden = !state.finished; }
  }

  // A finished set: the next one is on its way; if it is late, a stand-in question is offered.
  function showStandIn(state) {
    if (lateTimer !== null) { window.clearTimeout(lateTimer); lateTimer = null; }
    list.querySelectorAll("li.stand-in, li.late-note").forEach(function (li) { li.remove(); });
    if (!state.finished || !state.stand_in) { return; }
    var revision = list.dataset.revision;
    lateTimer = window.setTimeout(function () {
      lateTimer = null;
      if (list.dataset.revision !== revision || document.getElementById("item-" + state.stand_in.item_id)) { return; }
      list.appendChild(el("li", { "class": "late-note notice" }, msg("student.set.late")));
      list.appendChild(renderItem(state.stand_in, state.items.length, true));
    }, LATE_MS);
  }

  // The same set with newer feedback: questions already answered are marked, the others are
  // left as they are, so nothing the student is typing is lost.
  function updateSet(state) {
    state.items.forEach(function (item) {
      var li = document.getElementById("item-" + item.item_id);
      var form = li && li.querySelector(".answer-form");
      if (item.answered && form && !form.querySelector("fieldset").disabled) { markAnswered(form, item.answered); }
    });
  }

  function showSet(state) {
    if (!state || !state.items) { return; }
    if (state.revision && list.dataset.revision === state.revision) { return; }
    // The first set is on the page before the workers store it (no set id yet): the same
    // questions in the same order are the same set, so nothing typed into them is lost.
    var shownIds = Array.prototype.map.call(list.querySelectorAll("li.item:not(.stand-in)"),
                                            function (li) { return li.dataset.itemId; });
    var sameItems = shownIds.join(",") === state.items.map(function (i) { return String(i.item_id); }).join(",");
    var sameSet = (state.set_id && list.dataset.setId === String(state.set_id)) ||
                  (!list.dataset.setId && !state.event_id && sameItems);
    if (sameSet) {
      updateSet(state);
    } else {
      list.replaceChildren.apply(list, state.items.map(function (item, n) { return renderItem(item, n); }));
    }
    list.dataset.eventId = state.event_id || "";
    list.dataset.setId = state.set_id || "";
    list.dataset.revision = state.revision || "";
    var threshold = state.progress ? state.progress.threshold_pct : 80;
    renderFeedback(state.feedback, threshold);
    renderProgress(state);
    renderSummary(state.last_set);
    showPosition(state);
    showStandIn(state);
    statusBox.hidden = !(state.pending && state.finished);
    if (awaitingSet && !sameSet) {
      awaitingSet = false;
      announce(msg("student.set.ready"), true);
    }
    document.dispatchEvent(new CustomEvent("metis:practice-set", { detail: state }));
  }

  function poll() {
    fetch(config.state, { credentials: "same-origin", headers: headers() })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (state) { showSet(state); statusBox.hidden = !(state.pending && state.finished); }
      })
      .catch(function () {});
  }

  function startPolling() {
    if (pollTimer === null) { pollTimer = window.setInterval(poll, 3000); }
  }

  function listen() {
    if (!window.EventSource) { startPolling(); return; }
    var source = new EventSource(withParam(config.events, "after", list.dataset.revision || ""));
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

  // Same markup as the `reveal` macro in student/_parts.html. It sits above the set, so the
  // next set arriving a moment later does not take it away while it is being read.
  function answerLine(cls, label, parts) {
    var line = el("div", { "class": cls });
    line.appendChild(el("span", { "class": "muted" }, label + " "));
    parts.forEach(function (part, i) {
      if (i) { line.appendChild(document.createTextNode("; ")); }
      line.appendChild(itemHtml("span", { "class": "answer-text" }, part));
    });
    return line;
  }

  function revealHeading(body) {
    if (body.correct) { return msg("student.reveal.correct"); }
    if (!body.final) {
      return body.tries_left === 1 ? msg("student.reveal.try_again_one")
        : msg("student.reveal.try_again", { n: body.tries_left });
    }
    return body.partial ? msg("student.reveal.partial", { pct: body.credit_pct })
      : msg("student.reveal.incorrect");
  }

  function showReveal(body) {
    var verdict = body.correct ? "good" : body.partial ? "partial" : "bad";
    var box = el("section", { id: "answer-feedback", "class": "reveal " + verdict,
                              tabindex: "-1", "aria-labelledby": "answer-feedback-h",
                              "data-final": body.final ? "true" : "false" });
    box.appendChild(el("h2", { id: "answer-feedback-h" }, revealHeading(body)));
    if (body.question) {
      var q = itemHtml("div", { "class": "reveal-question" }, body.question);
      q.insertBefore(el("span", { "class": "muted" }, msg("student.reveal.question") + " "), q.firstChild);
      box.appendChild(q);
    }
    if (body.your_answer && body.your_answer.length) {
      box.appendChild(answerLine("reveal-yours", msg("student.reveal.your_answer"), body.your_answer));
    }
    if (body.right_answers && body.right_answers.length) {
      box.appendChild(answerLine("reveal-right", msg(body.right_answers.length === 1
        ? "student.reveal.right_answer" : "student.reveal.right_answers"), body.right_answers));
    }
    (body.feedback || []).forEach(function (part) {
      box.appendChild(itemHtml("div", { "class": "reveal-feedback" }, part));
    });
    if (body.hint) {
      var hint = itemHtml("div", { "class": "reveal-hint" }, body.hint);
      hint.insertBefore(el("strong", {}, msg("student.reveal.hint") + " "), hint.firstChild);
      box.appendChild(hint);
    }
    if (body.solution) {
      box.appendChild(el("h3", {}, msg("student.reveal.solution")));
      box.appendChild(itemHtml("div", { "class": "reveal-solution" }, body.solution));
    }
    slot.replaceChildren(box);
    box.focus();
  }

  // Idempotent: the answer's own reply and a live update of the set may both mark it.
  function markAnswered(form, answered) {
    var li = form.closest("li.item");
    if (form.querySelector("p.answered")) { return; }
    form.querySelector("fieldset").disabled = true;
    var button = form.querySelector("button");
    if (button) { button.remove(); }
    if (li) { li.classList.add("answered-item"); }
    form.appendChild(el("p", { "class": "answered muted" },
                        answered ? answeredLabel(answered) : msg("student.set.answered")));
    var hint = li && li.querySelector(".hint-form");
    if (hint) { hint.remove(); }
  }

  function submitAnswer(form) {
    var li = form.closest("li.item");
    var button = form.querySelector("button");
    button.disabled = true;
    clearError(li);
    fetch(config.answer, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: headers({ "X-CSRFToken": config.csrf })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (reply) {
      button.disabled = false;
      if (!reply.ok) {
        showError(li, reply.body.error || msg("student.error.not_taken"));
        return;
      }
      if (reply.body.final === false) {
        // Another try: the question stays open with what the student typed, so they can
        // change it; the card says what was wrong and gives the next hint.
        announce(reply.body.message);
        showReveal(reply.body);
        return;
      }
      markAnswered(form, { correct: reply.body.correct, credit: reply.body.credit });
      // The verdict is shown once, as the heading of the feedback card (which takes focus),
      // and read out once through the live region; below the card, a quiet line says the next
      // questions are on their way.
      announce(reply.body.message);
      showReveal(reply.body);
      // Only the set's last answer brings new questions; the others update the feedback.
      if (!list.querySelector("li.item:not(.answered-item):not(.stand-in)")) {
        statusBox.hidden = false;
        awaitingSet = true;
      }
      if (!reply.body.queued) { startPolling(); }
    }).catch(function () {
      button.disabled = false;
      showError(li, msg("student.error.offline"));
    });
  }

  function showHint(form) {
    var count = form.querySelector("input[name=hints]");
    var n = Number(count.value) - 1;
    var button = form.querySelector("button");
    var id = form.querySelector("input[name=hints_for]").value;
    var box = document.getElementById("hints-" + id);
    var li = document.getElementById("item-" + id);
    var seen = li && li.querySelector(".answer-form input[name=hints_seen]");
    button.disabled = true;
    clearError(li);
    fetch(withParam(form.dataset.url, "n", n), { credentials: "same-origin", headers: headers() })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (reply) {
        button.disabled = false;
        if (!reply.ok) { showError(li, reply.body.error || msg("student.hint.failed")); return; }
        var hint = el("div", { "class": "hint", tabindex: "-1" });
        hint.appendChild(el("strong", {}, msg("student.hint.label", { n: n + 1, total: reply.body.total })));
        hint.appendChild(document.createTextNode(" "));
        hint.appendChild(itemHtml("div", { "class": "hint-text" }, reply.body.hint));
        box.appendChild(hint);
        count.value = String(n + 2);
        // Sent with the answer, for teachers only; the server caps it and never grades by it.
        if (seen) { seen.value = String(Math.max(Number(seen.value) || 0, n + 1)); }
        if (!reply.body.more) {
          // The button goes; focus moves to the last hint rather than being lost.
          form.remove();
          hint.focus();
        }
      })
      .catch(function () {
        button.disabled = false;
        showError(li, msg("student.hint.failed"));
      });
  }

  list.addEventListener("submit", function (e) {
    var form = e.target;
    e.preventDefault();
    if (form.classList.contains("hint-form")) { showHint(form); } else { submitAnswer(form); }
  });

  listen();
})();
