// The stylegram web page: a thin client of the REST API (/v1), nothing it does is out of reach of curl.
"use strict";

const $ = (id) => document.getElementById(id);
const RECENT_KEY = "stylegram.recent";
const TOKEN_KEY = "stylegram.token";
// The engines as the server describes them (GET /v1/engines): their buttons, default strength, size caps, what they
// paint from (a style's trained network, or any painting) and whether they paint regions and clips.
const engines = new Map();

function isVideo(file) { return file.type.startsWith("video/"); }

const state = {
  content: null, contents: [], style: null, styleFile: null, job: null, events: null, styles: [],
  // The regions found on the photo: the label map (a PNG blob from POST /v1/regions, drawn on a hidden canvas
  // to read the colour under a click), each colour's painting (a shipped style's name or "keep"), the one picked.
  regions: null, regionPixels: null, regionStyles: new Map(), pickedRegion: null,
};
const KEEP = "keep";

function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

function withToken(url) {
  if (!url || !token()) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token());
}

async function api(path, options = {}) {
  const headers = token() ? { Authorization: "Bearer " + token() } : {};
  const response = await fetch(path, { ...options, headers });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    if (response.status === 401) $("token-bar").hidden = false;
    const detail = body?.detail;
    throw new Error(Array.isArray(detail) ? detail.map((d) => `${d.loc.at(-1)}: ${d.msg}`).join("; ") : detail || response.statusText);
  }
  return body;
}

const UPLOAD_TEXT = "…or upload your own painting (one-pass AdaIN/WCT, or optimisation)";

function engine() { return document.querySelector("input[name=engine]:checked")?.value; }

function setEngine(name) {
  document.querySelector(`input[name=engine][value=${name}]`).checked = true;
  applyEngineDefaults();
}

function applyEngineDefaults() {
  const info = engines.get(engine());
  if (!info) return;
  const cap = state.content && isVideo(state.content) ? Math.min(info.max_size, info.max_video_size) : info.max_size;
  $("strength").value = info.default_strength;
  $("size").max = cap;
  if (+$("size").value > cap) $("size").value = cap;
  showSliders();
}

// An engine is offered when it can make what is asked: a painting upload needs one that paints from paintings,
// found regions one that paints regions, a clip one that makes videos. The first one left is chosen when the
// chosen one is not.
function updateEngines() {
  const video = !!state.content && isVideo(state.content);
  for (const info of engines.values()) {
    const radio = document.querySelector(`input[name=engine][value=${info.name}]`);
    radio.disabled = (!!state.styleFile && info.style_input === "model") || (!!state.regions && !info.regions)
      || (video && !info.video);
  }
  if (document.querySelector("input[name=engine]:checked")?.disabled) {
    const first = document.querySelector("input[name=engine]:not(:disabled)");
    if (first) setEngine(first.value);
  } else {
    applyEngineDefaults();
  }
}

async function loadEngines() {
  const list = await api("/v1/engines");
  const group = $("engines");
  const live = $("live-engine");
  group.replaceChildren();
  live.replaceChildren();
  engines.clear();
  for (const info of list) {
    engines.set(info.name, info);
    const radio = Object.assign(document.createElement("input"), { type: "radio", name: "engine", value: info.name });
    radio.addEventListener("change", applyEngineDefaults);
    const title = document.createElement("span");
    const summary = Object.assign(document.createElement("small"), { textContent: info.summary });
    title.append(info.title, summary);
    const label = document.createElement("label");
    label.append(radio, title);
    group.append(label);
    if (info.live) live.append(new Option(`${info.title}: ${info.summary}`, info.name));
  }
  group.querySelector("input").checked = true;
  updateEngines();
}

function showSliders() {
  $("strength-value").textContent = Math.round($("strength").value * 100) + "%";
  $("size-value").textContent = $("size").value + " px";
}

function updateStart() {
  $("start").disabled = !state.content || !(state.style || state.styleFile || state.regions);
  $("find-regions").disabled = !state.content || isVideo(state.content) || state.contents.length > 1;
}

