// /admin/channels: copy the new site's form snippet to the clipboard
"use strict";
document.querySelectorAll("button.copy[data-copy]").forEach((button) => {
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    source.select();
    try {
      await navigator.clipboard.writeText(source.value);
      button.dataset.copied = "yes";
    } catch {
      // no clipboard permission (plain http): the text stays selected for Ctrl+C
      button.dataset.copied = "selected";
    }
  });
});
