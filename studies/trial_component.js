// One real-vs-fake trial, timed in the browser.
// data (bytes, see studies/component.py): 4-byte big-endian length n, n bytes of JSON
// {trial, layout, display_ms, gap_ms, fixation_ms, labels, question, size: [h, w], image_bytes},
// then the PNG bytes of the two images, which become blob: URLs (no names, no base64).
// Both images are decoded before the timed display starts. Each image is shown from the animation
// frame it first appears in until the frame it is hidden in; the measured durations (from
// requestAnimationFrame timestamps) are sent back with the answer.
function unpack(raw) {
  const bytes = raw instanceof Uint8Array ? raw : new Uint8Array(raw);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n)));
  let at = 4 + n;
  meta.images = meta.image_bytes.map((len) => {
    const png = bytes.subarray(at, at + len);
    at += len;
    return URL.createObjectURL(new Blob([png], { type: "image/png" }));
  });
  return meta;
}

export default function ({ data: raw, parentElement, setTriggerValue }) {
  if (parentElement.__p2pStop) parentElement.__p2pStop();
  const data = unpack(raw);
  let stopped = false;
  let raf = 0;
  const stop = () => {
    stopped = true;
    cancelAnimationFrame(raf);
    data.images.forEach((u) => URL.revokeObjectURL(u));
  };
  parentElement.__p2pStop = stop;

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const [h, w] = data.size;
  const sideBySide = data.layout === "side-by-side";
  const root = el("div", "p2p-trial");
  root.dataset.state = "loading";
  const stage = el("div", "p2p-stage" + (sideBySide ? " p2p-pair" : ""));
  const slots = sideBySide ? [el("div", "p2p-slot"), el("div", "p2p-slot")] : [el("div", "p2p-slot")];
  for (const s of slots) {
    s.style.width = w + "px";
    s.style.height = h + "px";
    stage.appendChild(s);
  }
  const fixation = el("div", "p2p-fixation", "+");
  fixation.setAttribute("aria-hidden", "true");
  slots[0].appendChild(fixation);
  const status = el("p", "p2p-status", "Loading\u2026");
  status.setAttribute("aria-live", "polite");
  const answers = el("div", "p2p-answers");
  root.append(stage, status, answers);
  const old = parentElement.querySelector(".p2p-trial");
  if (old) old.remove();
  parentElement.appendChild(root);

  const frame = () => new Promise((resolve, reject) => {
    raf = requestAnimationFrame((t) => (stopped ? reject(new Error("stopped")) : resolve(t)));
  });
  // Show `nodes` from the next frame for `ms`, hide them; returns the measured time in ms.
  const TOLERANCE = 6; // ms: stop at the first frame within this of the target (60 Hz frames: 16.7)
  async function display(nodes, ms) {
    const t0 = await frame();
    nodes.forEach(([slot, node]) => slot.replaceChildren(node));
    let t = t0;
    while (t - t0 < ms - TOLERANCE) t = await frame();
    nodes.forEach(([slot]) => slot.replaceChildren());
    return t - t0;
  }
  async function blank(ms) {
    const t0 = await frame();
    let t = t0;
    while (t - t0 < ms - TOLERANCE) t = await frame();
    return t - t0;
  }

  const imgs = data.images.map((src) => {
    const im = new Image();
    im.decoding = "sync";
    im.alt = "";
    im.draggable = false;
    im.width = w;
    im.height = h;
    im.src = src;
    return im;
  });

  async function run() {
    await Promise.all(imgs.map((im) => im.decode()));
    if (stopped) return;
    performance.mark("p2p-trial-ready");
    root.dataset.state = "showing";
    status.textContent = "";
    if (data.fixation_ms > 0) await blank(data.fixation_ms);
    slots[0].replaceChildren();
    let shown;
    let gap = null;
    if (sideBySide) {
      const d = await display([[slots[0], imgs[0]], [slots[1], imgs[1]]], data.display_ms);
      shown = [d, d];
    } else {
      const d0 = await display([[slots[0], imgs[0]]], data.display_ms);
      gap = data.gap_ms > 0 ? await blank(data.gap_ms) : 0;
      const d1 = await display([[slots[0], imgs[1]]], data.display_ms);
      shown = [d0, d1];
    }
    if (stopped) return;
    status.textContent = data.question;
    const start = performance.now();
    let sent = false;
    const buttons = data.labels.map((label, choice) => {
      const b = el("button", "p2p-answer", label);
      b.type = "button";
      b.addEventListener("click", () => {
        if (sent) return;
        sent = true;
        buttons.forEach((x) => { x.disabled = true; });
        root.dataset.state = "sent";
        performance.mark("p2p-answer");
        setTriggerValue("answer", {
          trial: data.trial, choice, display_ms: shown, gap_ms: gap,
          response_ms: performance.now() - start,
        });
      });
      return b;
    });
    answers.replaceChildren(...buttons);
    root.dataset.state = "answer";
  }
  run().catch((e) => {
    if (!stopped) { status.textContent = "Could not show this trial; please reload the page."; }
  });
  return stop;
}
