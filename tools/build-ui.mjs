// `npm run build:ui`: bundles the dashboard's client (ui/: plain TypeScript modules and uPlot) with esbuild into
// dist/src/ui/public — app.js, app.css (uPlot's stylesheet included) and index.html, which `sso ui` serves
// (src/ui/server.ts), and report.js / report.css, the same chart code for the static reports, which
// src/demo/report.ts inlines. Everything a page loads comes from there: no CDN, so it works offline. Run by
// `prepare`, `npm test` and `npm run demo` after tsc.
import { copyFileSync, mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "src", "ui", "public");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: {
    app: join(root, "ui", "main.ts"),
    "app-style": join(root, "ui", "app.css"),
    report: join(root, "ui", "report.ts"),
    "report-style": join(root, "ui", "report.css"),
  },
  outdir: out,
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  sourcemap: false,
  logLevel: "warning",
  entryNames: "[name]",
});
// esbuild names a CSS entry's output after the entry; the page links /app.css, report.ts's users inline report.css.
renameSync(join(out, "app-style.css"), join(out, "app.css"));
renameSync(join(out, "report-style.css"), join(out, "report.css"));
copyFileSync(join(root, "ui", "index.html"), join(out, "index.html"));
