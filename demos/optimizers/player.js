() => {
  // Gradio 6.31 draws a plot with Plotly.react(data, layout, config), which drops the
  // figure's animation frames, so Play and the step slider would find nothing to show.
  // The playground's figures carry their frames in layout.meta.frames as well; after every
  // redraw this hands them back to Plotly. It also re-runs the tab's texts when the page's
  // language changes (Settings -> Language), by pressing the tab's hidden relabel button.
  if (window.visionlabFrames) return [];
  window.visionlabFrames = true;

  const sync = (gd) => {
    const frames = gd.layout && gd.layout.meta && gd.layout.meta.frames;
    if (!frames || gd.visionlabFrames === frames || !window.Plotly) return;
    gd.visionlabFrames = frames;  // one hand-over per figure Gradio draws
    // One hand-over at a time (redraws can come in quick succession), each replacing all
    // frames Plotly holds: Play runs through every one of them.
    gd.visionlabQueue = (gd.visionlabQueue || Promise.resolve()).then(() => {
      if (gd.visionlabFrames !== frames) return null;  // a newer figure is already waiting
      const old = ((gd._transitionData && gd._transitionData._frames) || []).map((_, i) => i);
      return (old.length ? window.Plotly.deleteFrames(gd, old) : Promise.resolve())
        .then(() => window.Plotly.addFrames(gd, frames));
    }).catch(() => null);
  };
  // Pause interrupts Play, and Plotly then rejects Play's promise without a reason, which
  // nobody awaits; that one rejection is expected, not an error of the page.
  let interrupted = 0;
  window.addEventListener("unhandledrejection", (event) => {
    if (event.reason === undefined && performance.now() - interrupted < 2000) event.preventDefault();
  });
  const watch = () => {
    for (const gd of document.querySelectorAll(".js-plotly-plot")) {
      if (!gd.visionlabWatched && typeof gd.on === "function") {
        gd.visionlabWatched = true;
        gd.on("plotly_afterplot", () => sync(gd));
        gd.on("plotly_animationinterrupted", () => { interrupted = performance.now(); });
      }
      sync(gd);
    }
  };
  new MutationObserver(watch).observe(document.body, { childList: true, subtree: true });
  watch();

  let language = document.documentElement.lang;
  new MutationObserver(() => {
    if (document.documentElement.lang === language) return;
    language = document.documentElement.lang;
    const relabel = document.querySelector("#optimizers-relabel");
    if (relabel) relabel.click();
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  return [];
}
