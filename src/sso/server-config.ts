// The `iterate.server` section of the config (src/config.ts): a policy server that `sso iterate` starts, checks,
// swaps and stops itself (src/sso/iterate-server.ts, src/remote/managed.ts). Absent: synthesis runs in-process.
// Presets fill the launch command, the engine and the probe tolerance, so the common case is `preset: vllm`.
import { z } from "zod";

export const SERVER_PRESETS = ["sso", "vllm", "sglang"] as const;
export type ServerPreset = (typeof SERVER_PRESETS)[number];

export const ServerConfig = z.strictObject({
  /** Which server the launch command starts: `sso serve`, vLLM or SGLang (its command, engine, health route). */
  preset: z.enum(SERVER_PRESETS).default("sso"),
  /**
   * The launch command (run with sh -c), placeholders {model} {adapter} {port} {name} {host} {backend} {sso}
   * {max_lora_rank}, each substituted shell-quoted. Absent: the preset's command.
   */
  command: z.string().min(1).optional(),
  /** How synthesis talks to it: openai (vLLM, `sso serve`) or sglang (SGLang's /generate). Absent: the preset's. */
  engine: z.enum(["openai", "sglang"]).optional(),
  /** Address the server binds and we connect to. */
  host: z.string().min(1).default("127.0.0.1"),
  /** Port; absent: a free one is picked at each start. */
  port: z.number().int().min(1).max(65535).optional(),
  /** The model name on the server ({name}); hot-swapped LoRA adapters are named sso-iter-k. */
  name: z.string().min(1).default("sso-policy"),
  /** Seconds a start may take until the health route answers 200 (an 8B model on vLLM takes minutes). */
  readyTimeout: z.number().positive().default(900),
  /** Seconds between SIGTERM and SIGKILL of the server's process group. */
  stopGrace: z.number().min(0).default(30),
  /** Extra environment variables for the server. */
  env: z.record(z.string(), z.string()).default({}),
  /** Stop the server before training (it shares the GPUs with the trainer); false keeps it up (other GPUs). */
  stopBeforeTrain: z.boolean().default(true),
  /**
   * How iteration k's policy reaches a running server: restart (a new server per iteration, the default), lora
   * (train.lora: load the adapter under a new name, vLLM / `sso serve` /v1/load_lora_adapter or SGLang
   * /load_lora_adapter), weights (full fine-tuning: SGLang's /update_weights_from_disk, also served by `sso serve`).
   * A swap keeps the server up during training: stopBeforeTrain must be false.
   */
  swap: z.enum(["restart", "lora", "weights"]).default("restart"),
  /** Probe records scored on the server after each start or swap (0: no probe, not recommended). */
  probe: z.number().int().min(0).max(64).default(4),
  /** Largest allowed mean per-token difference of the probe's log-probs (nats); absent: the preset's. */
  probeTolerance: z.number().positive().optional(),
  /** Requests in flight and seconds per request of the remote engine. */
  concurrency: z.number().int().positive().default(16),
  requestTimeout: z.number().positive().default(600),
  apiKey: z.string().min(1).optional(),
});
export type ServerConfig = z.infer<typeof ServerConfig>;

/** `sso serve` computes what our trainer computes (fp32 sums, same kernels); a BF16 GPU server does not. */
export const PROBE_TOLERANCE: Record<ServerPreset, number> = { sso: 1e-4, vllm: 0.1, sglang: 0.1 };

export const presetEngine = (c: ServerConfig): "openai" | "sglang" =>
  c.engine ?? (c.preset === "sglang" ? "sglang" : "openai");