function hex(r, g, b) { return "#" + [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join(""); }

async function findRegions() {
  $("message").textContent = "";
  $("find-regions").disabled = true;
  const form = new FormData();
  form.append("content", state.content);
  form.append("count", $("region-count").value);
  try {
    const headers = token() ? { Authorization: "Bearer " + token() } : {};
    const response = await fetch("/v1/regions", { method: "POST", body: form, headers });
    if (!response.ok) throw new Error((await response.json()).detail || response.statusText);
    const blob = await response.blob();
    const [map, photo] = await Promise.all([createImageBitmap(blob), createImageBitmap(state.content)]);
    const reader = new OffscreenCanvas(map.width, map.height).getContext("2d", { willReadFrequently: true });
    reader.drawImage(map, 0, 0);
    state.regions = { blob, map, photo };
    state.regionPixels = reader.getImageData(0, 0, map.width, map.height);
    // Listed from the top region down (by the mean row of its pixels), as the server numbers them.
    const rows = new Map();
    const d = state.regionPixels.data;
    for (let i = 0; i < d.length; i += 4) {
      const colour = hex(d[i], d[i + 1], d[i + 2]);
      const [sum, count] = rows.get(colour) || [0, 0];
      rows.set(colour, [sum + Math.floor(i / 4 / map.width), count + 1]);
    }
    const colours = [...rows].sort((a, b) => a[1][0] / a[1][1] - b[1][0] / b[1][1]).map(([colour]) => colour);
    state.regionStyles = new Map(colours.map((colour) => [colour, state.style || state.styles[0]?.name]));
    state.pickedRegion = colours[0];
    updateEngines();
    showRegions();
  } catch (error) {
    $("message").textContent = error.message;
  }
  updateStart();
}

function clearRegions() {
  state.regions = state.regionPixels = state.pickedRegion = null;
  state.regionStyles = new Map();
  updateEngines();
  showRegions();
  updateStart();
}

function showRegions() {
  const view = $("regions-view");
  const found = !!state.regions;
  view.hidden = $("region-pick").hidden = $("clear-regions").hidden = !found;
  $("region-list").replaceChildren();
  if (!found) return;
  const { map, photo } = state.regions;
  view.width = map.width;
  view.height = map.height;
  const context = view.getContext("2d");
  context.drawImage(photo, 0, 0, map.width, map.height);
  // The picked region stands out; the others are veiled in their colour.
  const overlay = new ImageData(map.width, map.height);
  const d = state.regionPixels.data;
  for (let i = 0; i < d.length; i += 4) {
    const picked = hex(d[i], d[i + 1], d[i + 2]) === state.pickedRegion;
    overlay.data.set([d[i], d[i + 1], d[i + 2], picked ? 70 : 150], i);
  }
  createImageBitmap(overlay).then((veil) => context.drawImage(veil, 0, 0));
  for (const [colour, style] of state.regionStyles) {
    const item = document.createElement("li");
    item.className = colour === state.pickedRegion ? "selected" : "";
    item.dataset.colour = colour;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour;
    const words = document.createElement("span");
    words.textContent = style === KEEP ? "the photo as it is" : style.replaceAll("_", " ");
    item.append(swatch, words);
    item.addEventListener("click", () => pickRegion(colour));
    $("region-list").append(item);
  }
  $("region-swatch").style.background = state.pickedRegion;
  const select = $("region-style");
  select.replaceChildren();
  for (const [value, words] of [...state.styles.map((s) => [s.name, s.name.replaceAll("_", " ")]), [KEEP, "keep the photo"]]) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = words;
    select.append(option);
  }
  select.value = state.regionStyles.get(state.pickedRegion);
}

function pickRegion(colour) {
  state.pickedRegion = colour;
  showRegions();
}

function clickRegion(event) {
  const view = $("regions-view");
  const box = view.getBoundingClientRect();
  const x = Math.floor((event.clientX - box.left) / box.width * view.width);
  const y = Math.floor((event.clientY - box.top) / box.height * view.height);
  const d = state.regionPixels.data, i = (y * view.width + x) * 4;
  pickRegion(hex(d[i], d[i + 1], d[i + 2]));
}

function chooseContent(files) {
  // Several photos make a batch (each photo a job of its own); a clip is made alone.
  const chosen = [...files].filter((file) => !isVideo(file) || files.length === 1);
  if (!chosen.length) return;
  const file = chosen[0];
  state.content = file;
  state.contents = chosen;
  const video = isVideo(file);
  const preview = $(video ? "content-video" : "content-preview");
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $(video ? "content-preview" : "content-video").hidden = true;
  $("drop-text").textContent = (chosen.length > 1 ? `${chosen.length} photos (${file.name}, …)` : file.name)
    + " — drop others to replace";
  updateEngines();
  clearRegions();
}

function chooseStyle(name) {
  state.style = name;
  state.styleFile = null;
  $("style-file").value = "";
  $("style-file-text").textContent = UPLOAD_TEXT;
  $("style-file").parentElement.classList.remove("chosen");
  updateEngines();
  for (const button of document.querySelectorAll(".style")) {
    button.setAttribute("aria-checked", String(button.dataset.name === name));
  }
  updateStart();
}

