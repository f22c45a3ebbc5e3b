// The LM head on the trunk (trunk.ts): the log-prob of each scored target token of a packed batch of
// variable-length sequences, and the reverse pass from d(loss)/d(token logp) into the trunk's backward; and, for
// generation, the logits of chosen packed rows. Only the rows whose next token is scored go through the LM head, in
// chunks, so a prompt costs no vocabulary-sized work and logits never need T×V memory at once. With shared prompts
// (share.ts) a prompt several sequences share is computed once; outputs and gradients stay in the caller's order.
// Packing the batch is pack.ts; sampling with a KV cache is src/sample/. Callers use it through `Model`.
import { type Panels, panelMaxRows } from "../tensor/dtype.js";
import type { Workspace } from "../tensor/workspace.js";
import type { LayerInputs } from "./layer.js";
import { packBatch, type SequenceInput } from "./pack.js";
import type { Params } from "./params.js";
import { type SharedBatch, sharePrompts, spreadGrads } from "./share.js";
import type { Trunk, TrunkState } from "./trunk.js";

export interface SequenceOutput {
  /** log p(ids[t] | ids[<t]) for t = scoreFrom … n−1. */
  tokenLogps: Float32Array;
  /** (n − scoreFrom, V) logits of the rows that predict those tokens, when asked for. */
  logits?: Float32Array;
}

/** What a forward keeps for backward: the trunk's state plus the LM head's. */
export interface ForwardState extends TrunkState {
  final: { x: Float32Array; rstd: Float32Array; h: Float32Array; hRows: Float32Array };
  rows: Int32Array; // packed row of each scored token's predictor
  targets: Int32Array;
  lse: Float32Array;
  rowOffsets: number[]; // per sequence, where its scored rows start in `rows`
  logitsCached: boolean; // the training workspace holds every scored row's logits
  shared?: SharedBatch; // forward shared prompts: where the caller's sequences are in the packed ones
}

/** A trunk with the LM head's chunk and cache sizes (floats), which tests lower (Model holds them). */
export type HeadTrunk = Trunk & { headChunkFloats: number; logitsCacheFloats: number };

export interface ForwardOptions {
  wantLogits?: boolean;
  forBackward?: boolean;
  recompute?: boolean;
  sharePrompts?: boolean;
}

/** Logits of one LM-head chunk: 2^24 floats (64 MB; 110 rows of a 151,936 vocabulary, enough rows for the GEMM to
 *  run at full speed — 55-row chunks ran ~10 % slower). */
export const HEAD_CHUNK_FLOATS = 2 ** 24;
/** Rows per LM-head chunk: at least 16, and logits of at most `floats` at once. */
export const chunkRows = (V: number, floats = HEAD_CHUNK_FLOATS): number => Math.max(16, Math.floor(floats / V));
/**
 * Forward keeps the logits for backward up to this many floats (1 GiB: a real record's 1,200 scored rows of a
 * 151,936 vocabulary take 730 MB); beyond, backward recomputes them chunk by chunk (one more LM-head GEMM).
 */
export const LOGITS_CACHE_FLOATS = 2 ** 28;

/**
 * Forward pass. With `forBackward`, also returns the state backward() needs; that state lives in the model's
 * training workspace and is valid until the next forward({forBackward}) call (backward checks this). With
 * `recompute` too, it keeps only each layer's input (and what the LM head needs); backward then recomputes one
 * layer's activations at a time into one reused set of buffers — the same kernels on the same inputs.
 * With `sharePrompts`, sequences with the same prompt (ids before scoreFrom) compute it once (share.ts); outputs
 * and backward's gradients stay in the caller's order.
 */
export function forwardScored(
  t: HeadTrunk,
  input: readonly SequenceInput[],
  opts: ForwardOptions = {},
): { outputs: SequenceOutput[]; state?: ForwardState } {
  const be = t.backend,
    C = t.config.hiddenSize,
    V = t.config.vocabSize;
  const shared = opts.sharePrompts ? sharePrompts(input) : undefined,
    seqs = shared?.seqs ?? input;
  const { ids, io, rows, targets, rowOffsets } = packBatch(t.config, t.invFreq, seqs, shared?.origin);
  const R = rows.length;
  const ws = t.forwardWorkspace(opts.forBackward);
  const keep = !opts.forBackward ? "none" : opts.recompute ? "inputs" : "all";
  const { x, h, rstd, acts, inputs } = t.hidden(ids, io, ws, keep);
  const final = { x, rstd, h, hRows: ws.get("final.hRows", R * C) };
  for (let i = 0; i < R; i++) final.hRows.set(final.h.subarray(rows[i] * C, (rows[i] + 1) * C), i * C);

  // Keep all logits for backward when they fit in the cache, else backward recomputes them per chunk.
  const cacheLogits = !!opts.forBackward && R * V <= t.logitsCacheFloats;
  const logp = new Float32Array(R),
    lse = ws.get("head.lse", R);
  const logits = opts.wantLogits ? new Float32Array(R * V) : undefined;
  headChunks(t, R, ws, cacheLogits, (r0, n, chunk) => {
    be.matmul(chunk, final.hRows.subarray(r0 * C), t.lmHead, n, V, C, { transB: true });
    be.tokenLogprobsForward(logp.subarray(r0), lse.subarray(r0), chunk, targets.subarray(r0, r0 + n), n, V);
    logits?.set(chunk.subarray(0, n * V), r0 * V);
  });
  const outputs = (shared?.at ?? seqs.map((_, s) => s)).map((s) => ({
    tokenLogps: logp.slice(rowOffsets[s], rowOffsets[s + 1]),
    logits: logits?.slice(rowOffsets[s] * V, rowOffsets[s + 1] * V),
  }));
  if (!opts.forBackward) return { outputs };
  return {
    outputs,
    state: {
      ids,
      io,
      acts,
      inputs,
      final,
      rows,
      targets,
      lse,
      rowOffsets,
      logitsCached: cacheLogits,
      generation: t.generation,
      shared,
    },
  };
}

