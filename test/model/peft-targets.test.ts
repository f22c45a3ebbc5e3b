// An adapter applies exactly the modules its adapter_config.json's target_modules selects (PEFT's matching rules:
// list entries by name or "." suffix, a string as a full-match regex, "all-linear", null → q_proj + v_proj), and
// tensors that disagree with the config are refused in one line naming the file and the module.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel, readConfig } from "../../src/model/folder.js";
import { attachLora, initLora, LoraSettings } from "../../src/model/lora.js";
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readAdapter, writeAdapter } from "../../src/model/peft.js";
import { hfModuleNames, resolveTargetModules } from "../../src/model/peft-targets.js";
import { readSafetensors, writeSafetensors } from "../../src/model/safetensors.js";
import { Rng } from "../../src/tensor/rng.js";
import { makeTinyModel, tempDir } from "../helpers.js";

const SEQ = [3, 14, 15, 9, 26, 5, 35, 8];

describe("target_modules decides which modules an adapter adapts (PEFT's rules)", () => {
  const dir = makeTinyModel(7, { layers: 2, hidden: 32, intermediate: 48 });
  const config = readConfig(dir);
  const work = tempDir("sso-peft-targets-");
  // An adapter with non-zero A and B for all seven modules, written by us (target_modules = all seven).
  const all = join(work, "all");
  const s = LoraSettings.parse({ r: 2, alpha: 4 });
  {
    const m = loadModel(dir, getBackend("cpu")),
      t = initLora(m.config, s, 5),
      rng = new Rng(6);
    for (const [name, x] of t) if (name.endsWith("lora_B.weight")) x.set(rng.normalArray(x.length, 0.2));
    attachLora(m, s, t, "test");
    writeAdapter(all, m, { baseModel: dir });
  }
  const allCfg = JSON.parse(readFileSync(join(all, ADAPTER_CONFIG), "utf8"));
  let n = 0;
  /** A copy of the seven-module adapter with config keys changed and only the tensors of modules `keep`. */
  const variant = (cfg: Record<string, unknown>, keep?: readonly string[]) => {
    const d = join(work, `v${n++}`);
    mkdirSync(d);
    writeFileSync(join(d, ADAPTER_CONFIG), JSON.stringify({ ...allCfg, ...cfg }));
    const tensors = [...readSafetensors(join(all, ADAPTER_WEIGHTS))]
      .filter(([k]) => !keep || keep.some((m) => k.includes(`.${m}.lora_`)))
      .map(([name, v]) => ({ name, shape: v.shape, data: v.data }));
    writeSafetensors(join(d, ADAPTER_WEIGHTS), tensors, { dtype: "F32" });
    return d;
  };
  const logps = (adapter?: string) =>
    loadModel(dir, getBackend("cpu"), adapter ? { adapter } : {}).forward([{ ids: SEQ }]).outputs[0].tokenLogps;
  const oneLine = (f: () => unknown, pattern: RegExp) =>
    assert.throws(f, (e: Error) => {
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("\n"), e.message);
      return true;
    });

  it("list entries match by name or by '.' suffix; the adapter then has exactly those modules", () => {
    const qv = variant({ target_modules: ["q_proj", "v_proj"] }, ["q_proj", "v_proj"]);
    assert.deepEqual(readAdapter(qv, config).settings.targets, ["q_proj", "v_proj"]);
    const dotted = variant({ target_modules: ["self_attn.q_proj", "mlp.down_proj"] }, ["q_proj", "down_proj"]);
    assert.deepEqual(readAdapter(dotted, config).settings.targets, ["q_proj", "down_proj"]);
    // And the two-module adapter computes something else than the seven-module one (it is not silently all seven).
    const [a, b, base] = [logps(qv), logps(all), logps()];
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a, base);
  });

  it("a regex (re.fullmatch), 'all-linear' and a missing target_modules (llama/qwen2 default q_proj, v_proj)", () => {
    assert.deepEqual(resolveTargetModules(".*\\.(k_proj|up_proj)", config, "c.json"), ["k_proj", "up_proj"]);
    assert.deepEqual(resolveTargetModules("ALL-LINEAR", config, "c.json"), [
      "q_proj",
      "k_proj",
      "v_proj",
      "o_proj",
      "gate_proj",
      "up_proj",
      "down_proj",
    ]);
    assert.deepEqual(resolveTargetModules(null, config, "c.json"), ["q_proj", "v_proj"]);
    assert.deepEqual(resolveTargetModules(undefined, config, "c.json"), ["q_proj", "v_proj"]);
    // fullmatch, not search: "q_proj" as a regex matches no whole module name.
    oneLine(() => resolveTargetModules("q_proj", config, "c.json"), /c\.json: target_modules "q_proj" matches no/);
    assert.ok(hfModuleNames(config).includes("model.layers.1.mlp.down_proj"));
  });

  it("tensors for a module target_modules does not select are refused, naming the file and the module", () => {
    // The reproduction of issue 30 item 5: all seven modules' tensors, a config listing q_proj and v_proj.
    oneLine(
      () => readAdapter(variant({ target_modules: ["q_proj", "v_proj"] }), config),
      /adapter_model\.safetensors: tensor base_model\.model\.model\.layers\.0\.\w+\.(k|o|gate|up|down)_proj\.lora_A\.weight adapts \1_proj, which target_modules in adapter_config\.json does not select \(it selects q_proj, v_proj\)/,
    );
    oneLine(
      () => loadModel(dir, getBackend("cpu"), { adapter: variant({ target_modules: null }) }),
      /adapts (k|o|gate|up|down)_proj, which target_modules .* does not select \(it selects q_proj, v_proj\)/,
    );
  });

  it("an unknown module name, a selected module without tensors, and what we cannot apply exactly", () => {
    oneLine(
      () => readAdapter(variant({ target_modules: ["foo_proj"] }), config),
      /adapter_config\.json: target_modules lists "foo_proj", which names no module/,
    );
    oneLine(
      () => readAdapter(variant({ target_modules: ["q_proj", "foo_proj"] }, ["q_proj"]), config),
      /target_modules lists "foo_proj"/,
    );
    oneLine(
      () => readAdapter(variant({ target_modules: ["q_proj", "v_proj"] }, ["q_proj"]), config),
      /adapter_config\.json: target_modules selects v_proj but adapter_model\.safetensors has no .*v_proj\.lora_A/,
    );
    oneLine(
      () => readAdapter(variant({ target_modules: ["q_proj", "lm_head"] }, ["q_proj"]), config),
      /target_modules "lm_head" selects lm_head, which is not one of the attention\/MLP Linears/,
    );
    oneLine(
      () => readAdapter(variant({ target_modules: ["self_attn"] }, []), config),
      /target_modules "self_attn" selects model\.layers\.0\.self_attn, which is not/,
    );
    oneLine(
      () => readAdapter(variant({ target_modules: ["model.layers.0.self_attn.q_proj"] }, ["q_proj"]), config),
      /selects q_proj in some layers only \(not in layer 1\)/,
    );
    oneLine(() => readAdapter(variant({ target_modules: [] }), config), /target_modules must be a non-empty list/);
    oneLine(
      () => readAdapter(variant({ exclude_modules: ["down_proj"] }), config),
      /exclude_modules = \["down_proj"\]: exclude_modules is not supported/,
    );
  });
});
