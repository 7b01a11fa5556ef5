// Incident composer: who would be notified, and templates filled in place.
// Without this file the server does both: the count on each render, templates via ?template=.
"use strict";

// "Would notify N subscribers" follows the components ticked so far (status radios or
// attach checkboxes).
for (const note of document.querySelectorAll("[data-audience-url]")) {
  const form = note.closest("form");
  if (!form) continue;
  let sent = 0;
  const refresh = () => {
    const url = new URL(note.dataset.audienceUrl, window.location.href);
    for (const input of form.querySelectorAll("input[data-component]:checked")) {
      if (input.value) url.searchParams.append("component", input.dataset.component);
    }
    const ticket = ++sent;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        if (ticket === sent) note.textContent = data.text;
      })
      .catch(() => {});
  };
  form.addEventListener("change", (event) => {
    if (event.target.matches("input[data-component]")) refresh();
  });
}

// A template fills the composer where it stands, typed text included.
for (const picker of document.querySelectorAll("select[data-fill]")) {
  const form = document.getElementById(picker.dataset.fill);
  const island = document.getElementById(picker.dataset.fillFrom);
  if (!form || !island) continue;
  const data = JSON.parse(island.textContent);
  for (const button of picker.form.querySelectorAll("[data-fill-apply]")) button.hidden = true;
  picker.addEventListener("change", () => {
    const chosen = data[picker.value];
    if (!chosen) return;
    for (const name of ["name", "body", "status"]) {
      const field = form.elements.namedItem(name);
      if (field && "value" in field) {
        field.value = chosen[name];
        field.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }
    for (const radio of form.querySelectorAll("input[type=radio][data-component]")) {
      radio.checked = radio.value === (chosen.components[radio.dataset.component] || "");
    }
    const notify = form.querySelector("input[type=checkbox][name=notify]");
    if (notify) notify.checked = chosen.notify;
    const ticked = form.querySelector("input[type=radio][data-component]:checked");
    if (ticked) ticked.dispatchEvent(new Event("change", { bubbles: true }));
    if (notify) notify.dispatchEvent(new Event("change", { bubbles: true }));
  });
}
