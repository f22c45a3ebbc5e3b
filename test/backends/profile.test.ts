// SSO_PROFILE=1: the cpu backend's kernels are timed and the table printed at exit, without changing any result.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { getBackend } from "../../src/backends/index.js";
import { profiled } from "../../src/backends/profile.js";

const INDEX = fileURLToPath(new URL("../../src/backends/index.js", import.meta.url));

describe("SSO_PROFILE", () => {
  it("a profiled backend computes the same bits as the plain one", () => {
    const be = getBackend("cpu"),
      pr = profiled(be);
    const a = Float32Array.from({ length: 6 * 5 }, (_, i) => Math.sin(i)),
      b = Float32Array.from({ length: 7 * 5 }, (_, i) => Math.cos(i));
    const want = new Float32Array(6 * 7),
      got = new Float32Array(6 * 7);
    be.matmul(want, a, b, 6, 7, 5, { transB: true });
    pr.matmul(got, a, b, 6, 7, 5, { transB: true });
    assert.deepEqual(got, want);
    assert.equal(pr.name, be.name);
  });

  it("prints each kernel and product shape with its calls at exit", () => {
    const script = `
      const { getBackend } = await import(${JSON.stringify(INDEX)});
      const be = getBackend("cpu");
      const c = new Float32Array(2 * 3);
      for (let i = 0; i < 5; i++) be.matmul(c, new Float32Array(2 * 4).fill(1), new Float32Array(3 * 4).fill(1), 2, 3, 4, { transB: true });
      be.rmsnormForward(new Float32Array(4), new Float32Array(1), new Float32Array(4).fill(1), new Float32Array(4).fill(1), 1, 4, 1e-6);
      if (c[0] !== 4) throw new Error("wrong product");`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, SSO_PROFILE: "1" },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^SSO_PROFILE: [\d.]+ s in kernels of [\d.]+ s since the backend loaded$/m);
    assert.match(r.stderr, /\s5× matmul 2×3×4 NT\s+[\d.]+ GFLOPS$/m);
    assert.match(r.stderr, /\s1× rmsnormForward\s*$/m);
    const plain = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, SSO_PROFILE: "" },
    });
    assert.equal(plain.status, 0, plain.stderr);
    assert.doesNotMatch(plain.stderr, /SSO_PROFILE/);
  });
});
