// deertrack review page: plain JavaScript over the JSON API, no build step. The bearer token lives in
// sessionStorage (from #token=... or the sign-in form); pictures are fetched with it and shown as blob URLs
// (the browser's HTTP cache keeps them: the crop endpoint sends Cache-Control and ETag).
"use strict";

const TOKEN_KEY = "deertrack.token";
const ROLES = ["viewer", "reviewer", "admin"];
const KIND_LABEL = { close_call: "close call", needs_review: "no deer yet", new_deer: "new deer", merge_candidate: "merge candidate",
                     corrected_class: "corrected class", unreviewed: "unreviewed" };
const $ = (id) => document.getElementById(id);

const state = {
  token: null, user: null, role: null, canReview: false,
  queue: { items: [], total: 0, byKind: {}, filters: {}, loaded: false },
  index: -1,          // position of the open item in state.queue.items (-1: opened directly)
  selected: 0,        // highlighted row of the queue list
  view: null,         // what is open: {type, ...}
  last: null,         // the last answer, for undo: {type: "review"|"merge", id, item}
  busy: false,
  deerList: { q: "", items: [], next: null },
};

// ------------------------------------------------------------------------------------------ sign-in

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(part + "===".slice((part.length + 3) % 4)))));
  } catch (e) { return null; }
}

function signIn(token) {
  const claims = claimsOf(token.trim());
  if (!claims) { showAlert("That is not a token (three base64url parts separated by dots)."); return false; }
  state.token = token.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  state.user = claims["cognito:username"] || claims.username || claims.sub || "?";
  const groups = claims["cognito:groups"] || [];
  state.role = ROLES.filter((r) => groups.includes(r)).pop() || null;
  state.canReview = state.role === "reviewer" || state.role === "admin";
  $("who").textContent = `${state.user} · ${state.role || "no role"}` + (state.canReview ? "" : " · read-only");
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  document.body.dataset.role = state.role || "none";
  return true;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  $("who").textContent = "";
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
  if (message) showAlert(message);
  $("token-input").focus();
}

// The Cognito hosted sign-in (AWS): OAuth code flow with PKCE, no client secret. /review/config.json says where.
const PKCE_KEY = "deertrack.pkce";

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function hostedSignIn(hosted) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(48)));
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state: nonce }));
  const params = new URLSearchParams({ response_type: "code", client_id: hosted.client_id, scope: hosted.scopes,
    redirect_uri: location.origin + location.pathname, state: nonce, code_challenge: challenge,
    code_challenge_method: "S256" });
  location.assign(`${hosted.url}/oauth2/authorize?${params}`);
}

// Back from the hosted sign-in with ?code=…&state=…: trade the code for tokens; the ID token signs in.
async function finishHostedSignIn(hosted) {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return false;
  history.replaceState(null, "", location.pathname + location.hash);
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  if (query.has("error")) { showAlert(`Sign-in failed: ${query.get("error_description") || query.get("error")}`); return false; }
  if (!hosted || !saved || saved.state !== query.get("state")) { showAlert("Sign-in failed: the answer does not match this tab's request; sign in again."); return false; }
  const res = await fetch(`${hosted.url}/oauth2/token`, { method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: hosted.client_id, code: query.get("code"),
      redirect_uri: location.origin + location.pathname, code_verifier: saved.verifier }) });
  const tokens = await res.json().catch(() => ({}));
  if (!res.ok || !tokens.id_token) { showAlert(`Sign-in failed: ${tokens.error || `HTTP ${res.status}`}`); return false; }
  return signIn(tokens.id_token);
}

// ------------------------------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, body) {
    const details = (body && body.details || []).map((d) => d.message).filter((m) => m && m !== body.message);
    super([(body && body.message) || `HTTP ${status}`, ...details].join(" — "));
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json() : null;
  if (res.status === 401) { signOut(`Signed out: ${new ApiError(401, data).message}`); throw new ApiError(401, data); }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

const pictures = new Map();  // path -> Promise<blob URL>
const PICTURES_KEPT = 800;

