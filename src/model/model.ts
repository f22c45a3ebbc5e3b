// The decoder model: embedding → layers → final RMSNorm → LM head, over a packed batch of variable-length
// sequences, returning the log-prob of each scored target token; and the reverse pass from d(loss)/d(token logp)
// to every unfrozen parameter's gradient. Only the rows whose next token is scored go through the LM head, in
// chunks, so a prompt costs no vocabulary-sized work and logits never need T×V memory at once.
// Loading and saving folders is checkpoint.ts; sampling with a KV cache is not here.
import type { AttentionShape, Backend } from "../backends/backend.js";
import type { ModelConfig } from "./config.js";
import { ropeInvFreq } from "./config.js";
import { layerBackward, layerForward, type LayerActivations, type LayerInputs } from "./layer.js";
import { frozenMatcher, layerConfig, layerWeights, type Params } from "./params.js";

export interface SequenceInput {
  ids: ArrayLike<number>;
  /** Index of the first token whose log-prob is returned (it is predicted from the tokens before it). Default 1. */
  scoreFrom?: number;
}

export interface SequenceOutput {
  /** log p(ids[t] | ids[<t]) for t = scoreFrom … n−1. */
  tokenLogps: Float32Array;
  /** (n − scoreFrom, V) logits of the rows that predict those tokens, when asked for. */
  logits?: Float32Array;
}

/** What forward keeps for backward. */
export interface ForwardState {
  ids: Int32Array;
  io: LayerInputs;
  acts: LayerActivations[];
  final: { x: Float32Array; rstd: Float32Array; h: Float32Array };
  rows: Int32Array; // packed row of each scored token's predictor
  targets: Int32Array;
  lse: Float32Array;
  rowOffsets: number[]; // per sequence, where its scored rows start in `rows`
}

/** Rows per LM-head chunk: at least 16, and logits of at most 2^23 floats (32 MB) at once. */
const chunkRows = (V: number): number => Math.max(16, Math.floor(2 ** 23 / V));

export class Model {
  readonly invFreq: Float32Array;
  private isFrozen: (name: string) => boolean = () => false;

  constructor(readonly config: ModelConfig, readonly params: Params, readonly backend: Backend) {
    this.invFreq = ropeInvFreq(config);
  }

  /** Freezes parameters whose names match any glob (`*` = any characters); they get no gradient. */
  freeze(patterns: readonly string[]): void {
    this.isFrozen = frozenMatcher(patterns);
  }

  /** Zeroed gradient buffers for every trainable parameter. */
  newGrads(): Params {
    const g: Params = new Map();
    for (const [name, p] of this.params) if (!this.isFrozen(name)) g.set(name, new Float32Array(p.length));
    return g;
  }

