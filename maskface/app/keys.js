() => {
  // Quick labeling keys: each key clicks the visible button whose element id is "key-<key>" (one face at a
  // time) or "grid-key-<key>" (grid mode: a-x flip the page's faces, Enter accepts the page, z undoes it).
  // Keys typed into a text box are left alone (its own Enter submits it); so are shortcuts
  // with Ctrl, Alt or Meta, and Enter or Space on a focused button (the browser clicks it).
  const names = { Enter: "enter", Backspace: "z" };
  const clickable = ["checkbox", "radio", "button", "submit", "reset", "range", "file"];
  const typing = (el) =>
    el.isContentEditable || ["TEXTAREA", "SELECT"].includes(el.tagName) ||
    (el.tagName === "INPUT" && !clickable.includes(el.type));
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
    const target = event.target;
    if (target && typing(target)) return;
    if (target && target.tagName === "BUTTON" && (event.key === "Enter" || event.key === " ")) return;
    const key = names[event.key] || (event.key.length === 1 ? event.key.toLowerCase() : null);
    const button = key && ["key-", "grid-key-"]
      .map((prefix) => document.getElementById(prefix + key))
      .find((b) => b && b.offsetParent !== null && !b.disabled);
    if (!button) return;
    event.preventDefault();
    button.click();
  });
}