function chooseStyleFile(file) {
  if (!file) return;
  state.styleFile = file;
  state.style = null;
  for (const button of document.querySelectorAll(".style")) button.setAttribute("aria-checked", "false");
  $("style-file-text").textContent = "Painting: " + file.name;
  $("style-file").parentElement.classList.add("chosen");
  updateEngines();
  updateStart();
}

async function loadStyles() {
  const styles = await api("/v1/styles");
  state.styles = styles;
  const box = $("styles");
  box.replaceChildren();
  for (const style of styles) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "style";
    button.dataset.name = style.name;
    button.setAttribute("role", "radio");
    button.setAttribute("aria-checked", "false");
    const image = document.createElement("img");
    image.src = withToken(style.painting_url);
    image.alt = "";
    const label = document.createElement("span");
    label.textContent = style.name.replaceAll("_", " ");
    button.append(image, label);
    button.addEventListener("click", () => chooseStyle(style.name));
    box.append(button);
  }
  if (styles.length) chooseStyle(styles[0].name);
  $("live-style").replaceChildren(...styles.map((style) => new Option(style.name.replaceAll("_", " "), style.name)));
}

// The live camera: frames go to /v1/live over a WebSocket (the protocol: stylegram.server.live) and the
// stylized frames come back. At most LIVE_IN_FLIGHT frames are out at once, so a slow server or network makes
// the page skip camera frames instead of queueing them. One: two in flight gave 14 % more frames a second for
// twice the latency (bench/live.py, fast style: 7.3 against 6.4 frames/s, 251 against 134 ms).
const LIVE_IN_FLIGHT = 1;
const LIVE_WIDTH = 640, LIVE_HEIGHT = 360;
const live = { socket: null, camera: null, timer: null, sent: new Map(), seq: 0, arrivals: [], latencies: [], dropped: 0, paintMs: 0, shown: null };

function showTab(name) {
  const isLive = name === "live";
  $("live-mode").hidden = !isLive;
  $("picture-mode").hidden = $("recent-box").hidden = isLive;
  $("tab-live").setAttribute("aria-selected", String(isLive));
  $("tab-picture").setAttribute("aria-selected", String(!isLive));
  if (!isLive) stopLive();
}

function cameraProblem(error) {
  if (error.name === "NotAllowedError") return "The page may not use the camera: allow it in the browser's site settings, then start again.";
  if (error.name === "NotFoundError" || error.name === "OverconstrainedError") return "No camera was found on this device.";
  if (error.name === "NotReadableError") return "The camera is in use by another program.";
  return "The camera could not start: " + error.message;
}

async function startLive() {
  $("live-message").textContent = "";
  if (!navigator.mediaDevices?.getUserMedia) {
    $("live-message").textContent = "This browser gives the page no camera (it needs https, or the page on localhost).";
    return;
  }
  try {
    live.camera = await navigator.mediaDevices.getUserMedia({ video: { width: LIVE_WIDTH, height: LIVE_HEIGHT }, audio: false });
  } catch (error) {
    $("live-message").textContent = cameraProblem(error);
    return;
  }
  $("live-camera").srcObject = live.camera;
  await $("live-camera").play();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(withToken(`${scheme}//${location.host}/v1/live`));
  socket.binaryType = "arraybuffer";
  live.socket = socket;
  Object.assign(live, { sent: new Map(), seq: 0, arrivals: [], latencies: [], dropped: 0 });
  socket.onopen = () => socket.send(JSON.stringify({ engine: $("live-engine").value, style: $("live-style").value, size: LIVE_WIDTH }));
  socket.onmessage = (event) => (typeof event.data === "string" ? liveReport(JSON.parse(event.data)) : liveFrame(event.data));
  socket.onclose = (event) => {
    if (live.socket !== socket) return;
    if (event.code !== 1000 && !$("live-message").textContent) $("live-message").textContent = event.reason || "The server closed the stream.";
    stopLive();
  };
  $("live-start").hidden = true;
  $("live-stop").hidden = false;
  $("live-stats").textContent = "Connecting…";
}

function liveReport(report) {
  if (report.type === "ready") live.timer = setInterval(sendFrame, 1000 / 30);
  else if (report.type === "frame") Object.assign(live, { dropped: report.dropped, paintMs: report.paint_ms });
  else if (report.type === "error") $("live-message").textContent = report.detail;
}