function picture(img, path, alt) {
  img.alt = alt;
  img.dataset.src = path;
  let url = pictures.get(path);
  if (!url) {
    url = fetch(path, { headers: { Authorization: `Bearer ${state.token}` } })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((blob) => URL.createObjectURL(blob));
    url.catch(() => pictures.delete(path));
    pictures.set(path, url);
    if (pictures.size > PICTURES_KEPT) {
      const [oldest, promise] = pictures.entries().next().value;
      pictures.delete(oldest);
      promise.then((u) => URL.revokeObjectURL(u)).catch(() => {});
    }
  }
  url.then((u) => { if (img.dataset.src === path) img.src = u; })
     .catch(() => { if (img.dataset.src === path) img.alt = `${alt} (picture unavailable)`; });
  return img;
}

const cropPath = (detectionId, size = 160) => `/api/detections/${detectionId}/crop?size=${size}`;

// ------------------------------------------------------------------------------------------ helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) {
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

const day = (iso) => (iso ? iso.slice(0, 10) : "—");
const when = (iso) => (iso ? iso.replace("T", " ").slice(0, 16) + " UTC" : "—");
const score = (s) => (s === null || s === undefined ? "—" : Number(s).toFixed(3));
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function say(message) { $("status").textContent = message; }
function showAlert(message) { const a = $("alert"); a.textContent = message; a.hidden = !message; }

function show(viewId, titleId) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== viewId;
  for (const button of document.querySelectorAll(".act")) button.disabled = !state.canReview;
  $(titleId).focus({ preventScroll: false });
}

// Marks what is shown and answerable (tests wait on it); the first time is the page's time to interactive.
let shownCount = 0;
function ready(name) {
  $("main").dataset.ready = name;
  $("main").dataset.shown = String(++shownCount);
  if (window.deertrackInteractiveAt === undefined) window.deertrackInteractiveAt = performance.now();
}

function loading() {
  state.view = null;  // no key acts on what is being replaced
  $("main").dataset.ready = "";
  showAlert("");  // an alert is about the view being replaced
}

// Shows `hash` without a second route from the hashchange event.
async function go(hash) {
  if (location.hash !== hash) history.pushState(null, "", hash);
  await route();
}

async function guarded(work) {
  if (state.busy) return;
  state.busy = true;
  document.body.dataset.busy = "1";
  showAlert("");
  try { await work(); } catch (e) { if (e.status !== 401) showAlert(e.message); } finally {
    state.busy = false;
    delete document.body.dataset.busy;
  }
}

function needReviewer() {
  if (state.canReview) return true;
  showAlert(`Read-only: ${state.user} is a ${state.role || "user without a role"}; answers need the reviewer role.`);
  return false;
}

// ------------------------------------------------------------------------------------------ queue

function filterQuery(offset) {
  const params = new URLSearchParams({ limit: "50", offset: String(offset) });
  for (const [k, v] of Object.entries(state.queue.filters)) if (v) params.set(k, v);
  return params.toString();
}

async function loadQueue(append = false) {
  const offset = append ? state.queue.items.length : 0;
  const page = await api("GET", `/api/review/queue?${filterQuery(offset)}`);
  state.queue.items = append ? state.queue.items.concat(page.items) : page.items;
  state.queue.total = page.total;
  state.queue.byKind = page.by_kind;
  state.queue.more = page.next_offset !== null;
  state.queue.loaded = true;
}

function itemHash(item) {
  return item.kind === "merge_candidate" ? `#/merge/${item.deer_a}/${item.deer_b}` : `#/detection/${item.detection_id}`;
}

function itemLabel(item) {
  if (item.kind === "merge_candidate") {
    return `${item.deer_a_name} and ${item.deer_b_name} (${item.sex}), score ${score(item.score)}`;
  }
  const margin = item.kind === "close_call" ? `, margin ${score(item.margin)}` : "";
  return `Detection ${item.detection_id}: ${item.classification} at ${item.location_code}, ${when(item.captured_at)}` +
    (item.deer_name ? ` — ${item.deer_name} (${plural(item.deer_sightings, "sighting")})` : " — no deer yet (poor crop)") +
    (item.score === null || item.score === undefined ? "" : `, score ${score(item.score)}`) + margin;
}

