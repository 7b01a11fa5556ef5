// Tocsin admin: small enhancements only; every screen works without this file.
"use strict";

// Buttons that destroy something ask first.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});

// Live Markdown preview: the server renders it, with the public page's own renderer.
function csrfOf(form) {
  const field = form && form.querySelector("input[name=csrf_token]");
  return field ? field.value : "";
}

for (const area of document.querySelectorAll("textarea[data-preview]")) {
  const target = document.getElementById(area.dataset.preview);
  const url = area.dataset.previewUrl;
  if (!target || !url) continue;
  let timer = null;
  let sent = 0;
  const refresh = () => {
    const ticket = ++sent;
    const body = new URLSearchParams({ body: area.value });
    fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrfOf(area.form), "Content-Type": "application/x-www-form-urlencoded" },
      body,
      credentials: "same-origin",
    })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        // Only the newest answer wins, so a slow reply never overwrites a newer preview.
        if (ticket === sent) target.innerHTML = html;
      })
      .catch(() => {});
  };
  area.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  });
  if (area.value.trim()) refresh();
}

// "Set all" for component statuses in a composer.
for (const control of document.querySelectorAll("[data-set-all]")) {
  control.addEventListener("click", (event) => {
    event.preventDefault();
    const scope = control.closest("form") || document;
    for (const radio of scope.querySelectorAll(`input[type=radio][value="${control.dataset.setAll}"][data-component]`)) {
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
}

// Templates fill the composer in place.
for (const picker of document.querySelectorAll("select[data-templates]")) {
  const data = JSON.parse(document.getElementById(picker.dataset.templates).textContent);
  picker.addEventListener("change", () => {
    const chosen = data[picker.value];
    if (!chosen) return;
    const form = picker.form;
    for (const [name, value] of Object.entries(chosen)) {
      const field = form.elements.namedItem(name);
      if (field && "value" in field && typeof value === "string") {
        field.value = value;
        field.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }
  });
}

// Notified count follows the notify toggle.
for (const toggle of document.querySelectorAll("input[data-notify-count]")) {
  const note = document.getElementById(toggle.dataset.notifyCount);
  if (!note) continue;
  const update = () => { note.hidden = !toggle.checked; };
  toggle.addEventListener("change", update);
  update();
}
