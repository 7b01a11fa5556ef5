// Settings: the accent colour's picker and text field follow each other.
"use strict";

const HEX = /^#[0-9a-fA-F]{6}$/;

for (const picker of document.querySelectorAll("input[type=color][data-mirror]")) {
  const text = document.getElementById(picker.dataset.mirror);
  if (!text) continue;
  picker.addEventListener("input", () => {
    text.value = picker.value;
  });
  text.addEventListener("input", () => {
    const value = text.value.trim();
    if (HEX.test(value)) picker.value = value.toLowerCase();
  });
}
