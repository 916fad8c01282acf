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
    window.Plotly.deleteFrames(gd).then(() => window.Plotly.addFrames(gd, frames));
  };
  const watch = () => {
    for (const gd of document.querySelectorAll(".js-plotly-plot")) {
      if (!gd.visionlabWatched && typeof gd.on === "function") {
        gd.visionlabWatched = true;
        gd.on("plotly_afterplot", () => sync(gd));
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
