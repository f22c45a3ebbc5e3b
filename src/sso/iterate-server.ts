// The policy server of `sso iterate` (iterate.server): before each synthesis it makes a server hold the stage's
// writer π_k — by (re)starting it on the model folder (restart), by SGLang's /update_weights_from_disk (weights) or
// by loading a LoRA adapter under a new name (lora) — then proves it with the probe (probe.ts) before any record is
// written, and stops it before training when it shares the machine with the trainer. The server's log is
// DIR/server.log, its pid DIR/server.pid. Not here: the process handling (src/remote/managed.ts), the swap routes
// (src/remote/swap.ts), the loop (iterate.ts).
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Engine } from "../engine/engine.js";
import { readConfig } from "../model/folder.js";
import { connectEngine } from "../remote/connect.js";
import { freePort, ManagedServer } from "../remote/managed.js";
import { checkModelPath, loadLoraAdapter, unloadLoraAdapter, updateWeightsFromDisk } from "../remote/swap.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";
import { packageRoot } from "../util/package-root.js";
import type { LoopConfig } from "./loop-config.js";
import { stackAdapters } from "./lora-stack.js";
import { modelProbe, probeScoreItems, probeVerdict } from "./probe.js";
import type { RemoteOptions } from "./run-synth.js";
import { PROBE_TOLERANCE, presetEngine, type ServerConfig } from "./server-config.js";

export interface ServeStage {
  k: number;
  label: string;
  /** The stage's folder: server.log and server.pid go there. */
  dir: string;
  /** The model that writes the stage's records (π_k, or v2's generator). */
  writer: string;
  /** hot-swapped LoRA: the adapter that makes the initial model `writer` (absent for the initial model). */
  adapter?: string;
}

export interface PolicyServerRun {
  out: string;
  /** The run's initial model: the base of hot-swapped LoRA adapters. */
  model: string;
  prompts: string;
  backend: string;
  server: ServerConfig;
  /** The largest stacked adapter's rank, train.lora.r · (iterations − 1) (the launch flags of LoRA servers). */
  loraRank?: number;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

const PRESET_COMMANDS = {
  sso: "{sso} serve --model {model} --host {host} --port {port} --served-model-name {name} --backend {backend}",
  vllm: "vllm serve {model} --host {host} --port {port} --served-model-name {name} --seed 0 --generation-config vllm",
  sglang:
    "python3 -m sglang.launch_server --model-path {model} --host {host} --port {port} --served-model-name {name} --enable-deterministic-inference",
} as const;
const LORA_FLAGS = {
  sso: " --allow-runtime-updates",
  vllm: " --enable-lora --max-lora-rank {max_lora_rank}",
  sglang: " --enable-lora --max-lora-rank {max_lora_rank} --lora-target-modules all",
} as const;

/** The launch command: the template (or the preset's) with every placeholder substituted, shell-quoted. */
export function launchCommand(c: ServerConfig, vars: Record<string, string>): string {
  let t: string = c.command ?? PRESET_COMMANDS[c.preset];
  if (c.command === undefined && c.swap === "lora") t += LORA_FLAGS[c.preset];
  if (c.command === undefined && c.swap === "weights" && c.preset === "sso") t += LORA_FLAGS.sso;
  return t.replace(/\{(\w+)\}/g, (m, key: string) => {
    if (!(key in vars)) throw new Error(`iterate.server.command: unknown placeholder ${m}`);
    return key === "sso" ? vars.sso : q(vars[key]);
  });
}

/** The environment a preset needs on top of iterate.server.env. */
function presetEnv(c: ServerConfig): Record<string, string> {
  return c.preset === "vllm" && c.swap === "lora" ? { VLLM_ALLOW_RUNTIME_LORA_UPDATING: "True" } : {};
}

export class PolicyServer {
  private server: ManagedServer | null = null;
  private root = "";
  /** The model folder the server holds now (weights mode). */
  private holds = "";
  /** The LoRA adapter name the server serves now (lora mode). */
  private adapterName: string | null = null;
  private readonly engine: "openai" | "sglang";
  private readonly tolerance: number;

