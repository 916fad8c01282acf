() => {
  // The contour map's Play and Pause. Gradio 6.31 draws a plot with Plotly.react(data,
  // layout, config), which drops a figure's animation frames, and Plotly's frame animation
  // without redraw erases a contour's fill; so the step slider restyles the moving markers
  // (that survives both), and Play walks the slider's steps from here. It also re-runs the
  // tab's texts when the page's language changes (Settings -> Language), by pressing the
  // tab's hidden relabel button.
  if (window.visionlabPlayer) return [];
  window.visionlabPlayer = true;
  const STEP_MS = 80;  // between two steps, on top of the redraw

  const play = async (gd) => {
    const run = {};
    gd.visionlabPlaying = run;
    const layout = gd.layout;  // a redraw by Gradio brings a new layout and ends this run
    const steps = layout.sliders[0].steps;
    let k = gd._fullLayout.sliders[0].active;
    if (k >= steps.length - 1) k = -1;  // at the end, Play starts over
    while (gd.visionlabPlaying === run && gd.layout === layout && ++k < steps.length) {
      const [data, traces] = steps[k].args;
      await window.Plotly.update(gd, data, { "sliders[0].active": k }, traces);
      await new Promise((resolve) => setTimeout(resolve, STEP_MS));
    }
    if (gd.visionlabPlaying === run) gd.visionlabPlaying = null;
  };
  const watch = () => {
    for (const gd of document.querySelectorAll(".js-plotly-plot")) {
      if (gd.visionlabWatched || typeof gd.on !== "function") continue;
      gd.visionlabWatched = true;
      gd.on("plotly_buttonclicked", (event) => {
        const name = event && event.button && event.button.name;
        if (name === "play" && !gd.visionlabPlaying) play(gd);
        if (name === "pause") gd.visionlabPlaying = null;
      });
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
