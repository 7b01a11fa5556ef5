// Subscriber forms: show only the address field of the chosen channel, and keep the
// component picker consistent. The forms work the same without this file.
"use strict";

for (const form of document.querySelectorAll("form[data-subscriber-form]")) {
  const mode = form.elements.namedItem("mode");
  const sections = form.querySelectorAll("[data-mode]");
  const show = () => {
    for (const section of sections) {
      section.hidden = !section.dataset.mode.split(" ").includes(mode.value);
    }
  };
  mode.addEventListener("change", show);
  show();
}

// Ticking a component means "only these"; a ticked group covers its components.
for (const picker of document.querySelectorAll("fieldset.picker")) {
  const chosen = picker.querySelector("input[name=scope][value=chosen]");
  const syncGroup = (group) => {
    for (const child of picker.querySelectorAll(`input[data-in-group="${group.dataset.group}"]`)) {
      if (group.checked) child.checked = true;
      child.disabled = group.checked;
    }
  };
  for (const group of picker.querySelectorAll("input[data-group]")) syncGroup(group);
  picker.addEventListener("change", (event) => {
    const box = event.target;
    if (box.name !== "component_ids") return;
    if (box.checked && chosen) chosen.checked = true;
    if (box.dataset.group) syncGroup(box);
  });
}