  constructor(private readonly run: PolicyServerRun) {
    this.engine = presetEngine(run.server);
    this.tolerance = run.server.probeTolerance ?? PROBE_TOLERANCE[run.server.preset];
  }

  /** Makes the server hold st.writer, probes it, and returns the remote engine's options for synthesis. */
  async serve(st: ServeStage): Promise<RemoteOptions> {
    await settleSockets();
    const c = this.run.server,
      what = `${st.label} (iterate.server)`;
    let name = c.name;
    if (c.swap === "restart" || !this.server?.running) {
      await this.stop();
      await this.start(st, c.swap === "lora" ? this.run.model : st.writer, what);
      this.holds = st.writer;
    }
    if (c.swap === "weights" && this.holds !== st.writer) {
      console.error(`— ${st.label}: reload the server's weights from ${st.writer}`);
      await updateWeightsFromDisk(this.root, st.writer, what);
      await checkModelPath(this.root, st.writer, what);
      this.holds = st.writer;
    } else if (c.swap === "lora" && st.adapter) {
      const adapter = `sso-iter-${st.k}`;
      if (this.adapterName !== adapter) {
        await loadLoraAdapter(this.root, this.engine, adapter, st.adapter, what, c.preset);
        if (this.adapterName) await unloadLoraAdapter(this.root, this.engine, this.adapterName, what);
        this.adapterName = adapter;
      }
      // vLLM and `sso serve` serve an adapter as a model of its own; SGLang names it per request (lora_path).
      if (this.engine === "openai") name = adapter;
    }
    const remote: RemoteOptions = {
      engine: this.engine,
      baseUrl: `${this.root}/v1`,
      apiModel: name,
      apiKey: c.apiKey,
      concurrency: c.concurrency,
      timeoutSeconds: c.requestTimeout,
      // A managed server's port changes from start to start: the records' fingerprint names the server by preset.
      fingerprint: { engine: this.engine, managed: c.preset, api_model: name },
      ...(this.engine === "sglang" && this.adapterName && st.adapter && { loraPath: this.adapterName }),
    };
    if (c.probe > 0) await this.probe(st, remote, what);
    return remote;
  }

  /** Before training: a server that shares the machine with the trainer is stopped (restart mode). */
  async beforeTrain(): Promise<void> {
    if (this.run.server.stopBeforeTrain) await this.stop();
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    this.adapterName = null;
    if (s) await s.stop();
  }

  private async start(st: ServeStage, model: string, what: string): Promise<void> {
    const c = this.run.server,
      port = c.port ?? (await freePort(c.host));
    const vars = {
      model: resolve(model),
      adapter: st.adapter ?? "",
      port: String(port),
      name: c.name,
      host: c.host,
      backend: this.run.backend,
      max_lora_rank: String(2 ** Math.ceil(Math.log2(Math.max(8, this.run.loraRank ?? 8)))),
      sso: `${q(process.execPath)} ${q(join(packageRoot(), "dist", "src", "cli", "main.js"))}`,
    };
    const command = launchCommand(c, vars),
      log = join(st.dir, "server.log");
    writeFileSync(log, `# ${new Date().toISOString()} ${command}\n`, { flag: "a" });
    console.error(`— ${st.label}: start the server on ${model} (log: ${log})`);
    const t0 = performance.now();
    this.server = await ManagedServer.start({
      command,
      env: { ...presetEnv(c), ...c.env },
      log,
      graceMs: c.stopGrace * 1000,
    });
    writeFileSync(join(st.dir, "server.pid"), `${this.server.pid}\n`);
    this.root = `http://${c.host.includes(":") ? `[${c.host}]` : c.host}:${port}`;
    try {
      await this.server.ready(
        this.root,
        this.engine === "sglang" ? "/health_generate" : "/health",
        c.readyTimeout * 1000,
        what,
      );
      if (this.engine === "sglang") await checkModelPath(this.root, model, what);
    } catch (e) {
      await this.stop();
      throw e;
    }
    console.error(`  server ready in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${this.root}`);
  }

