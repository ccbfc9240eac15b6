// The page's behaviour: plain JavaScript over the JSON API, no build step. Text from the server is only ever set
// as textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

// The API's error in words: FastAPI's detail is a string, or a list of validation problems.
async function call(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new Error("the server could not be reached");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && body.detail;
    if (Array.isArray(detail)) {
      throw new Error(detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; "));
    }
    throw new Error(detail || `the server answered ${response.status} ${response.statusText}`);
  }
  return body;
}

function showError(id, error) {
  const element = $(id);
  element.textContent = error ? `Error: ${error.message}` : "";
  element.hidden = !error;
}

function fixed(value) {
  return value === null || value === undefined ? "none" : value.toFixed(4);
}

// Tabs: one panel visible at a time.
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll(".tab")) {
      other.setAttribute("aria-pressed", String(other === tab));
      $(other.dataset.panel).hidden = other !== tab;
    }
  });
}

// Drop zones: a dropped file becomes the input's file, and either way a preview shows what was chosen.
for (const zone of document.querySelectorAll(".drop")) {
  const input = zone.querySelector("input[type=file]");
  const preview = zone.querySelector("img");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
  input.addEventListener("change", () => {
    if (preview.src) URL.revokeObjectURL(preview.src);
    const file = input.files[0];
    preview.hidden = !file;
    if (file) preview.src = URL.createObjectURL(file);
  });
}

function formWith(fields) {
  const form = new FormData();
  for (const [name, file] of Object.entries(fields)) form.append(name, file);
  return form;
}

function thresholdQuery(id) {
  const value = $(id).value.trim();
  return value === "" ? "" : `threshold=${encodeURIComponent(value)}`;
}

async function loadOverview() {
  try {
    const g = await call("/api/gallery");
    $("overview-images").textContent = g.images.toLocaleString();
    const m = g.model;
    $("overview-model").textContent = m.backbone
      ? `${m.backbone} at ${m.image_size} px, ${m.weights} weights (${m.id})`
      : m.id;
    const names = Object.entries(g.identities).map(([name, count]) => `${name} (${count})`);
    $("overview-identities").textContent = names.length ? names.join(", ") : "none enrolled";
    $("overview-threshold").textContent =
      g.threshold === null ? "not calibrated" : `${g.threshold.toFixed(4)} (${g.scorer} distance)`;
    showError("overview-error", null);
  } catch (error) {
    showError("overview-error", error);
  }
}

// Search: the grid of look-alikes; a click on one searches from it.
function renderHits(result) {
  const grid = $("search-results");
  grid.replaceChildren();
  for (const hit of result.hits) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "hit";
    button.dataset.id = hit.image.id;
    button.title = `Search for look-alikes of ${hit.image.name}`;
    const img = document.createElement("img");
    img.src = hit.image.thumbnail;
    img.alt = hit.image.name;
    img.loading = "lazy";
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = hit.score.toFixed(4);
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = hit.image.label ? `${hit.image.label}/${hit.image.name}` : hit.image.name;
    // A face model's hit is one face of the photo (its thumbnail shows that face): say which.
    if (hit.image.region) name.textContent += `, ${hit.image.region.split(" at ")[0]}`;
    button.append(img, score, name);
    button.addEventListener("click", () => searchFrom(hit.image.id));
    item.append(button);
    grid.append(item);
  }
  const from = result.query_image ? ` (gallery image #${result.query_image.id})` : "";
  $("search-status").textContent = `${result.hits.length} look-alikes of ${result.query}${from}`;
}

async function runSearch(request) {
  showError("search-error", null);
  $("search-status").textContent = "searching…";
  try {
    renderHits(await request);
  } catch (error) {
    $("search-status").textContent = "";
    showError("search-error", error);
  }
}

function searchK() {
  return encodeURIComponent($("search-k").value || "12");
}

function searchFrom(id) {
  const zone = $("search-file").closest(".drop");
  const preview = zone.querySelector("img");
  if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
  preview.src = `/api/images/${id}/thumbnail`;
  preview.hidden = false;
  runSearch(call(`/api/search/${id}?k=${searchK()}&exclude_self=true`));
}

$("search-file").addEventListener("change", () => {
  const file = $("search-file").files[0];
  if (file) runSearch(call(`/api/search?k=${searchK()}`, { method: "POST", body: formWith({ file }) }));
});

// Verify: two images in, the distance and the decision out.
$("verify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("verify-error", null);
  const first = $("verify-first").files[0];
  const second = $("verify-second").files[0];
  if (!first || !second) {
    showError("verify-error", new Error("choose two images to compare"));
    return;
  }
  $("verify-result").textContent = "comparing…";
  try {
    const v = await call(`/api/verify?${thresholdQuery("verify-threshold")}`,
      { method: "POST", body: formWith({ first, second }) });
    const decision = v.decision === "undecided" ? "undecided (no τ: calibrate the gallery, or give one)" : v.decision;
    $("verify-result").textContent =
      `${decision}: distance ${fixed(v.distance)}, similarity ${fixed(v.similarity)}, τ ${fixed(v.threshold)} ` +
      `(${v.scorer})`;
  } catch (error) {
    $("verify-result").textContent = "";
    showError("verify-error", error);
  }
});

function named(face) {
  return face.identity === null ? `unknown (closest: ${face.closest})` : face.identity;
}

