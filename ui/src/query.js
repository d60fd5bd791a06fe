// The query box's language: one line that says what `rdg query traverse`
// says with its arguments and --step flags.
//
//   START... [STEP] [| STEP]...
//
// START is one or more TYPE:ID; the words after them, up to the first "|",
// are the first step, and each "|" starts another. A step's words are
// those of --step: out|in|both (first), edges=T,T  nodes=T,T  since=T
// until=T  node.FIELD<op>VALUE  edge.FIELD<op>VALUE. "quoted" text may hold
// spaces and "|". For example
//
//   account:m-000001 out edges=has_profile | out edges=signed_in_on
//
// parseQuery returns a TraverseRequest in Connect JSON, or throws an Error
// whose message names the word at fault and its column.

const typeName = /^[a-z][a-z0-9_]*$/;

// words splits a line into words and "|" separators, keeping quoted text
// (with its quotes) inside its word. Each word carries its column (1-based).
function words(line) {
  const out = [];
  let cur = "";
  let col = 0;
  let quoted = false;
  const flush = () => {
    if (cur !== "") out.push({ text: cur, col });
    cur = "";
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      cur += c;
      if (c === "\\" && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') {
      if (cur === "") col = i + 1;
      cur += c;
      quoted = true;
    } else if (c === "|") {
      flush();
      out.push({ text: "|", col: i + 1, sep: true });
    } else if (/\s/.test(c)) {
      flush();
    } else {
      if (cur === "") col = i + 1;
      cur += c;
    }
  }
  if (quoted) throw new Error(`column ${col}: ${cur}: the quote is not closed`);
  flush();
  return out;
}

const durationUnits = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 };

// durationMs reads a duration the way the command line does: Go's syntax
// (90s, 1h30m) or days (7d, 1.5d).
function durationMs(s) {
  const m = /^(\d+(?:\.\d+)?)d$/.exec(s);
  if (m) return Number(m[1]) * durationUnits.d;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const p = re.exec(s);
    if (!p) return NaN;
    total += Number(p[1]) * durationUnits[p[2]];
    at = re.lastIndex;
  }
  return at > 0 ? total : NaN;
}

// timeMs reads since=/until=: unix milliseconds, an RFC 3339 time, or a
// duration meaning that long ago.
function timeMs(name, s, now) {
  if (/^-?\d+$/.test(s)) return s;
  if (/^\d{4}-\d\d-\d\dT/.test(s)) {
    const t = Date.parse(s);
    if (Number.isFinite(t)) return String(t);
  }
  const d = durationMs(s);
  if (Number.isFinite(d) && d >= 1) return String(Math.round(now - d));
  throw new Error(`${name} ${JSON.stringify(s)}: want unix milliseconds, an RFC 3339 time or a duration ago (24h, 7d)`);
}

const ops = [
  ["!=", "OP_NE"],
  ["<=", "OP_LE"],
  [">=", "OP_GE"],
  ["==", "OP_EQ"],
  ["=", "OP_EQ"],
  ["<", "OP_LT"],
  [">", "OP_GT"],
];

// value reads a predicate value: "quoted" text, true, false, null, a
// number, or else text. Integers stay strings (int64 in Connect JSON).
function value(s) {
  if (s.length >= 2 && s[0] === '"' && s[s.length - 1] === '"') {
    let t;
    try {
      t = JSON.parse(s);
    } catch (_) {
      t = s.slice(1, -1);
    }
    return { stringValue: t };
  }
  if (s === "true" || s === "false") return { boolValue: s === "true" };
  if (s === "null") return {};
  if (/^[-+]?\d+$/.test(s)) return { intValue: s.replace(/^\+/, "") };
  if (s !== "" && Number.isFinite(Number(s)) && !/^0x/i.test(s)) return { doubleValue: Number(s) };
  return { stringValue: s };
}

function predicate(s) {
  for (let i = 0; i < s.length; i++) {
    for (const [text, op] of ops) {
      if (s.startsWith(text, i)) {
        if (i === 0) break;
        return { field: s.slice(0, i), op, value: value(s.slice(i + text.length)) };
      }
    }
  }
  throw new Error(`predicate ${JSON.stringify(s)}: want FIELD<op>VALUE with op one of = != < <= > >=`);
}

const list = (s) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");

const directions = { out: "DIRECTION_OUT", in: "DIRECTION_IN", both: "DIRECTION_BOTH" };

function step(ws, now) {
  const st = { direction: "DIRECTION_OUT" };
  ws.forEach((w, i) => {
    const word = w.text;
    const lower = word.toLowerCase();
    const at = (err) => new Error(`column ${w.col}: ${err}`);
    try {
      if (i === 0 && lower in directions) st.direction = directions[lower];
      else if (word.startsWith("edges=")) st.edgeTypes = list(word.slice(6));
      else if (word.startsWith("nodes=")) st.nodeTypes = list(word.slice(6));
      else if (word.startsWith("since=")) st.sinceMs = timeMs("since", word.slice(6), now);
      else if (word.startsWith("until=")) st.untilMs = timeMs("until", word.slice(6), now);
      else if (word.startsWith("node.")) (st.nodePredicates ||= []).push(predicate(word.slice(5)));
      else if (word.startsWith("edge.")) (st.edgePredicates ||= []).push(predicate(word.slice(5)));
      else
        throw new Error(
          `${JSON.stringify(word)}: want out|in|both (first), edges=, nodes=, since=, until=, node.FIELD<op>VALUE or edge.FIELD<op>VALUE`,
        );
    } catch (err) {
      throw err.message.startsWith("column ") ? err : at(err.message);
    }
  });
  return st;
}

// parseQuery turns a query line into {start, steps} for Traverse.
export function parseQuery(line, now = Date.now()) {
  const ws = words(line);
  const start = [];
  let i = 0;
  for (; i < ws.length && !ws[i].sep; i++) {
    const w = ws[i].text;
    const c = w.indexOf(":");
    if (c < 0 || w.includes("=") || w.startsWith("node.") || w.startsWith("edge.")) break;
    const type = w.slice(0, c);
    const id = w.slice(c + 1);
    if (!typeName.test(type)) throw new Error(`column ${ws[i].col}: node ${JSON.stringify(w)}: the type must be lower-case letters, digits and _, starting with a letter`);
    if (id === "") throw new Error(`column ${ws[i].col}: node ${JSON.stringify(w)}: empty id`);
    start.push({ type, id });
  }
  if (start.length === 0) throw new Error("start with at least one node as TYPE:ID, e.g. account:m-000001 out edges=uses");
  const steps = [];
  let cur = [];
  let sawStepText = false;
  for (; i < ws.length; i++) {
    if (ws[i].sep) {
      if (cur.length === 0) throw new Error(`column ${ws[i].col}: an empty step before "|"`);
      steps.push(step(cur, now));
      cur = [];
      sawStepText = true;
      continue;
    }
    cur.push(ws[i]);
  }
  if (cur.length > 0) steps.push(step(cur, now));
  else if (sawStepText) throw new Error(`column ${line.length}: an empty step after the last "|"`);
  return { start, steps };
}