function renderQueue() {
  const q = state.queue;
  const kinds = Object.entries(q.byKind).filter(([, n]) => n).map(([k, n]) => `${n} ${KIND_LABEL[k]}`);
  $("queue-counts").textContent = `${plural(q.total, "item")} to review` + (kinds.length ? `: ${kinds.join(", ")}` : "");
  const list = $("queue-list");
  list.replaceChildren(...q.items.map((item, i) => el("li", { "aria-current": i === state.selected ? "true" : null },
    item.kind === "merge_candidate" ? el("span", { class: "thumb-pair" }) :
      picture(el("img", { width: 64, height: 64 }), cropPath(item.detection_id, 64),
              `crop of detection ${item.detection_id}`),
    el("span", { class: "kind", text: KIND_LABEL[item.kind] }),
    el("a", { href: itemHash(item), onclick: () => { state.index = i; } }, itemLabel(item)))));
  if (!q.items.length) list.append(el("li", { text: "Nothing to review with these filters." }));
  $("queue-more").hidden = !q.more;
}

async function openQueue() {
  loading();
  await guardedOpen(async () => {
    if (!state.queue.loaded) await loadQueue();
    state.selected = Math.max(0, Math.min(state.selected, state.queue.items.length - 1));
    renderQueue();
    show("view-queue", "queue-title");
    say(`${plural(state.queue.total, "item")} in the queue. j/k move, Enter opens.`);
    ready("queue");
  });
}

function moveSelection(step) {
  const n = state.queue.items.length;
  if (!n) return;
  state.selected = (state.selected + step + n) % n;
  renderQueue();
  const row = $("queue-list").children[state.selected];
  if (row) { row.scrollIntoView({ block: "nearest" }); row.querySelector("a").focus(); }
}

// Opens the item at `index` of the queue (reloading the queue once it runs out).
async function openItem(index) {
  if (index >= state.queue.items.length && state.queue.more) await loadQueue(true);
  if (index >= state.queue.items.length || index < 0) {
    await loadQueue();
    index = 0;
  }
  const item = state.queue.items[index];
  if (!item) {
    state.index = -1;
    await go("#/queue");
    say("The queue is empty: nothing left to review with these filters.");
    return;
  }
  state.index = index;
  state.selected = index;
  await go(itemHash(item));
}

function position() {
  return state.index >= 0 ? ` · ${state.index + 1} of ${state.queue.total}` : "";
}

async function afterDecision(message) {
  if (state.index >= 0) state.queue.items.splice(state.index, 1);
  state.queue.total = Math.max(0, state.queue.total - 1);
  await openItem(state.index >= 0 ? state.index : 0);
  say(message);
}

// ------------------------------------------------------------------------------------------ one detection

function candidateCard(c, number, currentId) {
  const current = c.deer_id === currentId;
  const thumbs = el("span", { class: "thumbs" }, (c.crop_detection_ids || []).map((id) =>
    picture(el("img", { width: 96, height: 96 }), cropPath(id, 96), `${c.deer_name}, detection ${id}`)));
  const last = c.last_seen ? `last seen ${day(c.last_seen)} at ${c.last_location_code || "?"}` : "not seen yet";
  return el("li", { class: `candidate${current ? " current" : ""}`, "data-deer": c.deer_id },
    el("span", { class: "num", "aria-hidden": "true", text: String(number) }),
    el("div", {},
      thumbs,
      el("div", { class: "facts" },
        el("a", { href: `#/deer/${c.deer_id}` }, c.deer_name), ` · ${c.deer_sex} · score ${score(c.score)} · `,
        `${plural(c.sighting_count, "sighting")} · ${last}`, current ? el("span", { class: "tag", text: " · current deer" }) : null)),
    el("button", { type: "button", class: "act", "data-act": "reassign", "data-deer": c.deer_id,
                   "aria-keyshortcuts": String(number),
                   "aria-label": `${current ? "Confirm" : "Reassign to"} ${c.deer_name} (key ${number})` },
       current ? "Confirm " : "Reassign ", el("kbd", { text: String(number) })));
}

