// rdg explorer: search a node, draw its neighbourhood grouped by edge type,
// click to expand; or draw the result of a traversal typed in the query box.
//
// Talks to the API with Connect JSON (POST /rdg.v1.GraphService/<Method>)
// on the origin that served the page, so it works wherever rdg serves it
// and needs nothing from the network beyond that. All data from the server
// reaches the page through textContent or cytoscape's canvas, never as
// HTML.
//
// A node's neighbours are kept in groups, one per edge type, direction and
// type of the node at the other end ("watched → title"). A group larger
// than the threshold is drawn as one group node labelled with its size; a
// click on it reveals its members a page at a time. The size comes from the
// listing itself: the API has no count, so a group whose listing stopped at
// the probe size says "200+" until it has been paged to its end.
//
// For tests and debugging the page keeps its state readable: #graph carries
// data-busy ("1" while a request or layout runs), data-nodes (the drawn
// nodes as "type:id", space separated, sorted) and data-groups (the drawn
// group nodes' ids), and window.__rdg has the same and a little more (see
// the end of this file).
import cytoscape from "cytoscape";
import fcose from "cytoscape-fcose";
import { parseQuery } from "./query.js";
import { nodeColour, edgeColour, colours } from "./colors.js";

cytoscape.use(fcose);

// Where the API is: the page is served at <base>ui/.
const apiBase = location.pathname.replace(/ui\/[^/]*$/, "");

// The first listing of a node's neighbours: a node with no more than this
// many is listed in one request.
const FIRST = 200;
// A listing per group: its size is exact up to this many, "PROBE+" beyond.
const PROBE = 200;
// Parallel requests while counting a large node's groups.
const PARALLEL = 4;
// Up to this many drawn edges every edge shows its type; beyond, only the
// edges under the pointer (and those of the node under it) do.
const SMALL_GRAPH = 16;

// ---- state ------------------------------------------------------------

const keyOf = (ref) => ref.type + ":" + ref.id;
const edgeKeyOf = (e) => e.type + "|" + keyOf(e.from) + "|" + keyOf(e.to);

const state = {
  nodes: new Map(), // key -> {type, id, props, firstSeenMs, lastSeenMs, updatedAtMs, stored}
  edges: new Map(), // key -> {type, from, to, props, firstSeenMs, lastSeenMs, updatedAtMs}
  groups: new Map(), // owner key -> Map(group id -> group), see newGroup
  expanded: new Set(), // owner keys whose groups are drawn
  roots: [], // where drawing starts: the searched node, or a query's start nodes
  hiddenEdgeTypes: new Set(),
  sinceMs: 0,
  busy: 0,
  lastError: "",
  selected: null, // {kind: "node"|"edge"|"group", key}
  query: "", // the query drawn, "" for a search
};

const $ = (id) => document.getElementById(id);
const graphEl = $("graph");

const threshold = () => Math.max(1, parseInt($("threshold").value, 10) || 8);
const pageSize = () => Math.max(1, Math.min(500, parseInt($("page").value, 10) || 20));

// newGroup is the neighbours of owner over one edge type in one direction
// that are of one node type. items are in the API's order; shown of them
// are drawn when the group is large. complete says items is all of them;
// cursor and req continue the listing where it is not.
function newGroup(owner, dir, etype, ntype) {
  return {
    id: `group:${owner}|${dir}|${etype}|${ntype}`,
    owner,
    dir,
    etype,
    ntype,
    items: [],
    seen: new Set(),
    shown: 0,
    complete: false,
    cursor: "",
    req: null,
  };
}

function groupAdd(g, nodeKey, edgeKey) {
  if (g.seen.has(edgeKey)) return;
  g.seen.add(edgeKey);
  g.items.push({ node: nodeKey, edge: edgeKey });
}

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

// pool runs fns with at most PARALLEL at a time.
async function pool(fns) {
  let next = 0;
  const worker = async () => {
    while (next < fns.length) await fns[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, fns.length) }, worker));
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

