// The import rules of docs/ARCHITECTURE.md ("Layers"), checked by `npm run lint` (dependency-cruiser): no import
// cycles, and every import goes down the layer table — a module may import from its own layer or any layer below.
// The table, top to bottom; a folder not listed here is an error (rule "unlisted"), so a new folder must be placed.
const LAYERS = [
  ["commands", ["src/cli/"]],
  ["public API", ["src/index\\.ts$"]],
  ["dashboard", ["src/ui/"]],
  ["demo", ["src/demo/"]],
  ["reward models", ["src/rm/"]],
  ["config", ["src/config\\.ts$"]],
  ["evaluation", ["src/eval/"]],
  ["principle world", ["src/world/"]],
  ["the method", ["src/sso/"]],
  ["engines", ["src/engine/", "src/remote/", "src/serve/"]],
  ["model", ["src/export/", "src/train/", "src/sample/", "src/model/", "src/tokenizer/", "src/hub/", "src/data/"]],
  ["kernels", ["src/backends/"]],
  ["foundations", ["src/tensor/", "src/util/"]],
];
const re = (paths) => `^(${paths.join("|")})`;
const below = (i) => LAYERS.slice(i).flatMap(([, p]) => p);
const above = (i) => LAYERS.slice(0, i).flatMap(([, p]) => p);

module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", comment: "an import cycle", from: {}, to: { circular: true } },
    ...LAYERS.slice(1).map(([name, paths], i) => ({
      name: `upward-from-${name.replace(/ /g, "-")}`,
      severity: "error",
      comment: `${name} imports from a layer above it (docs/ARCHITECTURE.md, Layers)`,
      from: { path: re(paths) },
      to: { path: re(above(i + 1)) },
    })),
    {
      name: "unlisted",
      severity: "error",
      comment: "a module under src/ in no layer of .dependency-cruiser.cjs",
      from: { path: "^src/", pathNot: re(below(0)) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
