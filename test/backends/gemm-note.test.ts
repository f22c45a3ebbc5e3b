// A note about the GEMM choice is printed when the cpu backend loads, before anything the caller prints next — not
// at the end of a long run, as process.emitWarning's asynchronous warnings were.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../../src/util/package-root.js";

describe("GEMM notes", () => {
  it("print synchronously when the backend loads", () => {
    const backends = pathToFileURL(join(packageRoot(), "dist", "src", "backends", "index.js")).href;
    const script = `const m = await import(${JSON.stringify(backends)}); m.getBackend("cpu"); console.error("LOADED"); for (let i = 0; i < 1e7; i++);`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, SSO_GEMM: "bogus" },
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.match(lines[0], /^sso cpu backend: SSO_GEMM=bogus is neither "builtin" nor "blas"/);
    assert.equal(lines[lines.length - 1], "LOADED");
  });

  it("say which instruction set SSO_GEMM_ISA chose, and name a value that is none", () => {
    const backends = pathToFileURL(join(packageRoot(), "dist", "src", "backends", "index.js")).href;
    const script = `const m = await import(${JSON.stringify(backends)}); console.error(m.getBackend("cpu").description);`;
    const run = (isa: string) =>
      spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
        env: { ...process.env, SSO_GEMM: "", SSO_GEMM_ISA: isa },
      });
    const portable = run("portable");
    assert.equal(portable.status, 0, portable.stderr);
    assert.match(portable.stderr, /sso cpu backend: matmuls use .*portable scalar.* \(SSO_GEMM_ISA=portable\)/);
    assert.match(portable.stderr, /native addon: built-in batch-invariant GEMM \(portable scalar\)/);
    const bogus = run("sse9");
    assert.equal(bogus.status, 0, bogus.stderr);
    assert.match(bogus.stderr, /SSO_GEMM_ISA=sse9 is none of portable, avx2, avx512; using built-in/);
  });
});
