// Colours of node and edge types: each type gets its own colour, in the
// order the page first meets it, from a categorical palette chosen for the
// distance between its colours (every pair at least 40 apart in CIELAB)
// and for reading on the light background. It has no greys: a grey reads
// as "disabled", and two types in one grey cannot be told apart. Node and
// edge types share one sequence, so that no node type has the colour of an
// edge type either. Past the palette, hues continue around the colour
// wheel by the golden angle, which keeps each new hue far from the ones
// before it.
const palette = [
  "#0bb4ff", // sky blue
  "#f38400", // orange
  "#2ca02c", // green
  "#b30000", // dark red
  "#4421af", // indigo
  "#f0027f", // magenta
  "#bcbd22", // olive
  "#00bfa0", // teal
  "#654522", // dark brown
  "#e68fac", // pink
  "#393b79", // navy
  "#c2b280", // buff
];

const assigned = new Map(); // "node:account" / "edge:uses" -> colour

function colour(key) {
  let c = assigned.get(key);
  if (c === undefined) {
    const i = assigned.size;
    if (i < palette.length) c = palette[i];
    else {
      const hue = Math.round((i - palette.length) * 137.508 + 20) % 360;
      const light = 38 + ((i - palette.length) % 3) * 8;
      c = `hsl(${hue}, 65%, ${light}%)`;
    }
    assigned.set(key, c);
  }
  return c;
}

export const nodeColour = (type) => colour("node:" + type);
export const edgeColour = (type) => colour("edge:" + type);
// Every colour handed out so far, by "node:TYPE" and "edge:TYPE".
export const colours = () => Object.fromEntries(assigned);