function sendFrame() {
  const socket = live.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN || live.sent.size >= LIVE_IN_FLIGHT) return;
  const video = $("live-camera");
  if (video.readyState < 2) return;
  const canvas = sendFrame.canvas ||= new OffscreenCanvas(LIVE_WIDTH, LIVE_HEIGHT);
  const scale = Math.min(LIVE_WIDTH / video.videoWidth, LIVE_HEIGHT / video.videoHeight, 1);
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  const seq = ++live.seq;
  live.sent.set(seq, performance.now());
  canvas.convertToBlob({ type: "image/jpeg", quality: 0.8 }).then(async (blob) => {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, seq);
    if (live.socket === socket && socket.readyState === WebSocket.OPEN) socket.send(await new Blob([header, blob]).arrayBuffer());
  });
}

function liveFrame(data) {
  const seq = new DataView(data).getUint32(0);
  const now = performance.now();
  // Frames the server dropped are never answered: every frame sent before this one is done with.
  for (const [sent, at] of live.sent) {
    if (sent > seq) break;
    if (sent === seq) live.latencies = [...live.latencies.slice(-59), now - at];
    live.sent.delete(sent);
  }
  live.arrivals = [...live.arrivals.filter((at) => now - at < 2000), now];
  const url = URL.createObjectURL(new Blob([new Uint8Array(data, 4)], { type: "image/jpeg" }));
  if (live.shown) URL.revokeObjectURL(live.shown);
  live.shown = url;
  $("live-output").src = url;
  $("live-output").hidden = false;
  $("live-placeholder").hidden = true;
  const sorted = [...live.latencies].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] || 0;
  const fps = live.arrivals.length / Math.min(2, Math.max(0.5, (now - live.arrivals[0]) / 1000 || 2));
  $("live-stats").textContent = `${fps.toFixed(1)} frames/s · latency ${Math.round(median)} ms · painting ${Math.round(live.paintMs)} ms · ${live.dropped} dropped by the server`;
}

function stopLive() {
  clearInterval(live.timer);
  live.timer = null;
  const socket = live.socket;
  live.socket = null;
  if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
  for (const track of live.camera?.getTracks() || []) track.stop();
  live.camera = null;
  $("live-camera").srcObject = null;
  $("live-start").hidden = false;
  $("live-stop").hidden = true;
  if (!$("live-stats").textContent.includes("frames/s")) $("live-stats").textContent = "Not started";
}

function showJob(job) {
  state.job = job;
  const progress = job.progress;
  const fraction = job.status === "done" ? 1 : progress.total ? progress.step / progress.total : 0;
  $("bar-fill").style.width = Math.round(fraction * 100) + "%";
  const words = {
    queued: "Waiting for a worker…",
    running: progress.total
      ? `Painting… ${job.params.kind === "video" ? "frame" : "step"} ${progress.step} of ${progress.total}`
      : "Painting…",
    done: `Done in ${progress.elapsed_s ? progress.elapsed_s.toFixed(1) + " s" : "a moment"}`,
    failed: "Failed: " + (job.error || "unknown error"),
    cancelled: "Cancelled",
  };
  $("status").textContent = (job.attempt > 1 && job.status !== "done" ? `(retry ${job.attempt}) ` : "") + words[job.status];
  const video = job.params.kind === "video";
  const picture = video ? null : job.result_url || job.preview_url;
  if (picture) {
    $("result-image").src = withToken(picture);
    $("result-image").hidden = false;
    $("placeholder").hidden = true;
  }
  if (video && job.result_url && !$("result-video").src.includes(job.result_url)) {
    $("result-video").src = withToken(job.result_url);
    $("result-video").hidden = false;
    $("placeholder").hidden = true;
  }
  if (!video) $("result-video").hidden = true;
  if (video && !job.result_url) $("result-image").hidden = true;
  $("download").hidden = !job.result_url;
  $("download").textContent = video ? "Download MP4" : "Download PNG";
  if (job.result_url) $("download").href = withToken(job.result_url);
  $("cancel").hidden = !["queued", "running"].includes(job.status);
}

function follow(job) {
  if (state.events) state.events.close();
  showJob(job);
  const events = new EventSource(withToken(job.events_url));
  state.events = events;
  for (const name of ["queued", "running", "done", "failed", "cancelled"]) {
    events.addEventListener(name, (message) => {
      const update = JSON.parse(message.data);
      showJob(update);
      if (["done", "failed", "cancelled"].includes(name)) {
        events.close();
        updateStart();
        refreshRecent();
      }
    });
  }
}

