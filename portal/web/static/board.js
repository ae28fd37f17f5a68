/* Kanban board (portal/board.html): drag a card to another column, or pick the column
   under the card; the server moves the record (a workflow transition or a checked edit).
   A refusal is shown above the board and the card goes back where it was; a move updates
   every column's count and total without reloading. Column owners can be reassigned. */
(function () {
  "use strict";
  var board = document.querySelector(".portal-board");
  if (!board) { return; }
  var alertBox = document.getElementById("portal-board-alert");
  var filters = JSON.parse(board.getAttribute("data-filters") || "{}");
  var dragged = null;

  function say(kind, text) {
    alertBox.className = "alert alert-" + kind;
    alertBox.textContent = text;
  }

  function column(value) {
    return board.querySelector(".portal-board-column[data-value='" + CSS.escape(value) + "']");
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRFToken": board.getAttribute("data-csrf")},
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().catch(function () { return {message: resp.statusText}; })
        .then(function (data) { return {ok: resp.ok, status: resp.status, data: data}; });
    });
  }

  // Counts, totals and "n more" of every column, as the server counted them.
  function refresh(columns) {
    (columns || []).forEach(function (c) {
      var col = column(c.value);
      if (!col) { return; }
      col.querySelector(".portal-board-count").textContent = String(c.count);
      var total = col.querySelector(".portal-board-total");
      if (total && c.total_text !== null) { total.textContent = c.total_text; }
      var shown = col.querySelectorAll(".portal-card").length;
      var more = col.querySelector(".portal-board-more");
      var rest = Math.max(0, c.count - shown);
      more.textContent = board.getAttribute("data-more-text").replace("{n}", String(rest));
      more.classList.toggle("hidden", rest === 0);
    });
  }

  function moveOptions(card) {
    var select = card.querySelector(".portal-card-move");
    var value = card.getAttribute("data-value");
    select.querySelectorAll("option[value]").forEach(function (o) {
      if (o.value) { o.remove(); }
    });
    board.querySelectorAll(".portal-board-column").forEach(function (col) {
      var v = col.getAttribute("data-value");
      if (v !== value) {
        var o = document.createElement("option");
        o.value = v;
        o.textContent = col.getAttribute("data-label");
        select.appendChild(o);
      }
    });
    select.value = "";
  }

  function move(card, to, comment) {
    var from = {parent: card.parentNode, next: card.nextSibling};
    var target = column(to);
    target.querySelector(".portal-board-cards").prepend(card);
    card.classList.add("portal-card-pending");
    var body = {id: parseInt(card.getAttribute("data-id"), 10), to: to, filters: filters};
    if (comment) { body.comment = comment; }
    post(board.getAttribute("data-move-url"), body).then(function (r) {
      card.classList.remove("portal-card-pending");
      if (r.ok) {
        var landed = column(r.data.value);
        if (landed) {
          landed.querySelector(".portal-board-cards").prepend(card);
          card.setAttribute("data-value", r.data.value);
          moveOptions(card);
        } else {
          card.remove();  // moved on to a state the board does not show
        }
        refresh(r.data.columns);
        say("success", r.data.message);
        return;
      }
      from.parent.insertBefore(card, from.next);  // refused: back where it was
      moveOptions(card);
      if (r.data.comment_required && !comment) {
        var text = window.prompt(board.getAttribute("data-comment-prompt") + "\n" +
                                 r.data.message);
        if (text && text.trim()) { move(card, to, text.trim()); return; }
      }
      say("danger", r.data.message || r.status);
    }).catch(function (err) {
      card.classList.remove("portal-card-pending");
      from.parent.insertBefore(card, from.next);
      say("danger", String(err));
    });
  }

  board.addEventListener("dragstart", function (ev) {
    var card = ev.target.closest && ev.target.closest(".portal-card");
    if (!card) { return; }
    dragged = card;
    card.classList.add("portal-card-dragging");
    ev.dataTransfer.effectAllowed = "move";
    ev.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
  });
  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("portal-card-dragging"); }
    dragged = null;
    board.querySelectorAll(".portal-board-over").forEach(function (c) {
      c.classList.remove("portal-board-over");
    });
  });
  board.addEventListener("dragover", function (ev) {
    var col = ev.target.closest && ev.target.closest(".portal-board-column");
    if (!col || !dragged) { return; }
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".portal-board-over").forEach(function (c) {
      if (c !== col) { c.classList.remove("portal-board-over"); }
    });
    col.classList.add("portal-board-over");
  });
  board.addEventListener("drop", function (ev) {
    var col = ev.target.closest && ev.target.closest(".portal-board-column");
    if (!col || !dragged) { return; }
    ev.preventDefault();
    col.classList.remove("portal-board-over");
    var card = dragged;
    var to = col.getAttribute("data-value");
    if (to !== card.getAttribute("data-value")) { move(card, to); }
  });
  // Without a mouse: the column chosen under the card.
  board.addEventListener("change", function (ev) {
    if (ev.target.classList.contains("portal-card-move") && ev.target.value) {
      move(ev.target.closest(".portal-card"), ev.target.value);
    }
  });

  // Assign by stage: the ticked cards of a column, or all of it, to another user.
  board.addEventListener("submit", function (ev) {
    var form = ev.target.closest(".portal-board-assign");
    if (!form) { return; }
    ev.preventDefault();
    var col = form.closest(".portal-board-column");
    var user = form.querySelector("[name=to_user]").value;
    var ids = Array.prototype.map.call(col.querySelectorAll(".portal-card-pick:checked"),
      function (box) { return parseInt(box.closest(".portal-card").getAttribute("data-id"), 10); });
    if (!ids.length && !window.confirm(board.getAttribute("data-assign-confirm")
        .replace("{column}", col.getAttribute("data-label")).replace("{user}", user))) {
      return;
    }
    var body = {column: col.getAttribute("data-value"), to_user: user, filters: filters};
    if (ids.length) { body.ids = ids; }
    post(board.getAttribute("data-assign-url"), body).then(function (r) {
      if (!r.ok) { say("danger", r.data.message || r.status); return; }
      r.data.assigned.forEach(function (id) {
        var card = col.querySelector(".portal-card[data-id='" + id + "']");
        var owner = card && card.querySelector("[data-field=" + board.getAttribute("data-owner") + "] .portal-card-text");
        if (owner) { owner.textContent = r.data.owner_text; }
        var box = card && card.querySelector(".portal-card-pick");
        if (box) { box.checked = false; }
      });
      refresh(r.data.columns);
      say("success", r.data.message);
    });
  });
})();