// Types the graph knows, from Stats (a scan the server caches), asked for
// once and only when a node has more neighbours than one listing holds.
let knownTypes = null;
async function graphTypes() {
  if (knownTypes) return knownTypes;
  const t = { nodes: new Set(), edges: new Set() };
  try {
    const st = await rpc("Stats", { topK: 1 });
    for (const c of st.nodeTypes || []) t.nodes.add(c.type);
    for (const c of st.edgeTypes || []) t.edges.add(c.type);
    knownTypes = t;
  } catch (_) {
    // Without statistics, the types seen so far stand in (below).
  }
  for (const n of state.nodes.values()) t.nodes.add(n.type);
  for (const e of state.edges.values()) t.edges.add(e.type);
  return t;
}

// ---- fetching a node's groups -----------------------------------------

const dirName = { DIRECTION_OUT: "out", DIRECTION_IN: "in" };
const dirEnum = { out: "DIRECTION_OUT", in: "DIRECTION_IN" };

// bucket files a listing's neighbours of owner into groups.
function bucket(groups, owner, neighbors) {
  const touched = new Set();
  for (const nb of neighbors || []) {
    const nk = mergeNode(nb.node);
    const ek = mergeEdge(nb.edge);
    const dir = keyOf(nb.edge.from) === owner ? "out" : "in";
    const id = `group:${owner}|${dir}|${nb.edge.type}|${nb.node.type}`;
    let g = groups.get(id);
    if (!g) {
      g = newGroup(owner, dir, nb.edge.type, nb.node.type);
      groups.set(id, g);
    }
    groupAdd(g, nk, ek);
    touched.add(g);
  }
  return touched;
}

function baseRequest(n) {
  const req = { node: { type: n.type, id: n.id } };
  // The server filters on last_seen too; the page filters again either way.
  if (state.sinceMs > 0) req.sinceMs = String(state.sinceMs);
  return req;
}

// fetchGroups lists key's neighbours into groups. One listing does for a
// node with at most FIRST of them. A larger node is listed again edge type
// by edge type (and direction), and an edge type with more than PROBE
// neighbours node type by node type, so that every group has a listing of
// its own to count it and to page through.
async function fetchGroups(key) {
  const n = state.nodes.get(key);
  const direction = $("direction").value;
  const groups = new Map();
  const first = await rpc("Neighbors", { ...baseRequest(n), direction, limit: FIRST });
  bucket(groups, key, first.neighbors);
  if (!first.nextCursor) {
    for (const g of groups.values()) g.complete = true;
    return groups;
  }
  groups.clear();
  const types = await graphTypes();
  const dirs = direction === "DIRECTION_BOTH" ? ["out", "in"] : [dirName[direction]];
  const byType = [];
  for (const d of dirs) for (const t of [...types.edges].sort()) byType.push([d, t]);
  const split = [];
  await pool(
    byType.map(([d, t]) => async () => {
      const req = { ...baseRequest(n), direction: dirEnum[d], edgeTypes: [t], limit: PROBE };
      const r = await rpc("Neighbors", req);
      const got = bucket(groups, key, r.neighbors);
      if (!r.nextCursor) {
        for (const g of got) g.complete = true;
        return;
      }
      for (const g of got) groups.delete(g.id);
      for (const nt of [...types.nodes].sort()) split.push({ ...req, nodeTypes: [nt] });
    }),
  );
  await pool(
    split.map((req) => async () => {
      const r = await rpc("Neighbors", req);
      for (const g of bucket(groups, key, r.neighbors)) {
        g.complete = !r.nextCursor;
        g.cursor = r.nextCursor || "";
        g.req = req;
      }
    }),
  );
  return groups;
}

// more reveals the next page of a large group, fetching it if the group's
// listing has not got that far.
async function more(g) {
  const want = g.shown + pageSize();
  while (g.items.length < want && !g.complete && g.cursor && g.req) {
    const r = await rpc("Neighbors", { ...g.req, cursor: g.cursor });
    const m = new Map([[g.id, g]]);
    bucket(m, g.owner, r.neighbors);
    g.cursor = r.nextCursor || "";
    g.complete = !g.cursor;
  }
  g.shown = Math.min(want, g.items.length);
}

// ---- what is drawn ----------------------------------------------------

function edgeVisible(e) {
  return !state.hiddenEdgeTypes.has(e.type) && (state.sinceMs === 0 || e.lastSeenMs >= state.sinceMs);
}