// The photo with a box and a name on every face the server found (a model with face preprocessing); boxes are in
// the photo's own pixels, placed here as shares of its size so they follow the photo however it is scaled.
function showFaces(file, faces) {
  const boxed = faces.filter((face) => face.box);
  const photo = $("recognize-photo");
  $("recognize-boxes").replaceChildren();
  $("recognize-figure").hidden = !boxed.length;
  if (photo.src) URL.revokeObjectURL(photo.src);
  if (!boxed.length) return;
  photo.onload = () => {
    const width = photo.naturalWidth;
    const height = photo.naturalHeight;
    for (const face of boxed) {
      const [left, top, boxWidth, boxHeight] = face.box;
      const box = document.createElement("div");
      box.className = face.identity === null ? "face-box unknown" : "face-box";
      Object.assign(box.style, {
        left: `${(100 * left) / width}%`, top: `${(100 * top) / height}%`,
        width: `${(100 * boxWidth) / width}%`, height: `${(100 * boxHeight) / height}%`,
      });
      const label = document.createElement("span");
      label.textContent = `${face.identity === null ? "unknown" : face.identity} ${fixed(face.distance)}`;
      box.append(label);
      $("recognize-boxes").append(box);
    }
  };
  photo.src = URL.createObjectURL(file);
}

// Recognise: an identity or "unknown" for every face, always with the distance.
$("recognize-file").addEventListener("change", async () => {
  const file = $("recognize-file").files[0];
  if (!file) return;
  showError("recognize-error", null);
  showFaces(file, []);
  $("recognize-result").textContent = "recognising…";
  try {
    const r = await call(`/api/recognize?${thresholdQuery("recognize-threshold")}`,
      { method: "POST", body: formWith({ file }) });
    const line = `${named(r)}: distance ${fixed(r.distance)}, τ ${fixed(r.threshold)}`;
    $("recognize-result").textContent = r.faces.length > 1
      ? `${r.faces.length} faces: ${r.faces.map(named).join(", ")} (τ ${fixed(r.threshold)})` : line;
    showFaces(file, r.faces);
  } catch (error) {
    $("recognize-result").textContent = "";
    showError("recognize-error", error);
  }
});

// Collection: near-duplicate groups, one row each, and the map.
function thumbnailButton(image, caption) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "hit";
  button.title = `Search for look-alikes of ${image.name}`;
  const img = document.createElement("img");
  img.src = image.thumbnail;
  img.alt = image.name;
  img.loading = "lazy";
  const text = document.createElement("span");
  text.className = "name";
  text.textContent = caption;
  button.append(img, text);
  button.addEventListener("click", () => showSearchFrom(image.id));
  return button;
}

function showSearchFrom(id) {
  document.querySelector('.tab[data-panel="search-panel"]').click();
  searchFrom(id);
}

$("duplicates-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("duplicates-error", null);
  $("duplicates-groups").replaceChildren();
  $("duplicates-status").textContent = "grouping… (the first time, the level is measured for the gallery's model)";
  try {
    const similar = $("duplicates-similar").checked;
    const d = await call(`/api/duplicates?similar=${similar}`);
    const kind = similar ? "similar images" : "near-duplicates";
    const shown = d.shown.length < d.groups ? `, the largest ${d.shown.length} shown` : "";
    $("duplicates-status").textContent =
      `${d.groups} groups of ${kind} at similarity ≥ ${d.threshold.toFixed(4)}` +
      (d.pixel === null ? "" : `, or ≥ ${d.candidate.toFixed(4)} with matching pixel prints`) +
      ` (${d.level} level)${shown}`;
    for (const group of d.shown) {
      const row = document.createElement("li");
      for (const member of group) {
        row.append(thumbnailButton(member.image, `${member.score.toFixed(4)} ${member.image.name}`));
      }
      $("duplicates-groups").append(row);
    }
  } catch (error) {
    $("duplicates-status").textContent = "";
    showError("duplicates-error", error);
  }
});

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
  "#17becf"];
const SVG = "http://www.w3.org/2000/svg";

function drawMap(m) {
  const plot = $("map-plot");
  plot.replaceChildren();
  const xs = m.points.map((p) => p.x);
  const ys = m.points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const place = (value, low, high, size) => 20 + ((value - low) / (high - low || 1)) * (size - 40);
  const counts = new Map();
  for (const p of m.points) if (p.group !== null) counts.set(p.group, (counts.get(p.group) || 0) + 1);
  const coloured = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, PALETTE.length).map(([g]) => g);
  const preview = $("map-preview");
  for (const p of m.points) {
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", place(p.x, x0, x1, 1000));
    dot.setAttribute("cy", place(p.y, y0, y1, 700));
    dot.setAttribute("r", 4);
    const index = coloured.indexOf(p.group);
    dot.setAttribute("fill", index >= 0 ? PALETTE[index] : "#bbb");
    const title = document.createElementNS(SVG, "title");
    title.textContent = p.group === null ? p.image.name : `${p.image.name} (${p.group})`;
    dot.append(title);
    dot.addEventListener("mouseenter", () => {
      preview.src = p.image.thumbnail;
      preview.hidden = false;
    });
    dot.addEventListener("click", () => showSearchFrom(p.image.id));
    plot.append(dot);
  }
  $("map-legend").replaceChildren(...coloured.map((group, index) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = PALETTE[index];
    item.append(swatch, `${group} (${counts.get(group)})`);
    return item;
  }));
  $("map").hidden = false;
}

$("map-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("map-error", null);
  $("map-status").textContent = "laying out… (t-SNE takes about a minute for 5,000 images)";
  try {
    const m = await call("/api/map");
    const sampled = m.points.length < m.gallery_images ? `, a random ${m.points.length} of ${m.gallery_images}` : "";
    const names = { umap: "UMAP", tsne: "t-SNE", pca: "PCA" };
    $("map-status").textContent =
      `${m.points.length} images laid out by ${names[m.method]}${sampled}, coloured by ${m.colour_by}`;
    drawMap(m);
  } catch (error) {
    $("map-status").textContent = "";
    showError("map-error", error);
  }
});

loadOverview();