async function openDetection(id) {
  loading();
  const view = await api("GET", `/api/detections/${id}`);
  state.view = { type: "detection", id, detection: view };
  const item = state.queue.items[state.index];
  const kind = item && item.detection_id === id ? ` · ${KIND_LABEL[item.kind]}` : "";
  $("detection-title").textContent = `Detection ${id}${kind}${position()}`;
  picture($("detection-crop"), cropPath(id, 320), `crop of detection ${id}`);
  $("detection-photo-box").hidden = true;
  $("photo-toggle").setAttribute("aria-expanded", "false");
  $("detection-photo").removeAttribute("src");
  const cls = view.corrected_classification
    ? `${view.corrected_classification} (corrected from ${view.classification})` : view.classification;
  const deer = view.deer ? `${view.deer.name} (${plural(view.deer.sighting_count, "sighting")}, ${view.deer.sex})` : "none";
  const reviewed = view.reviewed ? ` · reviewed by ${view.reviewed.by}` : "";
  const truth = view.truth && view.truth.source === "review" ? ` · truth: ${view.truth.individual_key}` : "";
  $("detection-facts").replaceChildren(
    el("strong", { text: cls }), ` at ${view.image.location.code} (${view.image.location.name}), ${when(view.image.captured_at)}`,
    el("br"), `confidence ${score(view.confidence)} · ${view.is_valid ? "valid" : "marked invalid"} · re-ID ${view.reid.status}`,
    el("br"), "deer: ", view.deer ? el("a", { href: `#/deer/${view.deer.id}` }, deer) : deer, reviewed, truth);
  const current = view.deer ? view.deer.id : null;
  $("candidate-list").replaceChildren(...view.candidates.map((c, i) => candidateCard(c, i + 1, current)));
  if (!view.candidates.length) $("candidate-list").append(el("li", { text: "No scored candidates." }));
  $("note-input").value = "";
  $("search-results").replaceChildren();
  $("deer-search").value = "";
  show("view-detection", "detection-title");
  for (const b of document.querySelectorAll('[data-act="confirm"]')) b.disabled = !state.canReview || current === null;
  ready(`detection-${id}`);
}

async function answer(body, describe, decides = true) {
  if (!needReviewer() || !state.view || state.view.type !== "detection") return;
  await guarded(async () => {
    const id = state.view.id;
    const done = await api("PATCH", `/api/detections/${id}`, body);
    state.last = { type: "review", id: done.review.review_id, detectionId: id, item: state.queue.items[state.index] };
    const message = `${describe(done)} (detection ${id}). z undoes.`;
    if (decides) await afterDecision(message);
    else { await openDetection(id); say(message); }
  });
}

const detectionActions = {
  confirm() {
    const deer = state.view.detection.deer;
    if (deer || !needReviewer()) answer({ deer_id: deer ? deer.id : null }, () => `Confirmed ${deer.name}`);
    else showAlert("This detection has no deer to confirm (re-identification left it for you): " +
                   "choose a candidate (1-5), search a deer (/), make a new deer (n) or mark it invalid (x).");
  },
  reassign(deerId, name) {
    const current = state.view.detection.deer;
    answer({ deer_id: deerId }, () => (current && current.id === deerId ? `Confirmed ${name}` : `Reassigned to ${name}`));
  },
  candidate(number) {
    const c = state.view.detection.candidates[number - 1];
    if (c) detectionActions.reassign(c.deer_id, c.deer_name);
  },
  new() { answer({ new_deer: true }, (d) => `New deer ${d.deer ? d.deer.name : d.review.deer_id}`); },
  invalid() { answer({ is_valid: false }, () => "Marked invalid"); },
  klass(value) { answer({ corrected_classification: value }, () => `Class corrected to ${value}`, false); },
  note() {
    const note = $("note-input").value.trim();
    if (note) answer({ note }, () => "Note saved", false);
  },
};

