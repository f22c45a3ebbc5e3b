// `sso serve --model DIR [--port 8000] [--host 127.0.0.1] [--api-key KEY] [--max-queue N] [--max-batch N]
// [--max-connections N]`: our model behind an OpenAI-compatible HTTP API (src/serve/). Loopback by default; the
// API key preferably from $SSO_API_KEY (a flag's value shows in ps). SIGTERM or SIGINT stops taking
// requests, fails queued ones with 503, lets running ones finish (at most --grace seconds; then a stream gets an
// error event and [DONE], any other request a 503), and exits 0.
import { basename, resolve } from "node:path";
import { openModel } from "../model/open.js";
import { serve } from "../serve/server.js";

export interface ServeCliOptions {
  model: string;
  /** A PEFT LoRA adapter folder applied to the model (src/model/peft.ts). */
  adapter?: string;
  host: string;
  port: number;
  apiKey?: string;
  maxQueue: number;
  maxBatch: number;
  maxConnections: number;
  servedModelName?: string;
  backend: string;
  grace: number;
  allowRuntimeUpdates?: boolean;
}

export async function runServe(opts: ServeCliOptions): Promise<void> {
  const { model, tok } = openModel(opts.model, { backend: opts.backend, adapter: opts.adapter, keep16: true });
  const apiKey = opts.apiKey ?? process.env.SSO_API_KEY;
  const modelName = opts.servedModelName ?? basename(resolve(opts.model));
  const s = await serve({
    model,
    tok,
    modelName,
    host: opts.host,
    port: opts.port,
    apiKey,
    maxQueue: opts.maxQueue,
    maxBatch: opts.maxBatch,
    maxConnections: opts.maxConnections,
    modelPath: resolve(opts.model),
    backend: opts.backend,
    allowRuntimeUpdates: opts.allowRuntimeUpdates === true,
  });
  // One line on stdout with the address, so scripts (and tests) can wait for it.
  console.log(`sso serve: ${modelName} on ${s.url}/v1`);
  const stop = (signal: string) => {
    console.error(`sso serve: ${signal}, finishing running requests (at most ${opts.grace} s)`);
    // close() ends what still runs when the grace period is over, with an error event or a 503; this timer is only
    // the backstop should a client not read its answer.
    setTimeout(() => process.exit(0), opts.grace * 1000 + 5_000).unref();
    s.close(opts.grace * 1000).then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}