  private get lmHead(): Float32Array {
    return this.params.get(this.config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight")!;
  }

  private pack(seqs: readonly SequenceInput[]): { ids: Int32Array; io: LayerInputs; rows: Int32Array; targets: Int32Array; rowOffsets: number[] } {
    const c = this.config;
    const T = seqs.reduce((s, q) => s + q.ids.length, 0);
    const ids = new Int32Array(T), positions = new Int32Array(T), cu = new Int32Array(seqs.length + 1);
    const rows: number[] = [], targets: number[] = [], rowOffsets: number[] = [];
    seqs.forEach((seq, s) => {
      const off = cu[s], n = seq.ids.length, from = seq.scoreFrom ?? 1;
      if (!Number.isInteger(from) || from < 1 || from > Math.max(n, 1)) throw new Error(`sequence ${s}: scoreFrom ${from} outside [1, ${Math.max(n, 1)}]`);
      if (n > c.maxPositionEmbeddings) throw new Error(`sequence ${s}: ${n} tokens exceed max_position_embeddings ${c.maxPositionEmbeddings}`);
      for (let t = 0; t < n; t++) {
        const id = seq.ids[t];
        if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new Error(`sequence ${s}: token ${t} = ${id} is outside the vocabulary [0, ${c.vocabSize})`);
        ids[off + t] = id;
        positions[off + t] = t;
      }
      rowOffsets.push(rows.length);
      for (let t = from; t < n; t++) {
        rows.push(off + t - 1);
        targets.push(ids[off + t]);
      }
      cu[s + 1] = off + n;
    });
    rowOffsets.push(rows.length);
    const shape: AttentionShape = { cuSeqlens: cu, NH: c.numHeads, NKV: c.numKvHeads, HS: c.headDim, scale: 1 / Math.sqrt(c.headDim) };
    return { ids, io: { shape, positions, invFreq: this.invFreq }, rows: Int32Array.from(rows), targets: Int32Array.from(targets), rowOffsets };
  }

  /** Forward pass. With `forBackward`, also returns the state backward() needs. */
  forward(seqs: readonly SequenceInput[], opts: { wantLogits?: boolean; forBackward?: boolean } = {}): { outputs: SequenceOutput[]; state?: ForwardState } {
    const be = this.backend, c = this.config, C = c.hiddenSize, V = c.vocabSize, lc = layerConfig(c);
    const { ids, io, rows, targets, rowOffsets } = this.pack(seqs);
    const T = ids.length;
    let x: Float32Array = new Float32Array(T * C);
    be.embeddingForward(x, this.params.get("model.embed_tokens.weight")!, ids, T, C);
    const acts: LayerActivations[] = [];
    for (let l = 0; l < c.numLayers; l++) {
      const r = layerForward(be, lc, layerWeights(this.params, l, c.qkvBias), x, io);
      if (opts.forBackward) acts.push(r.acts);
      x = r.out;
    }
    const final = { x, rstd: new Float32Array(T), h: new Float32Array(T * C) };
    be.rmsnormForward(final.h, final.rstd, x, this.params.get("model.norm.weight")!, T, C, c.rmsNormEps);

    const R = rows.length, logp = new Float32Array(R), lse = new Float32Array(R);
    const logits = opts.wantLogits ? new Float32Array(R * V) : undefined;
    this.lmHeadChunks(final.h, rows, (r0, n, _hRows, chunk) => {
      be.tokenLogprobsForward(logp.subarray(r0), lse.subarray(r0), chunk, targets.subarray(r0, r0 + n), n, V);
      logits?.set(chunk.subarray(0, n * V), r0 * V);
    });
    const outputs = seqs.map((_, s) => ({
      tokenLogps: logp.slice(rowOffsets[s], rowOffsets[s + 1]),
      logits: logits?.slice(rowOffsets[s] * V, rowOffsets[s + 1] * V),
    }));
    return { outputs, state: opts.forBackward ? { ids, io, acts, final, rows, targets, lse, rowOffsets } : undefined };
  }

  /** Gathers the hidden rows that are scored and computes their logits chunk by chunk. */
  private lmHeadChunks(h: Float32Array, rows: Int32Array, body: (r0: number, n: number, hRows: Float32Array, logits: Float32Array) => void): void {
    const C = this.config.hiddenSize, V = this.config.vocabSize, step = chunkRows(V);
    const hRows = new Float32Array(Math.min(step, rows.length) * C), logits = new Float32Array(Math.min(step, rows.length) * V);
    for (let r0 = 0; r0 < rows.length; r0 += step) {
      const n = Math.min(step, rows.length - r0);
      for (let i = 0; i < n; i++) hRows.set(h.subarray(rows[r0 + i] * C, (rows[r0 + i] + 1) * C), i * C);
      this.backend.matmul(logits, hRows, this.lmHead, n, V, C, { transB: true });
      body(r0, n, hRows, logits);
    }
  }

  /**
   * Reverse pass: adds d(loss)/d(param) into grads (from newGrads()) given d(loss)/d(tokenLogps[t]) per sequence.
   */
  backward(state: ForwardState, dLogps: readonly ArrayLike<number>[], grads: Params): void {
    const be = this.backend, c = this.config, C = c.hiddenSize, V = c.vocabSize, lc = layerConfig(c);
    const T = state.ids.length, R = state.rows.length;
    if (dLogps.length !== state.rowOffsets.length - 1) throw new Error(`backward: ${dLogps.length} gradients for ${state.rowOffsets.length - 1} sequences`);
    const dLogp = new Float32Array(R);
    dLogps.forEach((d, s) => {
      const n = state.rowOffsets[s + 1] - state.rowOffsets[s];
      if (d.length !== n) throw new Error(`backward: sequence ${s} has ${n} scored tokens, got ${d.length} gradients`);
      dLogp.set(Array.from(d), state.rowOffsets[s]);
    });
    const dh = new Float32Array(T * C);
    const dHead = grads.get(c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight") ?? null;
    const dLogits = new Float32Array(Math.min(chunkRows(V), R) * V), dhRows = new Float32Array(Math.min(chunkRows(V), R) * C);
    this.lmHeadChunks(state.final.h, state.rows, (r0, n, hRows, logits) => {
      dLogits.fill(0, 0, n * V);
      dhRows.fill(0, 0, n * C);
      be.tokenLogprobsBackward(dLogits, dLogp.subarray(r0), logits, state.targets.subarray(r0, r0 + n), state.lse.subarray(r0), n, V);
      be.matmulBackward(dhRows, dHead, dLogits, hRows, this.lmHead, n, V, C, { transB: true });
      for (let i = 0; i < n; i++) dh.set(dhRows.subarray(i * C, (i + 1) * C), state.rows[r0 + i] * C); // rows are distinct
    });
    let dx: Float32Array = new Float32Array(T * C);
    be.rmsnormBackward(dx, grads.get("model.norm.weight") ?? null, dh, state.final.x, this.params.get("model.norm.weight")!, state.final.rstd, T, C);
    for (let l = c.numLayers - 1; l >= 0; l--) {
      const dPrev = new Float32Array(T * C);
      layerBackward(be, lc, layerWeights(this.params, l, c.qkvBias), state.acts[l], state.io, dx, dPrev, layerWeights(grads, l, c.qkvBias));
      dx = dPrev;
    }
    const dEmbed = grads.get("model.embed_tokens.weight");
    if (dEmbed) be.embeddingBackward(dEmbed, dx, state.ids, T, C);
  }
}