  /** Scores the writer's probe on the server; a mismatch is an error before any record is written. */
  private async probe(st: ServeStage, remote: RemoteOptions, what: string): Promise<void> {
    const r = this.run;
    const probe = modelProbe({
      model: st.writer,
      adapter: st.adapter,
      initial: r.model,
      prompts: r.prompts,
      out: r.out,
      count: r.server.probe,
      backend: r.backend,
    });
    const engine: Engine = await connectEngine({
      baseUrl: remote.baseUrl,
      model: remote.apiModel,
      engine: remote.engine,
      apiKey: remote.apiKey,
      maxPositions: readConfig(st.writer).maxPositionEmbeddings,
      stopIds: Tokenizer.fromDir(st.writer).stopIds,
      timeoutMs: remote.timeoutSeconds * 1000,
      ...(remote.loraPath && { loraPath: remote.loraPath }),
    });
    const served = await engine.score(probeScoreItems(probe), { maxBatchTokens: 1 << 20 });
    const verdict = probeVerdict(
      probe,
      served.map((s) => s.logp),
      this.tolerance,
    );
    const route = this.engine === "sglang" ? "POST /generate" : "POST /v1/completions";
    if (verdict)
      throw new Error(
        `${what}: the server does not hold ${st.writer}${st.adapter ? ` + ${st.adapter}` : ""}: ${route} (model "${remote.apiModel}"): ${verdict}; no records were written from it`,
      );
    console.error(`  probe: the server holds ${st.writer} (${probe.items.length} items, ${route})`);
  }
}

/** Synthesis of `data` finished in an earlier session (its summary is written last). */
export const synthDone = (data: string): boolean => existsSync(`${data}.summary.json`);

/**
 * Lets the event loop read what arrived while training blocked it. Training is synchronous, so a kept server's
 * idle keep-alive connections can be closed by the server meanwhile (Node's and uvicorn's idle timeout is 5 s)
 * without fetch's pool hearing of it; the first request after training would then be written on a closed socket
 * ("other side closed"). A timer lets one poll phase run first, which delivers those closes to the pool.
 */
const settleSockets = () => new Promise((r) => setTimeout(r, 50));

/** Hot-swapped LoRA: the adapter over the initial model that is iteration k's policy (lora-stack.ts). */
export function loraChain(out: string, model: string, config: LoopConfig, k: number): string | undefined {
  if (k === 1 || config.iterate.server?.swap !== "lora") return undefined;
  const adapters = Array.from({ length: k - 1 }, (_, j) => join(out, `iter-${j + 1}`, "train", "adapter"));
  return stackAdapters(model, adapters, join(out, `iter-${k - 1}`, "train", "adapter-stack"));
}

/** What a server run needs, checked before anything is started or written. */
export function checkServer(config: LoopConfig): void {
  const s = config.iterate.server!;
  const vars = ["model", "adapter", "port", "name", "host", "backend", "sso", "max_lora_rank"];
  launchCommand(s, Object.fromEntries(vars.map((v) => [v, v]))); // an unknown placeholder fails here
  if (s.swap !== "restart" && s.stopBeforeTrain)
    throw new Error(
      `iterate.server.swap ${s.swap} keeps the server up while training: set iterate.server.stopBeforeTrain false (--server-keep)`,
    );
  if (s.swap === "lora" && !config.train.lora)
    throw new Error("iterate.server.swap lora: needs train.lora (a LoRA run)");
  if (s.swap === "lora" && config.iterate.mode === "v2")
    throw new Error("iterate.server.swap lora: not with iterate.mode v2 (use swap restart)");
  if (s.swap === "weights" && s.preset === "vllm")
    throw new Error("iterate.server.swap weights: vLLM has no supported reload route; use swap restart with vLLM");
}