const isLarge = (g, items) => !(g.complete && items.length <= threshold());

function groupLabel(g, total, shown) {
  const arrow = g.dir === "out" ? "→" : "←";
  const count = g.complete ? String(total) : total + "+";
  if (shown === 0) return `${count} ${g.etype} ${arrow} ${g.ntype}`;
  const left = g.complete ? String(total - shown) : `${total - shown}+`;
  return `${left} more ${g.etype} ${arrow} ${g.ntype}`;
}

// view works out what to draw: from the roots, through the groups of
// expanded nodes, the members each group shows (all of a small group, the
// revealed pages of a large one) and a group node for each large group
// with members not shown; then every known edge between drawn nodes.
function view() {
  const nodes = new Set();
  const edges = new Set();
  const groupNodes = new Map(); // id -> {g, label, count}
  const queue = [];
  for (const r of state.roots) {
    if (state.nodes.has(r) && !nodes.has(r)) {
      nodes.add(r);
      queue.push(r);
    }
  }
  while (queue.length > 0) {
    const k = queue.shift();
    if (!state.expanded.has(k)) continue;
    for (const g of (state.groups.get(k) || new Map()).values()) {
      if (state.hiddenEdgeTypes.has(g.etype)) continue;
      const items = g.items.filter((it) => edgeVisible(state.edges.get(it.edge)));
      if (items.length === 0 && g.complete) continue;
      const large = isLarge(g, items);
      const show = large ? items.slice(0, g.shown) : items;
      for (const it of show) {
        edges.add(it.edge);
        if (!nodes.has(it.node)) {
          nodes.add(it.node);
          queue.push(it.node);
        }
      }
      if (large && (show.length < items.length || !g.complete)) {
        groupNodes.set(g.id, { g, label: groupLabel(g, items.length, show.length), count: items.length - show.length });
      }
    }
  }
  for (const [ek, e] of state.edges) {
    if (!edges.has(ek) && nodes.has(keyOf(e.from)) && nodes.has(keyOf(e.to)) && edgeVisible(e)) edges.add(ek);
  }
  return { nodes, edges, groupNodes };
}

// ---- drawing ----------------------------------------------------------