async function start() {
  $("message").textContent = "";
  $("start").disabled = true;
  const batch = state.contents.length > 1;
  const form = new FormData();
  for (const file of batch ? state.contents : [state.content]) form.append(batch ? "contents" : "content", file);
  form.append("engine", engine());
  if (state.regions && !batch) {
    form.append("region_map", state.regions.blob, "regions.png");
    form.append("region_styles", [...state.regionStyles].map(([colour, style]) => `${colour}=${style}`).join(","));
  } else if (state.styleFile) form.append(batch ? "style_images" : "style_image", state.styleFile);
  else form.append(batch ? "styles" : "style", state.style);
  form.append("size", $("size").value);
  form.append("strength", $("strength").value);
  form.append("color", $("color").value);
  try {
    const made = await api(batch ? "/v1/batches" : "/v1/jobs", { method: "POST", body: form });
    const jobs = batch ? made.items : [made];
    const ids = jobs.map((job) => job.id);
    const recent = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]").filter((id) => !ids.includes(id));
    localStorage.setItem(RECENT_KEY, JSON.stringify([...ids.reverse(), ...recent].slice(0, 24)));
    $("result-image").hidden = true;
    $("result-video").hidden = true;
    $("result-video").removeAttribute("src");
    $("placeholder").hidden = false;
    follow(jobs[0]);
    refreshRecent();
  } catch (error) {
    $("message").textContent = error.message;
    updateStart();
  }
}

async function refreshRecent() {
  const ids = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
  const list = $("recent");
  if (!ids.length) return;
  let jobs;
  try {
    jobs = await api("/v1/jobs?ids=" + ids.join(","));
  } catch (error) {
    return;
  }
  list.replaceChildren();
  for (const job of jobs.sort((a, b) => b.created - a.created)) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = "#" + job.id;
    link.addEventListener("click", (event) => { event.preventDefault(); follow(job); });
    const video = job.params.kind === "video";
    const picture = job.result_url || (video ? null : job.preview_url);
    const thumb = document.createElement(picture ? (video ? "video" : "img") : "div");
    if (picture) {
      thumb.src = withToken(picture);
      if (video) { thumb.muted = true; thumb.preload = "metadata"; } else thumb.alt = "picture of job " + job.id.slice(0, 6);
    } else { thumb.className = "thumb-empty"; thumb.textContent = job.status; }
    const meta = document.createElement("div");
    meta.className = "meta";
    const what = document.createElement("span");
    what.textContent = (job.params.style || "own painting").replaceAll("_", " ") + " · " + job.params.size + " px"
      + (video ? " · video" : "");
    const badge = document.createElement("span");
    badge.className = "badge " + job.status;
    badge.textContent = job.status;
    meta.append(what, badge);
    link.append(thumb, meta);
    item.append(link);
    list.append(item);
  }
  $("recent-empty").hidden = jobs.length > 0;
  return jobs;
}

function setUpDrop() {
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    chooseContent(event.dataTransfer.files);
  });
  drop.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") $("content").click(); });
  $("content").addEventListener("change", (event) => chooseContent(event.target.files));
}

async function init() {
  setUpDrop();
  $("style-file").addEventListener("change", (event) => chooseStyleFile(event.target.files[0]));
  $("strength").addEventListener("input", showSliders);
  $("size").addEventListener("input", showSliders);
  $("start").addEventListener("click", start);
  $("find-regions").addEventListener("click", findRegions);
  $("clear-regions").addEventListener("click", clearRegions);
  $("regions-view").addEventListener("click", clickRegion);
  $("region-style").addEventListener("change", (event) => {
    state.regionStyles.set(state.pickedRegion, event.target.value);
    showRegions();
  });
  $("cancel").addEventListener("click", async () => {
    if (state.job) showJob(await api(`/v1/jobs/${state.job.id}/cancel`, { method: "POST" }));
  });
  $("tab-picture").addEventListener("click", () => showTab("picture"));
  $("tab-live").addEventListener("click", () => showTab("live"));
  $("live-start").addEventListener("click", startLive);
  $("live-stop").addEventListener("click", stopLive);
  window.addEventListener("pagehide", stopLive);
  $("token-save").addEventListener("click", () => {
    localStorage.setItem(TOKEN_KEY, $("token").value);
    $("token-bar").hidden = true;
    boot();
  });
  boot();
}

async function boot() {
  const health = await api("/v1/health");
  if (health.token_required && !token()) { $("token-bar").hidden = false; return; }
  try {
    await loadEngines();
    await loadStyles();
    const jobs = await refreshRecent();
    // After a reload the newest job is shown again (and followed, if it is still running).
    if (jobs?.length && !state.job) follow(jobs[0]);
  } catch (error) {
    $("message").textContent = error.message;
  }
}

init();