async function searchDeer(q) {
  const results = $("search-results");
  if (!q.trim()) { results.replaceChildren(); return []; }
  const page = await api("GET", `/api/deer?q=${encodeURIComponent(q.trim())}&limit=8`);
  results.replaceChildren(...page.items.map((d) => el("li", {}, el("button", {
    type: "button", class: "act", onclick: () => detectionActions.reassign(d.id, d.name),
  }, `Reassign to ${d.name} (#${d.id}, ${d.sex}, ${plural(d.sighting_count, "sighting")})`))));
  if (!page.items.length) results.append(el("li", { text: "No deer matches." }));
  for (const b of results.querySelectorAll("button")) b.disabled = !state.canReview;
  return page.items;
}

// ------------------------------------------------------------------------------------------ merge candidates

function deerCard(deer, label) {
  const bars = Math.max(1, ...deer.timeline.entries.map((e) => e.detections));
  return [
    el("h3", {}, `${label}: `, el("a", { href: `#/deer/${deer.id}` }, deer.name), ` (#${deer.id})`),
    el("p", { text: `${deer.sex} · ${plural(deer.sighting_count, "sighting")} · ${day(deer.first_seen)} to ${day(deer.last_seen)}` }),
    el("ul", { class: "crops", "aria-label": `Crops of ${deer.name}` }, deer.crop_detection_ids.slice(0, 8).map((id) =>
      el("li", {}, picture(el("img", { width: 120, height: 120 }), cropPath(id, 160), `${deer.name}, detection ${id}`)))),
    el("h4", { text: "Timeline" }),
    el("ol", { class: "timeline", "aria-label": `Sightings of ${deer.name} by ${deer.timeline.by}` },
      deer.timeline.entries.map((e) => el("li", { style: `height:${8 + Math.round(60 * e.detections / bars)}px`,
        title: `${e.period}: ${plural(e.detections, "detection")} at ${e.locations.join(", ")}`,
        "aria-label": `${e.period}: ${plural(e.detections, "detection")} at ${e.locations.join(", ")}` }))),
    el("h4", { text: "Cameras" }),
    el("p", { text: deer.cameras.map((c) => `${c.code} (${c.detections})`).join(", ") || "none" }),
  ];
}

async function openMerge(a, b) {
  loading();
  const [deerA, deerB] = await Promise.all([api("GET", `/api/deer/${a}`), api("GET", `/api/deer/${b}`)]);
  const item = state.queue.items[state.index];
  const pairItem = item && item.kind === "merge_candidate" && item.deer_a === a && item.deer_b === b ? item : null;
  state.view = { type: "merge", a: deerA, b: deerB, item: pairItem };
  $("merge-title").textContent = `Merge candidate: ${deerA.name} and ${deerB.name}${position()}`;
  $("merge-facts").textContent = pairItem ? `Suggested by the merge job, score ${score(pairItem.score)}.` : "";
  $("merge-a").replaceChildren(...deerCard(deerA, "A"));
  $("merge-b").replaceChildren(...deerCard(deerB, "B"));
  show("view-merge", "merge-title");
  ready(`merge-${a}-${b}`);
}

const mergeActions = {
  merge() {
    if (!needReviewer() || !state.view || state.view.type !== "merge") return;
    const { a, b } = state.view;
    const [kept, merged] = a.sighting_count >= b.sighting_count ? [a, b] : [b, a];
    guarded(async () => {
      const done = await api("POST", `/api/deer/${merged.id}/merge`, { into_deer_id: kept.id, reason: "review page" });
      state.last = { type: "merge", id: done.id, item: state.queue.items[state.index] };
      await afterDecision(`Merged ${merged.name} into ${kept.name}. z undoes.`);
    });
  },
  notSame() {
    if (!needReviewer() || !state.view || state.view.type !== "merge") return;
    const { a, b } = state.view;
    guarded(async () => {
      await api("POST", `/api/deer/${a.id}/not-same`, { other_deer_id: b.id });
      state.last = null;
      await afterDecision(`${a.name} and ${b.name} are not the same animal; remembered.`);
    });
  },
};