const cy = cytoscape({
  container: graphEl,
  minZoom: 0.1,
  maxZoom: 4,
  style: [
    {
      selector: "node",
      style: {
        "background-color": "data(color)",
        label: "data(label)",
        "font-size": 12,
        color: "#1d2330",
        "text-valign": "bottom",
        "text-margin-y": 4,
        "text-wrap": "wrap",
        "text-max-width": 130,
        "text-outline-color": "#f4f5f7",
        "text-outline-width": 3,
        width: 24,
        height: 24,
        "border-width": 2,
        "border-color": "#ffffff",
      },
    },
    { selector: "node.expanded", style: { "border-color": "#1d2330" } },
    { selector: "node.root", style: { width: 38, height: 38, "border-width": 4, "font-weight": "bold", "font-size": 13 } },
    {
      selector: "node.group",
      style: {
        shape: "round-rectangle",
        width: "data(size)",
        height: "data(size)",
        "background-opacity": 0.25,
        "border-width": 3,
        "border-color": "data(color)",
        "border-style": "dashed",
        "font-weight": "bold",
        "text-max-width": 170,
      },
    },
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
        label: "",
        "font-size": 10,
        color: "#334",
        "text-rotation": "autorotate",
        "text-background-color": "#f4f5f7",
        "text-background-opacity": 0.9,
        "text-background-padding": 2,
      },
    },
    { selector: "edge.group-edge", style: { width: "data(width)", "line-style": "dashed", "arrow-scale": 0.6 } },
    { selector: "edge.labelled, edge.hover", style: { label: "data(type)", "z-index": 10 } },
    { selector: "edge:selected", style: { width: 3 } },
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

// draw makes cytoscape show view(): it removes what went, adds what came
// and refreshes the rest. It returns the elements added.
function draw() {
  const v = view();
  const want = new Set([...v.nodes, ...v.edges, ...v.groupNodes.keys()]);
  for (const g of v.groupNodes.values()) want.add(g.g.id + "|edge");
  const added = [];
  cy.startBatch();
  cy.elements().forEach((el) => {
    if (!want.has(el.id())) el.remove();
  });
  for (const key of v.nodes) {
    const n = state.nodes.get(key);
    const data = { id: key, type: n.type, label: nodeLabel(n), color: nodeColour(n.type) };
    let el = cy.getElementById(key);
    if (el.empty()) added.push((el = cy.add({ group: "nodes", data })));
    else el.data(data);
    el.toggleClass("expanded", state.expanded.has(key));
    el.toggleClass("root", state.roots.includes(key));
  }
  for (const [id, { g, label, count }] of v.groupNodes) {
    const data = { id, type: g.ntype, label, color: nodeColour(g.ntype), size: Math.round(26 + 6 * Math.log2(1 + count)) };
    let el = cy.getElementById(id);
    if (el.empty()) added.push((el = cy.add({ group: "nodes", data, classes: "group" })));
    else el.data(data);
    const edata = {
      id: id + "|edge",
      type: g.etype,
      source: g.dir === "out" ? g.owner : id,
      target: g.dir === "out" ? id : g.owner,
      color: edgeColour(g.etype),
      width: Math.min(6, 1.5 + Math.log2(1 + count) / 2),
    };
    if (cy.getElementById(edata.id).empty()) added.push(cy.add({ group: "edges", data: edata, classes: "group-edge" }));
  }
  for (const key of v.edges) {
    if (cy.getElementById(key).nonempty()) continue;
    const e = state.edges.get(key);
    added.push(cy.add({ group: "edges", data: { id: key, type: e.type, source: keyOf(e.from), target: keyOf(e.to), color: edgeColour(e.type) } }));
  }
  cy.edges().toggleClass("labelled", cy.edges().length <= SMALL_GRAPH);
  cy.endBatch();
  renderEdgeTypes();
  renderLegend();
  publish();
  return added;
}

function drawnNodeKeys() {
  return cy
    .nodes()
    .not(".group")
    .map((n) => n.id())
    .sort();
}

function drawnEdgeKeys() {
  return cy
    .edges()
    .not(".group-edge")
    .map((e) => e.id())
    .sort();
}

const drawnGroupIds = () =>
  cy
    .nodes(".group")
    .map((n) => n.id())
    .sort();

function layout(randomize) {
  if (cy.elements().empty()) return Promise.resolve();
  busy(+1);
  return new Promise((resolve) => {
    const l = cy.layout({
      name: "fcose",
      quality: "proof",
      randomize,
      animate: false,
      fit: true,
      padding: 30,
      // Labels are part of a node's size, so that separation keeps them
      // apart, not just the dots.
      nodeDimensionsIncludeLabels: true,
      nodeRepulsion: () => 12000,
      idealEdgeLength: (e) => (e.hasClass("group-edge") ? 120 : 90),
      edgeElasticity: () => 0.3,
      nodeSeparation: 80,
      numIter: 4000,
      packComponents: true,
    });
    l.one("layoutstop", () => {
      busy(-1);
      resolve();
    });
    l.run();
  });
}

// labelOverlaps counts pairs of drawn nodes whose boxes, labels included,
// intersect: what the layout must keep at 0 for labels to be readable.
function labelOverlaps() {
  const boxes = cy.nodes().map((n) => n.boundingBox({ includeLabels: true, includeOverlays: false }));
  let count = 0;
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) count++;
    }
  }
  return count;
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
      redraw();
    });
    const sw = document.createElement("span");
    sw.className = "edge-swatch";
    sw.style.background = edgeColour(t);
    lab.append(cb, sw, document.createTextNode(t));
    box.appendChild(lab);
  }
}

function renderLegend() {
  const counts = new Map();
  for (const key of drawnNodeKeys()) {
    const t = state.nodes.get(key).type;
    counts.set(t, (counts.get(t) || 0) + 1);
  }
  cy.nodes(".group").forEach((n) => {
    const t = n.data("type");
    if (!counts.has(t)) counts.set(t, 0);
  });
  const ul = $("legend");
  ul.replaceChildren();
  for (const t of [...counts.keys()].sort()) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = nodeColour(t);
    const name = document.createElement("span");
    name.textContent = t;
    const c = document.createElement("span");
    c.className = "count";
    c.textContent = counts.get(t);
    li.append(sw, name, c);
    ul.appendChild(li);
  }
  const dl = $("known-types");
  const known = new Set([...(knownTypes ? knownTypes.nodes : []), ...[...state.nodes.values()].map((n) => n.type)]);
  dl.replaceChildren(
    ...[...known].sort().map((t) => {
      const o = document.createElement("option");
      o.value = t;
      return o;
    }),
  );
}

