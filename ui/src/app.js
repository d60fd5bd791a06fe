// rdg explorer: search a node, draw its neighbourhood, click to expand.
//
// Talks to the API with Connect JSON (POST /rdg.v1.GraphService/<Method>)
// on the origin that served the page, so it works wherever rdg serves it
// and needs nothing from the network beyond that. All data from the server
// reaches the page through textContent or cytoscape's canvas, never as
// HTML.
//
// For tests and debugging the page keeps its state readable: #graph carries
// data-busy ("1" while a request or layout runs) and data-nodes (the drawn
// nodes as "type:id", space separated, sorted), and window.__rdg has the
// same and a little more (see the end of this file).
import cytoscape from "cytoscape";
import fcose from "cytoscape-fcose";

cytoscape.use(fcose);

// Where the API is: the page is served at <base>ui/.
const apiBase = location.pathname.replace(/ui\/[^/]*$/, "");

// ---- colours ----------------------------------------------------------

const typeColors = {
  account: "#1f77b4",
  profile: "#9467bd",
  device: "#ff7f0e",
  title: "#2ca02c",
  episode: "#17becf",
  game: "#d62728",
};
const palette = ["#d35400", "#2980b9", "#7f8c8d", "#f1c40f", "#e84393", "#00897b", "#6d4c41", "#5e35b1", "#43a047", "#fb8c00"];
const edgePalette = ["#7f8c9d", "#5c7cfa", "#e8590c", "#2b8a3e", "#ae3ec9", "#1098ad", "#f08c00", "#c2255c", "#495057", "#74b816"];

function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}
const colorOf = (type) => typeColors[type] || palette[hash(type) % palette.length];
const edgeColorOf = (type) => edgePalette[hash(type) % edgePalette.length];

// ---- state ------------------------------------------------------------

const keyOf = (ref) => ref.type + ":" + ref.id;
const edgeKeyOf = (e) => e.type + "|" + keyOf(e.from) + "|" + keyOf(e.to);

const state = {
  nodes: new Map(), // key -> {type, id, props, firstSeenMs, lastSeenMs, updatedAtMs, stored}
  edges: new Map(), // key -> edge as the API returns it
  expanded: new Set(), // node keys whose neighbours were fetched
  truncated: new Set(), // node keys whose neighbour listing was cut at the limit
  cursors: new Map(), // node key -> {req, cursor}: where its listing continues
  root: null,
  hiddenEdgeTypes: new Set(),
  sinceMs: 0,
  busy: 0,
  lastError: "",
  selected: null,
};

const $ = (id) => document.getElementById(id);
const graphEl = $("graph");

// ---- API --------------------------------------------------------------