// ------------------------------------------------------------------------------------------ undo

async function undo() {
  if (!needReviewer()) return;
  const last = state.last;
  if (!last) { say("Nothing to undo here (a \"not the same\" answer is kept)."); return; }
  await guarded(async () => {
    const path = last.type === "review" ? `/api/reviews/${last.id}/undo` : `/api/deer/merges/${last.id}/undo`;
    await api("POST", path);
    state.last = null;
    if (last.item) {
      const at = Math.max(0, Math.min(state.index < 0 ? 0 : state.index, state.queue.items.length));
      state.queue.items.splice(at, 0, last.item);
      state.queue.total += 1;
      state.index = at;
    }
    await go(last.type === "review" ? `#/detection/${last.detectionId}` : itemHash(last.item));
    say(`Undone: the last ${last.type === "review" ? "answer" : "merge"}.`);
  });
}

// ------------------------------------------------------------------------------------------ deer pages

async function openDeerList(q, append = false) {
  const offset = append ? state.deerList.items.length : 0;
  const params = new URLSearchParams({ limit: "50", offset: String(offset) });
  if (q) params.set("q", q);
  const page = await api("GET", `/api/deer?${params}`);
  state.deerList = { q, items: append ? state.deerList.items.concat(page.items) : page.items, next: page.next_offset };
  $("deer-list").replaceChildren(...state.deerList.items.map((d) => el("li", {},
    el("a", { href: `#/deer/${d.id}` }, d.name), ` (#${d.id}) · ${d.sex} · ${plural(d.sighting_count, "sighting")} · `,
    `last seen ${day(d.last_seen)}`)));
  $("deer-more").hidden = page.next_offset === null;
  $("deer-list-title").textContent = `Deer (${page.total})`;
  show("view-deer-list", "deer-list-title");
  ready("deer-list");
}

async function openDeer(id) {
  const deer = await api("GET", `/api/deer/${id}`);
  state.view = { type: "deer", deer };
  $("deer-title").textContent = `${deer.name} (#${deer.id})`;
  const merged = deer.merged_into ? ` · merged into #${deer.merged_into}` : "";
  $("deer-facts").textContent = `${deer.sex} · ${deer.status}${merged} · ${plural(deer.sighting_count, "sighting")} · ` +
    `first seen ${when(deer.first_seen)} · last seen ${when(deer.last_seen)}`;
  $("deer-crops").replaceChildren(...deer.crop_detection_ids.map((d) => el("li", {}, el("figure", {},
    picture(el("img", { width: 120, height: 120 }), cropPath(d, 160), `${deer.name}, detection ${d}`),
    el("figcaption", {}, el("a", { href: `#/detection/${d}` }, `detection ${d}`))))));
  const bars = Math.max(1, ...deer.timeline.entries.map((e) => e.detections));
  $("deer-timeline").replaceChildren(...deer.timeline.entries.map((e) => el("li", {
    style: `height:${8 + Math.round(60 * e.detections / bars)}px`,
    title: `${e.period}: ${plural(e.detections, "detection")} at ${e.locations.join(", ")}`,
    "aria-label": `${e.period}: ${plural(e.detections, "detection")} at ${e.locations.join(", ")}` })));
  $("deer-cameras").tBodies[0].replaceChildren(...deer.cameras.map((c) => el("tr", {},
    el("td", { text: `${c.code} (${c.name})` }), el("td", { text: String(c.detections) }),
    el("td", { text: when(c.first_seen) }), el("td", { text: when(c.last_seen) }))));
  $("deer-merges").replaceChildren(...deer.merges.map((m) => el("li", {},
    `#${m.merged_deer_id} merged into #${m.kept_deer_id} (${m.method}, by ${m.actor}, ${when(m.created_at)})`,
    m.undone_at ? ` · undone ${when(m.undone_at)} by ${m.undone_by}` :
      el("button", { type: "button", class: "act", onclick: () => guarded(async () => {
        await api("POST", `/api/deer/merges/${m.id}/undo`);
        await openDeer(id);
        say(`Merge ${m.id} undone.`);
      }) }, "Undo this merge"))));
  if (!deer.merges.length) $("deer-merges").append(el("li", { text: "No merges." }));
  show("view-deer", "deer-title");
  ready(`deer-${id}`);
}

