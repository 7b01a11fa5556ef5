// Copy buttons for secrets shown once (a new API key, recovery codes). Without
// JavaScript the buttons stay hidden and the text can be selected as usual.
"use strict";
document.querySelectorAll("button[data-copy]").forEach((button) => {
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  button.hidden = false;
  const label = button.textContent;
  button.addEventListener("click", () => {
    const text = source.matches("ol, ul")
      ? Array.from(source.querySelectorAll("li"), (li) => li.textContent.trim()).join("\n")
      : source.textContent.trim();
    navigator.clipboard.writeText(text).then(
      () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = label; }, 2000); },
      () => { button.textContent = "Copy failed: select the text instead"; },
    );
  });
});