/**
 * Reverse pass: adds d(loss)/d(param) into grads (from newGrads()) given d(loss)/d(tokenLogps[t]) per sequence.
 */
export function backwardScored(
  t: HeadTrunk,
  state: ForwardState,
  callerDLogps: readonly ArrayLike<number>[],
  grads: Params,
): void {
  const be = t.backend,
    c = t.config,
    C = c.hiddenSize,
    V = c.vocabSize,
    ws = t.trainWs;
  t.checkFresh(state, "backward");
  const T = state.ids.length,
    R = state.rows.length,
    dLogps = state.shared ? spreadGrads(state.shared, callerDLogps) : callerDLogps;
  if (dLogps.length !== state.rowOffsets.length - 1)
    throw new Error(`backward: ${dLogps.length} gradients for ${state.rowOffsets.length - 1} sequences`);
  const dLogp = new Float32Array(R);
  dLogps.forEach((d, s) => {
    const n = state.rowOffsets[s + 1] - state.rowOffsets[s];
    if (d.length !== n) throw new Error(`backward: sequence ${s} has ${n} scored tokens, got ${d.length} gradients`);
    dLogp.set(Array.from(d), state.rowOffsets[s]);
  });
  const dHead = grads.get(c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight") ?? null;
  const dhRows = ws.zeros("grad.hRows", R * C),
    dLogits = ws.get("grad.logits", Math.min(chunkRows(V, t.headChunkFloats), R) * V);
  const hRows = state.final.hRows;
  headChunks(t, R, ws, state.logitsCached, (r0, n, logits) => {
    if (!state.logitsCached) be.matmul(logits, hRows.subarray(r0 * C), t.lmHead, n, V, C, { transB: true });
    const dl = dLogits.subarray(0, n * V);
    dl.fill(0);
    be.tokenLogprobsBackward(
      dl,
      dLogp.subarray(r0),
      logits,
      state.targets.subarray(r0, r0 + n),
      state.lse.subarray(r0),
      n,
      V,
    );
    be.matmulBackward(
      dhRows.subarray(r0 * C, (r0 + n) * C),
      dHead,
      dl,
      hRows.subarray(r0 * C, (r0 + n) * C),
      t.lmHead,
      n,
      V,
      C,
      { transB: true },
    );
  });
  const dh = ws.zeros("grad.h", T * C);
  // Continuations of one prefix share the row that predicts their first token: add, don't overwrite.
  for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) dh[state.rows[i] * C + j] += dhRows[i * C + j];
  t.backwardTrunk(state, dh, grads);
}

/**
 * The generation path: packed tokens through the model with io's attention (usually io.attend over a KV cache),
 * returning the logits of the given packed rows as a fresh (rows.length, V) array.
 */
export function logitsOfRows(
  t: HeadTrunk,
  ids: Int32Array,
  io: LayerInputs,
  rows: Int32Array,
  head?: Panels,
): Float32Array {
  const C = t.config.hiddenSize,
    V = t.config.vocabSize,
    R = rows.length;
  const { h } = t.hidden(ids, io, t.inferWs, "none");
  const hRows = t.inferWs.get("final.hRows", R * C);
  for (let i = 0; i < R; i++) hRows.set(h.subarray(rows[i] * C, (rows[i] + 1) * C), i * C);
  const logits = new Float32Array(R * V);
  if (head && R <= panelMaxRows()) t.backend.matmulPanels(logits, hRows, head, R);
  else t.backend.matmul(logits, hRows, t.lmHead, R, V, C, { transB: true });
  return logits;
}

/** Walks the scored rows in LM-head chunks; each chunk's logits buffer is a view of the cache when caching. */
function headChunks(
  t: HeadTrunk,
  R: number,
  ws: Workspace,
  cached: boolean,
  body: (r0: number, n: number, logits: Float32Array) => void,
): void {
  const V = t.config.vocabSize,
    step = chunkRows(V, t.headChunkFloats);
  const buf = cached ? ws.get("head.logits", R * V) : ws.get("head.chunk", Math.min(step, R) * V);
  for (let r0 = 0; r0 < R; r0 += step) {
    const n = Math.min(step, R - r0);
    body(r0, n, cached ? buf.subarray(r0 * V, (r0 + n) * V) : buf.subarray(0, n * V));
  }
}
