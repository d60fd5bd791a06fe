// Builds the explorer into ../internal/serve/ui/dist, which the Go binary
// embeds. The output depends only on src/ and the versions pinned in
// package-lock.json, so `npm ci && npm run build` reproduces the committed
// files byte for byte (CI checks this with git diff --exit-code).
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const out = fileURLToPath(new URL("../internal/serve/ui/dist/", import.meta.url));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await esbuild.build({
  entryPoints: { app: "src/app.js", style: "src/app.css" },
  outdir: out,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "eof",
  charset: "utf8",
  logLevel: "warning",
});
copyFileSync("src/index.html", out + "index.html");