// ------------------------------------------------------------------------------------------ routing

async function route() {
  if (!state.token) { signOut(); return; }
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  const number = (s) => Number.parseInt(s, 10);
  try {
    if (parts[0] === "detection" && number(parts[1]) > 0) await guardedOpen(() => openDetection(number(parts[1])));
    else if (parts[0] === "merge" && number(parts[1]) > 0 && number(parts[2]) > 0) {
      await guardedOpen(() => openMerge(number(parts[1]), number(parts[2])));
    } else if (parts[0] === "deer" && number(parts[1]) > 0) await guardedOpen(() => openDeer(number(parts[1])));
    else if (parts[0] === "deer") await guardedOpen(() => openDeerList($("deer-list-q").value.trim()));
    else if (parts[0] === "queue") await openQueue();
    else await guardedOpen(async () => { await loadQueue(); await openItem(0); });
  } catch (e) { if (e.status !== 401) showAlert(e.message); }
}

async function guardedOpen(work) {
  showAlert("");
  try { await work(); } catch (e) { if (e.status !== 401) showAlert(e.message); }
}

// ------------------------------------------------------------------------------------------ keyboard

function onKey(event) {
  if (event.defaultPrevented || event.altKey || event.metaKey) return;
  const target = event.target;
  const typing = target.matches && target.matches("input, textarea, select");
  if (typing) {
    if (event.key === "Escape") { target.blur(); $("main").focus(); event.preventDefault(); }
    if (target.id === "note-input" && event.key === "Enter" && event.ctrlKey) { event.preventDefault(); detectionActions.note(); }
    return;
  }
  if (event.ctrlKey) return;
  if ($("help").open) return;
  const key = event.key;
  const view = state.view && !$("view-queue").hidden ? null : state.view;
  const onQueue = !$("view-queue").hidden;
  let handled = true;
  if (key === "?") { $("help").showModal(); }
  else if (key === "q" || key === "Escape") { location.hash = "#/queue"; }
  else if (onQueue) {
    if (key === "j" || key === "ArrowDown") moveSelection(1);
    else if (key === "k" || key === "ArrowUp") moveSelection(-1);
    else if (key === "Enter" && target.tagName !== "A" && state.queue.items.length) openItem(state.selected);
    else if (key === "z") undo();
    else handled = false;
  } else if (view && view.type === "detection" && !$("view-detection").hidden) {
    if (key === "c" || (key === "Enter" && target.tagName !== "BUTTON" && target.tagName !== "A")) detectionActions.confirm();
    else if (/^[1-5]$/.test(key)) detectionActions.candidate(Number(key));
    else if (key === "n") detectionActions.new();
    else if (key === "x") detectionActions.invalid();
    else if ({ b: 1, d: 1, f: 1, u: 1 }[key]) detectionActions.klass({ b: "buck", d: "doe", f: "fawn", u: "unknown" }[key]);
    else if (key === "/") $("deer-search").focus();
    else if (key === "a") $("note-input").focus();
    else if (key === "p") $("photo-toggle").click();
    else if (key === "z") undo();
    else if (key === "j") guarded(() => openItem(state.index + 1));
    else if (key === "k") guarded(() => openItem(Math.max(0, state.index - 1)));
    else handled = false;
  } else if (view && view.type === "merge" && !$("view-merge").hidden) {
    if (key === "m") mergeActions.merge();
    else if (key === "s") mergeActions.notSame();
    else if (key === "z") undo();
    else if (key === "j") guarded(() => openItem(state.index + 1));
    else if (key === "k") guarded(() => openItem(Math.max(0, state.index - 1)));
    else handled = false;
  } else if (key === "z") undo();
  else handled = false;
  if (handled) event.preventDefault();
}