class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function rpc(method, body) {
  const resp = await fetch(apiBase + "rdg.v1.GraphService/" + method, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  const text = await resp.text();
  let msg = null;
  try {
    msg = JSON.parse(text);
  } catch (_) {
    // not JSON: reported below
  }
  if (!resp.ok) {
    const m = (msg && msg.message) || text.trim() || resp.statusText;
    throw new APIError(resp.status, (msg && msg.code) || "", m);
  }
  if (msg === null) throw new APIError(resp.status, "", "the server sent a response that is not JSON");
  return msg;
}

const ms = (v) => (v === undefined || v === null ? 0 : Number(v)); // int64 arrive as strings

function valueOf(v) {
  if (!v) return null;
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return v.intValue; // keep as a string: may exceed 2^53
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  return null;
}

function mergeNode(n) {
  const key = keyOf(n);
  const prev = state.nodes.get(key);
  const stored = ms(n.lastSeenMs) > 0 || ms(n.updatedAtMs) > 0;
  if (prev && prev.stored && !stored) return key; // keep the richer record
  state.nodes.set(key, {
    type: n.type,
    id: n.id,
    props: n.props || {},
    firstSeenMs: ms(n.firstSeenMs),
    lastSeenMs: ms(n.lastSeenMs),
    updatedAtMs: ms(n.updatedAtMs),
    stored,
  });
  return key;
}

function mergeEdge(e) {
  const key = edgeKeyOf(e);
  state.edges.set(key, {
    type: e.type,
    from: e.from,
    to: e.to,
    props: e.props || {},
    firstSeenMs: ms(e.firstSeenMs),
    lastSeenMs: ms(e.lastSeenMs),
    updatedAtMs: ms(e.updatedAtMs),
  });
  return key;
}

// ---- drawing ----------------------------------------------------------

const cy = cytoscape({
  container: graphEl,
  wheelSensitivity: 0.3,
  minZoom: 0.1,
  maxZoom: 4,
  style: [
    {
      selector: "node",
      style: {
        "background-color": "data(color)",
        label: "data(label)",
        "font-size": 11,
        color: "#1d2330",
        "text-valign": "bottom",
        "text-margin-y": 4,
        "text-wrap": "wrap",
        "text-max-width": 140,
        "text-outline-color": "#f4f5f7",
        "text-outline-width": 2,
        width: 26,
        height: 26,
        "border-width": 2,
        "border-color": "#ffffff",
      },
    },
    { selector: "node.expanded", style: { "border-color": "#1d2330" } },
    { selector: "node.root", style: { width: 38, height: 38, "border-width": 4, "font-weight": "bold" } },
    { selector: "node:selected", style: { "overlay-color": "#2f6fde", "overlay-opacity": 0.18, "overlay-padding": 6 } },
    {
      selector: "edge",
      style: {
        width: 1.6,
        "line-color": "data(color)",
        "target-arrow-color": "data(color)",
        "target-arrow-shape": "triangle",
        "arrow-scale": 0.8,
        "curve-style": "bezier",
        label: "data(type)",
        "font-size": 9,
        color: "#556",
        "text-rotation": "autorotate",
        "text-background-color": "#f4f5f7",
        "text-background-opacity": 0.85,
        "text-background-padding": 1,
      },
    },
    { selector: "edge:selected", style: { width: 3 } },
    { selector: ".hidden", style: { display: "none" } },
  ],
});

function nodeLabel(n) {
  const p = n.props;
  for (const k of ["name", "title", "device_type", "kind"]) {
    const v = valueOf(p[k]);
    if (typeof v === "string" && v !== "") return n.id + "\n" + v;
  }
  return n.id;
}

// draw adds what state has and cy lacks, refreshes the rest, and applies
// the filters. It returns the newly added nodes.
function draw() {
  cy.startBatch();
  const added = [];
  for (const [key, n] of state.nodes) {
    let el = cy.getElementById(key);
    const data = { id: key, type: n.type, label: nodeLabel(n), color: colorOf(n.type) };
    if (el.empty()) {
      el = cy.add({ group: "nodes", data });
      added.push(el);
    } else {
      el.data(data);
    }
    el.toggleClass("expanded", state.expanded.has(key));
    el.toggleClass("root", key === state.root);
  }
  for (const [key, e] of state.edges) {
    if (cy.getElementById(key).empty()) {
      cy.add({
        group: "edges",
        data: { id: key, type: e.type, source: keyOf(e.from), target: keyOf(e.to), color: edgeColorOf(e.type) },
      });
    }
  }
  applyFilters();
  cy.endBatch();
  renderEdgeTypes();
  renderLegend();
  publish();
  return added;
}

function edgeVisible(e) {
  return !state.hiddenEdgeTypes.has(e.type) && (state.sinceMs === 0 || e.lastSeenMs >= state.sinceMs);
}

function applyFilters() {
  const linked = new Set();
  for (const [key, e] of state.edges) {
    const vis = edgeVisible(e);
    cy.getElementById(key).toggleClass("hidden", !vis);
    if (vis) {
      linked.add(keyOf(e.from));
      linked.add(keyOf(e.to));
    }
  }
  for (const key of state.nodes.keys()) {
    const vis = key === state.root || state.expanded.has(key) || linked.has(key);
    cy.getElementById(key).toggleClass("hidden", !vis);
  }
}

function visibleNodeKeys() {
  return cy
    .nodes()
    .not(".hidden")
    .map((n) => n.id())
    .sort();
}

function visibleEdgeKeys() {
  return cy
    .edges()
    .not(".hidden")
    .map((e) => e.id())
    .sort();
}

function layout(randomize) {
  const eles = cy.elements().not(".hidden");
  if (eles.empty()) return Promise.resolve();
  busy(+1);
  return new Promise((resolve) => {
    const l = eles.layout({
      name: "fcose",
      quality: "default",
      randomize,
      animate: !randomize,
      animationDuration: 350,
      fit: true,
      padding: 40,
      nodeRepulsion: 9000,
      idealEdgeLength: 110,
      nodeSeparation: 90,
    });
    l.one("layoutstop", () => {
      busy(-1);
      resolve();
    });
    l.run();
  });
}

// ---- side panel -------------------------------------------------------

function renderEdgeTypes() {
  const box = $("edge-types");
  const types = [...new Set([...state.edges.values()].map((e) => e.type))].sort();
  const have = [...box.querySelectorAll("input")].map((i) => i.value);
  if (have.join() === types.join()) return;
  box.replaceChildren();
  if (types.length === 0) return;
  const h = document.createElement("label");
  h.textContent = "Edge types";
  box.appendChild(h);
  for (const t of types) {
    const lab = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.value = t;
    cb.checked = !state.hiddenEdgeTypes.has(t);
    cb.dataset.edgeType = t;
    cb.addEventListener("change", () => {
      if (cb.checked) state.hiddenEdgeTypes.delete(t);
      else state.hiddenEdgeTypes.add(t);
      refilter();
    });
    const sw = document.createElement("span");
    sw.className = "edge-swatch";
    sw.style.background = edgeColorOf(t);
    lab.append(cb, sw, document.createTextNode(t));
    box.appendChild(lab);
  }
}

function renderLegend() {
  const counts = new Map();
  for (const key of visibleNodeKeys()) {
    const t = state.nodes.get(key).type;
    counts.set(t, (counts.get(t) || 0) + 1);
  }
  const ul = $("legend");
  ul.replaceChildren();
  for (const t of [...counts.keys()].sort()) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = colorOf(t);
    const name = document.createElement("span");
    name.textContent = t;
    const c = document.createElement("span");
    c.className = "count";
    c.textContent = counts.get(t);
    li.append(sw, name, c);
    ul.appendChild(li);
  }
  const dl = $("known-types");
  const known = new Set([...Object.keys(typeColors), ...[...state.nodes.values()].map((n) => n.type)]);
  dl.replaceChildren(
    ...[...known].sort().map((t) => {
      const o = document.createElement("option");
      o.value = t;
      return o;
    }),
  );
}

