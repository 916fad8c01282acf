// Run once when the page starts (app.py passes it to `launch(js=...)`).
// Gradio 6.31 writes the progress line over a running output in English whatever the page's
// language ("queue: 1/2 |", "processing |"), from text in its own code rather than from its
// translations. On a page in Chinese this rewrites those words where they appear, and again
// whenever Gradio writes them anew; numbers and times are left as they are.
() => {
  const words = [[/^queue: /, "排队："], [/^processing \|/, "处理中 |"]];
  const chinese = () => (document.documentElement.lang || "").startsWith("zh");
  const fix = (node) => {
    if (node.nodeType !== Node.TEXT_NODE || !node.parentElement?.classList.contains("progress-text")) return;
    for (const [english, translated] of words) {
      if (english.test(node.data)) node.data = node.data.replace(english, translated);
    }
  };
  const fixWithin = (node) => {
    if (node.nodeType === Node.TEXT_NODE) fix(node);
    else if (node.querySelectorAll) node.querySelectorAll(".progress-text").forEach((el) => el.childNodes.forEach(fix));
  };
  new MutationObserver((records) => {
    if (!chinese()) return;
    for (const record of records) {
      if (record.type === "characterData") fix(record.target);
      record.addedNodes.forEach(fixWithin);
    }
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}