// ------------------------------------------------------------------------------------------ start

function wire() {
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", route);
  $("sign-in-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (signIn($("token-input").value)) { $("token-input").value = ""; showAlert(""); route(); }
  });
  $("sign-out").addEventListener("click", () => signOut("Signed out."));
  $("help-button").addEventListener("click", () => $("help").showModal());
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = new FormData($("filters"));
    state.queue.filters = Object.fromEntries([...form.entries()].filter(([, v]) => v));
    state.queue.loaded = false;
    state.selected = 0;
    openQueue();
  });
  $("queue-more").addEventListener("click", () => guarded(async () => { await loadQueue(true); renderQueue(); }));
  $("deer-more").addEventListener("click", () => guardedOpen(() => openDeerList(state.deerList.q, true)));
  $("deer-list-form").addEventListener("submit", (e) => {
    e.preventDefault();
    guardedOpen(() => openDeerList($("deer-list-q").value.trim()));
  });
  $("photo-toggle").addEventListener("click", () => {
    const box = $("detection-photo-box");
    box.hidden = !box.hidden;
    $("photo-toggle").setAttribute("aria-expanded", String(!box.hidden));
    if (!box.hidden && state.view && state.view.type === "detection") {
      picture($("detection-photo"), `/api/detections/${state.view.id}/photo?size=1024`, `whole photo of detection ${state.view.id}`);
    }
  });
  let searchTimer = null;
  $("deer-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => searchDeer($("deer-search").value).catch((e) => showAlert(e.message)), 200);
  });
  $("search-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    clearTimeout(searchTimer);
    try {
      const found = await searchDeer($("deer-search").value);
      if (found.length) detectionActions.reassign(found[0].id, found[0].name);
    } catch (err) { showAlert(err.message); }
  });
  $("note-form").addEventListener("submit", (e) => { e.preventDefault(); detectionActions.note(); });
  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-act]");
    if (!button) return;
    const act = button.dataset.act;
    if (act === "confirm") detectionActions.confirm();
    else if (act === "reassign") {
      const c = state.view.detection.candidates.find((x) => String(x.deer_id) === button.dataset.deer);
      if (c) detectionActions.reassign(c.deer_id, c.deer_name);
    } else if (act === "new") detectionActions.new();
    else if (act === "invalid") detectionActions.invalid();
    else if (act === "class") detectionActions.klass(button.dataset.class);
    else if (act === "undo") undo();
    else if (act === "skip") guarded(() => openItem(state.index + 1));
    else if (act === "back") location.hash = "#/queue";
    else if (act === "merge") mergeActions.merge();
    else if (act === "not-same") mergeActions.notSame();
  });
}

async function start() {
  wire();
  const config = await fetch("/review/config.json").then((r) => r.json()).catch(() => ({ hosted_ui: null }));
  const hosted = config.hosted_ui;
  if (hosted) {
    $("hosted-sign-in-box").hidden = false;
    $("hosted-sign-in").addEventListener("click", () => hostedSignIn(hosted));
  }
  const fromLink = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fromLink) {
    const token = decodeURIComponent(fromLink[1]);
    history.replaceState(null, "", location.pathname + location.search);  // the token leaves the address bar
    signIn(token);
  } else if (!(await finishHostedSignIn(hosted).catch((e) => { showAlert(`Sign-in failed: ${e.message}`); return false; }))
             && sessionStorage.getItem(TOKEN_KEY)) {
    signIn(sessionStorage.getItem(TOKEN_KEY));
  }
  route();
}

start();