const fmtTime = (v) => (v ? new Date(v).toLocaleString() : "—");

function showDetails(kind, key) {
  state.selected = key;
  const box = $("details");
  box.replaceChildren();
  const item = kind === "node" ? state.nodes.get(key) : state.edges.get(key);
  if (!item) {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = "Nothing selected.";
    box.appendChild(p);
    return;
  }
  const title = document.createElement("p");
  title.className = "title";
  title.textContent = kind === "node" ? key : `${item.type}: ${keyOf(item.from)} → ${keyOf(item.to)}`;
  box.appendChild(title);
  const rows = [];
  if (kind === "node" && !item.stored) rows.push(["stored", "no record of its own (known from an edge)"]);
  for (const k of Object.keys(item.props).sort()) {
    const v = valueOf(item.props[k]);
    rows.push([k, v === null ? "null" : String(v)]);
  }
  rows.push(["first seen", fmtTime(item.firstSeenMs)]);
  rows.push(["last seen", fmtTime(item.lastSeenMs)]);
  rows.push(["updated", fmtTime(item.updatedAtMs)]);
  if (kind === "node" && state.truncated.has(key)) rows.push(["neighbours", "more than shown (limit)"]);
  const table = document.createElement("table");
  for (const [k, v] of rows) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = k;
    const td = document.createElement("td");
    td.textContent = v;
    tr.append(th, td);
    table.appendChild(tr);
  }
  box.appendChild(table);
  if (kind === "node" && state.cursors.has(key)) {
    const b = document.createElement("button");
    b.type = "button";
    b.id = "more";
    b.textContent = "More neighbours";
    b.addEventListener("click", () => expand(key, true));
    box.appendChild(b);
  }
}

// ---- status -----------------------------------------------------------

