// Colours of node and edge types: each type gets its own colour, in the
// order the page first meets it, from a categorical palette whose colours
// are far apart and readable on the light background (no greys: a grey
// reads as "disabled"). Node and edge types share one sequence, so that no
// node type has the colour of an edge type either. Past the palette, hues
// continue around the colour wheel by the golden angle, which keeps each
// new hue far from the ones before it.
const palette = [
  "#1f77b4", // blue
  "#ff7f0e", // orange
  "#2ca02c", // green
  "#d62728", // red
  "#9467bd", // purple
  "#8c564b", // brown
  "#e377c2", // pink
  "#17becf", // cyan
  "#bcbd22", // olive
  "#393b79", // navy
  "#e7ba52", // gold
  "#843c39", // maroon
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