const fmtTime = (v) => (v ? new Date(v).toLocaleString() : "—");

function findGroup(id) {
  for (const gs of state.groups.values()) if (gs.has(id)) return gs.get(id);
  return null;
}

function button(id, text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.id = id;
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function table(rows) {
  const t = document.createElement("table");
  for (const [k, v] of rows) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = k;
    const td = document.createElement("td");
    td.textContent = v;
    tr.append(th, td);
    t.appendChild(tr);
  }
  return t;
}

function showDetails(kind, key) {
  state.selected = key ? { kind, key } : null;
  const box = $("details");
  box.replaceChildren();
  const title = document.createElement("p");
  title.className = "title";
  if (kind === "group") {
    const g = findGroup(key);
    const el = cy.getElementById(key);
    if (g && el.nonempty()) {
      title.textContent = el.data("label");
      box.appendChild(title);
      const total = g.items.length + (g.complete ? "" : "+");
      box.appendChild(
        table([
          ["of", g.owner],
          ["edges", `${g.etype} (${g.dir === "out" ? "outgoing" : "incoming"})`],
          ["nodes", g.ntype],
          ["shown", `${g.shown} of ${total}`],
        ]),
      );
      const bar = document.createElement("div");
      bar.className = "buttons";
      bar.appendChild(button("group-more", `Show ${pageSize()} more`, () => openGroup(g.id)));
      if (g.shown > 0) bar.appendChild(button("group-hide", "Hide members", () => hideGroup(g.id)));
      box.appendChild(bar);
      return;
    }
  }
  const item = kind === "node" ? state.nodes.get(key) : kind === "edge" ? state.edges.get(key) : null;
  if (!item) {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = "Nothing selected.";
    box.appendChild(p);
    return;
  }
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
  box.appendChild(table(rows));
  if (kind === "node" && state.expanded.has(key) && !state.roots.includes(key)) {
    const bar = document.createElement("div");
    bar.className = "buttons";
    bar.appendChild(button("collapse", "Collapse", () => collapse(key)));
    box.appendChild(bar);
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
  $("query-btn").disabled = state.busy > 0;
}

function publish() {
  graphEl.dataset.nodes = drawnNodeKeys().join(" ");
  graphEl.dataset.edges = drawnEdgeKeys().join(" ");
  graphEl.dataset.groups = drawnGroupIds().join(" ");
}

function summary() {
  const n = drawnNodeKeys().length;
  const e = drawnEdgeKeys().length;
  const g = drawnGroupIds().length;
  let s = `${n} node${n === 1 ? "" : "s"}, ${e} edge${e === 1 ? "" : "s"}`;
  if (g > 0) s += `, ${g} group${g === 1 ? "" : "s"} (click one to open it)`;
  return s;
}

// ---- actions ----------------------------------------------------------

// place puts new nodes just beyond the node they hang off, on the side
// away from the rest of the graph, so that the layout grows them outwards
// instead of through what is already drawn.
function place(added, key) {
  const at = cy.getElementById(key);
  if (at.empty()) return;
  const p = at.position();
  const others = cy.nodes().not(at);
  let dx = 1;
  let dy = 0;
  if (others.nonempty()) {
    let cx = 0;
    let cy0 = 0;
    others.forEach((n) => {
      cx += n.position("x");
      cy0 += n.position("y");
    });
    dx = p.x - cx / others.length;
    dy = p.y - cy0 / others.length;
    const len = Math.hypot(dx, dy) || 1;
    dx /= len;
    dy /= len;
  }
  const nodes = added.filter((el) => el.isNode());
  nodes.forEach((el, i) => {
    const spread = (i - (nodes.length - 1) / 2) * 40;
    el.position({ x: p.x + dx * 140 - dy * spread, y: p.y + dy * 140 + dx * spread });
  });
}

async function run(what, fn) {
  busy(+1);
  status(what + "…");
  try {
    await fn();
  } catch (err) {
    showError(err);
  } finally {
    busy(-1);
  }
}

async function search(type, id) {
  type = type.trim();
  id = id.trim();
  if (!type || !id) return;
  await run(`Looking up ${type}:${id}`, async () => {
    const got = await rpc("GetNodes", { refs: [{ type, id }] });
    clearGraph();
    const key = keyOf({ type, id });
    const found = got.nodes && got.nodes.length > 0;
    mergeNode(found ? got.nodes[0] : { type, id });
    state.roots = [key];
    const groups = await fetchGroups(key);
    state.groups.set(key, groups);
    state.expanded.add(key);
    if (groups.size === 0 && !found) {
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
  });
}

async function expand(key) {
  if (!state.nodes.has(key)) return;
  await run(`Expanding ${key}`, async () => {
    state.groups.set(key, await fetchGroups(key));
    state.expanded.add(key);
    const added = draw();
    place(added, key);
    if (added.length > 0) await layout(false);
    showDetails("node", key);
    status(summary());
  });
}

function collapse(key) {
  state.expanded.delete(key);
  draw();
  showDetails("node", key);
  status(summary());
}

async function openGroup(id) {
  const g = findGroup(id);
  if (!g) return;
  await run(`Opening ${g.etype} of ${g.owner}`, async () => {
    await more(g);
    const added = draw();
    place(added, cy.getElementById(id).nonempty() ? id : g.owner);
    if (added.length > 0) await layout(false);
    if (cy.getElementById(id).nonempty()) showDetails("group", id);
    else showDetails("node", g.owner);
    status(summary());
  });
}

function hideGroup(id) {
  const g = findGroup(id);
  if (!g) return;
  g.shown = 0;
  draw();
  showDetails("group", id);
  status(summary());
}

// traverse draws a Traverse answer: each edge becomes a member of a group
// of the node nearer the start, so that a traversal fanning out to
// thousands of nodes is drawn as the groups it passes through.
async function traverse(line) {
  let req;
  try {
    req = parseQuery(line);
  } catch (err) {
    status("Query: " + err.message, true);
    return;
  }
  await run("Traversing", async () => {
    const resp = await rpc("Traverse", req);
    clearGraph();
    state.query = line;
    const depth = new Map();
    (resp.nodes || []).forEach((n, i) => {
      const k = mergeNode(n);
      if (!depth.has(k)) depth.set(k, (resp.depths || [])[i] || 0);
    });
    state.roots = req.start.map(keyOf);
    for (const r of req.start) if (!state.nodes.has(keyOf(r))) mergeNode(r);
    for (const e of resp.edges || []) {
      const ek = mergeEdge(e);
      const from = keyOf(e.from);
      const to = keyOf(e.to);
      const df = depth.has(from) ? depth.get(from) : Infinity;
      const dt = depth.has(to) ? depth.get(to) : Infinity;
      const [owner, far, dir] = df <= dt ? [from, to, "out"] : [to, from, "in"];
      if (!state.nodes.has(far)) mergeNode(df <= dt ? e.to : e.from);
      let gs = state.groups.get(owner);
      if (!gs) state.groups.set(owner, (gs = new Map()));
      const ntype = state.nodes.get(far).type;
      const id = `group:${owner}|${dir}|${e.type}|${ntype}`;
      let g = gs.get(id);
      if (!g) {
        g = newGroup(owner, dir, e.type, ntype);
        g.complete = !resp.partial;
        gs.set(id, g);
      }
      groupAdd(g, far, ek);
      state.expanded.add(owner);
    }
    history.replaceState(null, "", "#q=" + encodeURIComponent(line));
    draw();
    await layout(true);
    const reached = depth.size;
    let s = `${summary()} · the traversal reached ${reached} node${reached === 1 ? "" : "s"}`;
    if (resp.partial) s += ` (cut short at a limit: ${resp.limitHit || "partial"})`;
    status(s);
  });
}

function clearGraph() {
  cy.elements().remove();
  state.nodes.clear();
  state.edges.clear();
  state.groups.clear();
  state.expanded.clear();
  state.roots = [];
  state.selected = null;
  state.lastError = "";
  state.query = "";
  showDetails("node", null);
}

function redraw() {
  draw();
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
$("query-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  traverse($("query").value.trim());
});
$("since").addEventListener("change", () => {
  state.sinceMs = readSince();
  redraw();
});
$("since-custom").addEventListener("change", () => {
  state.sinceMs = readSince();
  redraw();
});
$("threshold").addEventListener("change", async () => {
  const added = draw();
  if (added.length > 0) await layout(true);
  status(summary());
});
$("fit").addEventListener("click", () => cy.fit(cy.elements(), 30));
$("relayout").addEventListener("click", () => layout(true));
$("clear").addEventListener("click", () => {
  clearGraph();
  draw();
  status("");
});

cy.on("tap", "node", (ev) => {
  const el = ev.target;
  const key = el.id();
  if (el.hasClass("group")) {
    showDetails("group", key);
    openGroup(key);
    return;
  }
  showDetails("node", key);
  if (!state.expanded.has(key)) expand(key);
});
cy.on("tap", "edge", (ev) => {
  if (!ev.target.hasClass("group-edge")) showDetails("edge", ev.target.id());
});
cy.on("mouseover", "edge", (ev) => ev.target.addClass("hover"));
cy.on("mouseout", "edge", (ev) => ev.target.removeClass("hover"));
cy.on("mouseover", "node", (ev) => ev.target.connectedEdges().addClass("hover"));
cy.on("mouseout", "node", (ev) => ev.target.connectedEdges().removeClass("hover"));

// #type/id opens that node, e.g. /ui/#account/m-000001; #q=QUERY draws a
// query.
function fromHash() {
  const q = /^#q=(.*)$/.exec(location.hash);
  if (q) {
    const line = decodeURIComponent(q[1]);
    $("query").value = line;
    if (line !== state.query) traverse(line);
    return true;
  }
  const m = /^#([^/]+)\/(.+)$/.exec(location.hash);
  if (!m) return false;
  const type = decodeURIComponent(m[1]);
  const id = decodeURIComponent(m[2]);
  $("node-type").value = type;
  $("node-id").value = id;
  if (state.query !== "" || state.roots.join() !== keyOf({ type, id })) search(type, id);
  return true;
}
window.addEventListener("hashchange", fromHash);

draw();
if (!fromHash()) status("Enter a node type and id, e.g. account m-000001, or a query.");

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
    return state.roots[0] || null;
  },
  nodes: drawnNodeKeys,
  edges: drawnEdgeKeys,
  expanded: () => [...state.expanded].sort(),
  node: (key) => state.nodes.get(key) || null,
  // The drawn group nodes: id, label, owner, edge type, direction, node
  // type, how many members are known and shown, and whether that is all.
  groups: () =>
    cy.nodes(".group").map((n) => {
      const g = findGroup(n.id());
      return { id: g.id, label: n.data("label"), owner: g.owner, dir: g.dir, etype: g.etype, ntype: g.ntype, known: g.items.length, shown: g.shown, complete: g.complete };
    }),
  // The colour each drawn node and edge type is drawn in, as cytoscape
  // renders it: {node: {type: [colours]}, edge: {type: [colours]}}.
  drawnColours: () => {
    const out = { node: {}, edge: {} };
    const add = (m, t, c) => {
      m[t] = m[t] || [];
      if (!m[t].includes(c)) m[t].push(c);
    };
    cy.nodes().forEach((n) => add(out.node, n.data("type"), n.style("background-color")));
    cy.edges().forEach((e) => add(out.edge, e.data("type"), e.style("line-color")));
    return out;
  },
  colours,
  // Edges whose type label is drawn.
  labelledEdges: () => cy.edges().filter((e) => e.style("label") !== "").length,
  labelOverlaps,
  // Where an element is drawn, in CSS pixels relative to the #graph element
  // (an edge: its midpoint).
  renderedPosition: (key) => {
    const el = cy.getElementById(key);
    if (el.empty()) return null;
    return el.isNode() ? el.renderedPosition() : el.renderedMidpoint();
  },
  search,
  expand,
  traverse,
  openGroup,
};