function status(text, isError) {
  const el = $("status");
  el.replaceChildren();
  el.classList.toggle("error", !!isError);
  el.textContent = text;
  if (isError) state.lastError = text;
}

function showError(err) {
  if (err instanceof APIError && err.status === 401) {
    status("Not logged in: " + err.message + " ", true);
    const a = document.createElement("a");
    a.href = apiBase + "ui/login?next=" + encodeURIComponent(location.pathname + location.hash);
    a.textContent = "Log in";
    $("status").appendChild(a);
    return;
  }
  status(err instanceof Error ? err.message : String(err), true);
}

function busy(delta) {
  state.busy += delta;
  graphEl.dataset.busy = state.busy > 0 ? "1" : "0";
  $("search-btn").disabled = state.busy > 0;
}

function publish() {
  graphEl.dataset.nodes = visibleNodeKeys().join(" ");
  graphEl.dataset.edges = visibleEdgeKeys().join(" ");
}

function summary() {
  const n = visibleNodeKeys().length;
  const e = visibleEdgeKeys().length;
  const hidden = state.nodes.size - n;
  let s = `${n} node${n === 1 ? "" : "s"}, ${e} edge${e === 1 ? "" : "s"}`;
  if (hidden > 0) s += ` (${hidden} hidden by filters)`;
  if (state.truncated.size > 0) s += ` · some nodes have more neighbours than the limit`;
  return s;
}

// ---- actions ----------------------------------------------------------

function requestEdgeTypes() {
  if (state.hiddenEdgeTypes.size === 0) return undefined;
  const types = [...new Set([...state.edges.values()].map((e) => e.type))].filter((t) => !state.hiddenEdgeTypes.has(t));
  return types.length > 0 ? types : undefined;
}

// fetchNeighbors lists key's neighbours (the next page, if more is true and
// the previous listing left a cursor) and merges them into the state.
async function fetchNeighbors(key, more) {
  const n = state.nodes.get(key);
  let req;
  const prev = state.cursors.get(key);
  if (more && prev) {
    req = { ...prev.req, cursor: prev.cursor };
  } else {
    const limit = Math.max(1, Math.min(10000, parseInt($("limit").value, 10) || 50));
    req = { node: { type: n.type, id: n.id }, direction: $("direction").value, limit };
    const types = requestEdgeTypes();
    if (types) req.edgeTypes = types;
    // The server filters on last_seen too where it can (a server without
    // the field ignores it); the page filters again either way.
    if (state.sinceMs > 0) req.sinceMs = String(state.sinceMs);
  }
  const resp = await rpc("Neighbors", req);
  for (const nb of resp.neighbors || []) {
    mergeNode(nb.node);
    mergeEdge(nb.edge);
  }
  state.expanded.add(key);
  if (resp.truncated || resp.partial) state.truncated.add(key);
  else state.truncated.delete(key);
  if (resp.nextCursor) state.cursors.set(key, { req: { ...req, cursor: undefined }, cursor: resp.nextCursor });
  else state.cursors.delete(key);
  return (resp.neighbors || []).length;
}

async function search(type, id) {
  type = type.trim();
  id = id.trim();
  if (!type || !id) return;
  busy(+1);
  status(`Looking up ${type}:${id}…`);
  try {
    const got = await rpc("GetNodes", { refs: [{ type, id }] });
    clearGraph();
    const key = keyOf({ type, id });
    if (got.nodes && got.nodes.length > 0) mergeNode(got.nodes[0]);
    else mergeNode({ type, id });
    state.root = key;
    const count = await fetchNeighbors(key);
    if (count === 0 && !(got.nodes && got.nodes.length > 0)) {
      draw();
      status(`No node ${key}, and nothing points to it.`, true);
      return;
    }
    history.replaceState(null, "", "#" + encodeURIComponent(type) + "/" + encodeURIComponent(id));
    draw();
    await layout(true);
    showDetails("node", key);
    cy.getElementById(key).select();
    status(summary());
  } catch (err) {
    showError(err);
  } finally {
    busy(-1);
  }
}

