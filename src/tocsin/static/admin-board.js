// Components board: drag a row within its own list to reorder it. Without this file the
// up/down buttons do the same (they are also the keyboard path); both post to the server.
"use strict";

let dragged = null;

function rowOf(node) {
  return node instanceof Element ? node.closest("li[data-id]") : null;
}

// The row under the pointer in the dragged row's own list: rows only move among siblings.
function targetOf(event) {
  let row = rowOf(event.target);
  while (row && dragged && row.parentElement !== dragged.parentElement) {
    row = rowOf(row.parentElement);
  }
  return row && row !== dragged ? row : null;
}

function below(event, row) {
  const box = row.getBoundingClientRect();
  return event.clientY > box.top + box.height / 2;
}

function clearMarks() {
  for (const row of document.querySelectorAll(".drop-before, .drop-after")) {
    row.classList.remove("drop-before", "drop-after");
  }
}

// The server answers with the board as it now stands, and its message: show it in place.
function show(html) {
  const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
  const main = document.getElementById("main");
  if (fresh && main) main.replaceWith(fresh);
  else window.location.reload();
}

function save(list) {
  const body = new URLSearchParams();
  for (const row of list.children) {
    if (row.dataset.id) body.append("id", row.dataset.id);
  }
  const token = document.querySelector("#main input[name=csrf_token]");
  fetch(list.dataset.orderUrl, {
    method: "POST",
    headers: {
      "X-CSRF-Token": token ? token.value : "",
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body,
    credentials: "same-origin",
  })
    .then((response) => response.text())
    .then(show)
    .catch(() => window.location.reload());
}

document.addEventListener("dragstart", (event) => {
  // Only a row itself: a dragged link or selection keeps the browser's behaviour.
  const row = event.target;
  if (!(row instanceof HTMLLIElement) || !row.dataset.id || !row.draggable) return;
  dragged = row;
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", row.dataset.id);
  row.classList.add("dragging");
});

document.addEventListener("dragover", (event) => {
  const row = targetOf(event);
  if (!row) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "move";
  clearMarks();
  row.classList.add(below(event, row) ? "drop-after" : "drop-before");
});

document.addEventListener("drop", (event) => {
  const row = targetOf(event);
  if (!row) return;
  event.preventDefault();
  row.parentElement.insertBefore(dragged, below(event, row) ? row.nextElementSibling : row);
  save(row.parentElement);
});

document.addEventListener("dragend", () => {
  clearMarks();
  if (dragged) dragged.classList.remove("dragging");
  dragged = null;
});
