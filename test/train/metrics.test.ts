// The trainer's metrics log: appended line by line, cut back to the checkpoint's step on resume (dropping a torn
// last line), and read back whole lines only.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { MetricsLog, readMetrics } from "../../src/train/metrics.js";
import { tempDir } from "../helpers.js";

describe("metrics log", () => {
  const dir = tempDir("sso-metrics-");

  it("appends one line per step and a fresh open starts empty", () => {
    const path = join(dir, "a.jsonl");
    writeFileSync(path, '{"step":9}\n');
    const log = MetricsLog.open(path);
    log.append({ step: 1, loss: 0.5 });
    log.append({ step: 2, loss: 0.25 });
    assert.equal(readFileSync(path, "utf8"), '{"step":1,"loss":0.5}\n{"step":2,"loss":0.25}\n');
    assert.deepEqual(
      readMetrics(path).map((m) => m.loss),
      [0.5, 0.25],
    );
  });

  it("on resume keeps the steps up to the checkpoint and drops later and torn lines", () => {
    const path = join(dir, "b.jsonl");
    writeFileSync(path, '{"step":1}\n{"step":2}\n{"step":3}\n{"ste');
    MetricsLog.open(path, 2).append({ step: 3, loss: 1 });
    assert.equal(readFileSync(path, "utf8"), '{"step":1}\n{"step":2}\n{"step":3,"loss":1}\n');
  });

  it("a line that is not JSON is an error naming the file and line", () => {
    const path = join(dir, "c.jsonl");
    writeFileSync(path, '{"step":1}\nnot json\n');
    assert.throws(() => readMetrics(path), /c\.jsonl:2: not a metrics line/);
  });
});