async function expand(key, more) {
  if (!state.nodes.has(key)) return;
  busy(+1);
  status(`Expanding ${key}…`);
  try {
    const before = state.nodes.size;
    await fetchNeighbors(key, more);
    // New nodes start just beyond the expanded node, on the side away from
    // the rest of the graph, so that the layout grows them outwards
    // instead of through what is already drawn.
    const at = cy.getElementById(key).position();
    const others = cy.nodes().not(".hidden").not(cy.getElementById(key));
    let dx = 1;
    let dy = 0;
    if (others.nonempty()) {
      let cx = 0;
      let cy0 = 0;
      others.forEach((n) => {
        cx += n.position("x");
        cy0 += n.position("y");
      });
      dx = at.x - cx / others.length;
      dy = at.y - cy0 / others.length;
      const len = Math.hypot(dx, dy) || 1;
      dx /= len;
      dy /= len;
    }
    const added = draw();
    added.forEach((el, i) => {
      const spread = (i - (added.length - 1) / 2) * 30;
      el.position({ x: at.x + dx * 110 - dy * spread, y: at.y + dy * 110 + dx * spread });
    });
    if (state.nodes.size > before || added.length > 0) await layout(false);
    showDetails("node", key);
    status(summary());
  } catch (err) {
    showError(err);
  } finally {
    busy(-1);
  }
}

function clearGraph() {
  cy.elements().remove();
  state.nodes.clear();
  state.edges.clear();
  state.expanded.clear();
  state.truncated.clear();
  state.cursors.clear();
  state.root = null;
  state.selected = null;
  state.lastError = "";
  showDetails("node", null);
}

function refilter() {
  cy.startBatch();
  applyFilters();
  cy.endBatch();
  renderLegend();
  publish();
  status(summary());
}

function readSince() {
  const v = $("since").value;
  const custom = $("since-custom");
  custom.hidden = v !== "custom";
  if (v === "custom") {
    const t = custom.value ? new Date(custom.value).getTime() : 0;
    return Number.isFinite(t) ? t : 0;
  }
  const d = Number(v);
  return d > 0 ? Date.now() - d : 0;
}

// ---- wiring -----------------------------------------------------------

$("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  search($("node-type").value, $("node-id").value);
});
$("since").addEventListener("change", () => {
  state.sinceMs = readSince();
  refilter();
});
$("since-custom").addEventListener("change", () => {
  state.sinceMs = readSince();
  refilter();
});
$("fit").addEventListener("click", () => cy.fit(cy.elements().not(".hidden"), 40));
$("relayout").addEventListener("click", () => layout(true));
$("clear").addEventListener("click", () => {
  clearGraph();
  draw();
  status("");
});

cy.on("tap", "node", (ev) => {
  const key = ev.target.id();
  showDetails("node", key);
  expand(key);
});
cy.on("tap", "edge", (ev) => showDetails("edge", ev.target.id()));

// #type/id opens that node, e.g. /ui/#account/m-000001.
function fromHash() {
  const m = /^#([^/]+)\/(.+)$/.exec(location.hash);
  if (!m) return false;
  const type = decodeURIComponent(m[1]);
  const id = decodeURIComponent(m[2]);
  $("node-type").value = type;
  $("node-id").value = id;
  search(type, id);
  return true;
}
window.addEventListener("hashchange", () => {
  const key = (() => {
    const m = /^#([^/]+)\/(.+)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) + ":" + decodeURIComponent(m[2]) : null;
  })();
  if (key && key !== state.root) fromHash();
});

draw();
if (!fromHash()) status("Enter a node type and id, e.g. account m-000001.");

// Test and debugging hooks: read-only views of what is drawn, plus the
// page's own actions.
window.__rdg = {
  get busy() {
    return state.busy > 0;
  },
  get lastError() {
    return state.lastError;
  },
  get root() {
    return state.root;
  },
  nodes: visibleNodeKeys,
  edges: visibleEdgeKeys,
  expanded: () => [...state.expanded].sort(),
  node: (key) => state.nodes.get(key) || null,
  // Where a node is drawn, in CSS pixels relative to the #graph element.
  renderedPosition: (key) => {
    const el = cy.getElementById(key);
    return el.empty() ? null : el.renderedPosition();
  },
  search,
  expand,
};
