// The decoder model: embedding → layers → final RMSNorm → LM head, over a packed batch of variable-length
// sequences, returning the log-prob of each scored target token; and the reverse pass from d(loss)/d(token logp)
// to every unfrozen parameter's gradient. Only the rows whose next token is scored go through the LM head, in
// chunks, so a prompt costs no vocabulary-sized work and logits never need T×V memory at once. forwardRows and
// backwardRows do the same without the LM head, for one chosen token's final hidden state per sequence (reward
// models' pooling, src/rm/); both reverse passes share the trunk's (backwardTrunk).
// Frozen matrices may be 16-bit (`halves`, from a BF16/F16 folder loaded for inference): they are read as they are,
// never widened into a copy, and get no gradient.
// Packing the batch is pack.ts; loading and saving folders is folder.ts; sampling with a KV cache is not here.
import type { Backend } from "../backends/backend.js";
import { type Half, PANEL_MAX_ROWS, type Panels, type Weight } from "../tensor/dtype.js";
import { Workspace } from "../tensor/workspace.js";
import type { ModelConfig } from "./config.js";
import { ropeInvFreq } from "./config.js";
import { type LayerActivations, type LayerInputs, layerBackward, layerForward } from "./layer.js";
import { type AttachedLora, layerLora, layerLoraGrads } from "./lora-math.js";
import { packBatch, type SequenceInput } from "./pack.js";
import { frozenMatcher, layerConfig, layerWeights, type Params } from "./params.js";
import { type SharedBatch, sharePrompts, spreadGrads } from "./share.js";

export type { SequenceInput } from "./pack.js";

export interface SequenceOutput {
  /** log p(ids[t] | ids[<t]) for t = scoreFrom … n−1. */
  tokenLogps: Float32Array;
  /** (n − scoreFrom, V) logits of the rows that predict those tokens, when asked for. */
  logits?: Float32Array;
}

/** What the decoder's reverse pass (below the final norm's output) needs from a forward. */
interface TrunkState {
  ids: Int32Array;
  io: LayerInputs;
  acts: LayerActivations[]; // every layer's activations; empty with recomputation
  /** With recomputation: each layer's input (layer l reads inputs[l]); backward recomputes the layer from it. */
  inputs?: Float32Array[];
  final: { x: Float32Array; rstd: Float32Array };
  generation: number; // which forward({forBackward}) produced it
}

/** What forwardRows keeps for backwardRows: the trunk's state and each sequence's chosen packed row. */
export interface RowsState extends TrunkState {
  rows: Int32Array;
}

/** What forward keeps for backward. */
export interface ForwardState {
  ids: Int32Array;
  io: LayerInputs;
  acts: LayerActivations[]; // every layer's activations; empty with recomputation
  /** With recomputation: each layer's input (layer l reads inputs[l]); backward recomputes the layer from it. */
  inputs?: Float32Array[];
  final: { x: Float32Array; rstd: Float32Array; h: Float32Array; hRows: Float32Array };
  rows: Int32Array; // packed row of each scored token's predictor
  targets: Int32Array;
  lse: Float32Array;
  rowOffsets: number[]; // per sequence, where its scored rows start in `rows`
  logitsCached: boolean; // the training workspace holds every scored row's logits
  generation: number; // which forward({forBackward}) produced it
  shared?: SharedBatch; // forward shared prompts: where the caller's sequences are in the packed ones
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
/** The one set of layer buffers that recomputation reuses, in forward and in backward. */
const RECOMPUTE_TAG = "recompute";

export class Model {
  readonly invFreq: Float32Array;
  private isFrozen: (name: string) => boolean = () => false;
  private readonly trainWs = new Workspace();
  /** The LM head's chunk and cache sizes (floats); tests lower them to walk several chunks and the recompute path. */
  headChunkFloats = HEAD_CHUNK_FLOATS;
  logitsCacheFloats = LOGITS_CACHE_FLOATS;
  private readonly inferWs = new Workspace();
  private generation = 0;
  /** A LoRA adapter whose tensors are in params (lora.ts: attachLora, mergeLora); none by default. */
  lora?: AttachedLora;
  /** Every tensor the forward reads: params, plus the 16-bit matrices (the same arrays, no copies). */
  readonly weights: ReadonlyMap<string, Weight>;

  /** params: the fp32 tensors (trainable unless frozen); halves: 16-bit matrices, frozen by construction (a name is
   *  in one map or the other). */
  constructor(
    readonly config: ModelConfig,
    readonly params: Params,
    readonly backend: Backend,
    readonly halves: ReadonlyMap<string, Half> = new Map(),
  ) {
    this.invFreq = ropeInvFreq(config);
    this.weights = halves.size ? new Map<string, Weight>([...params, ...halves]) : params;
  }

  /** A tensor by name, fp32 or 16-bit. */
  weight(name: string): Weight | undefined {
    return this.weights.get(name);
  }

  /** Freezes parameters whose names match any glob (`*` = any characters); they get no gradient. */
  freeze(patterns: readonly string[]): void {
    this.isFrozen = frozenMatcher(patterns);
  }

  /** Bytes the training and inference workspaces hold: buffers only grow, so these are the peaks so far. */
  get workspaceBytes(): { train: number; infer: number } {
    return { train: 4 * this.trainWs.size, infer: 4 * this.inferWs.size };
  }

  /** Zeroed gradient buffers for every trainable parameter. */
  newGrads(): Params {
    const g: Params = new Map();
    for (const [name, p] of this.params) if (!this.isFrozen(name)) g.set(name, new Float32Array(p.length));
    return g;
  }

  /** The LM head's weight (the embedding's when tied). */
  get lmHead(): Weight {
    if (this.config.scoreHead)
      throw new Error("this is a sequence-classification (reward) model: it has a score head, no LM head");
    return this.weights.get(this.config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight")!;
  }

  /**
   * Forward pass. With `forBackward`, also returns the state backward() needs; that state lives in the model's
   * training workspace and is valid until the next forward({forBackward}) call (backward checks this). With
   * `recompute` too, it keeps only each layer's input (and what the LM head needs); backward then recomputes one
   * layer's activations at a time into one reused set of buffers — the same kernels on the same inputs.
   * With `sharePrompts`, sequences with the same prompt (ids before scoreFrom) compute it once (share.ts); outputs
   * and backward's gradients stay in the caller's order.
   */
  forward(
    input: readonly SequenceInput[],
    opts: { wantLogits?: boolean; forBackward?: boolean; recompute?: boolean; sharePrompts?: boolean } = {},
  ): { outputs: SequenceOutput[]; state?: ForwardState } {
    const be = this.backend,
      C = this.config.hiddenSize,
      V = this.config.vocabSize;
    const shared = opts.sharePrompts ? sharePrompts(input) : undefined,
      seqs = shared?.seqs ?? input;
    const { ids, io, rows, targets, rowOffsets } = packBatch(this.config, this.invFreq, seqs, shared?.origin);
    const R = rows.length;
    const ws = opts.forBackward ? this.trainWs : this.inferWs;
    if (opts.forBackward) this.generation++;
    const keep = !opts.forBackward ? "none" : opts.recompute ? "inputs" : "all";
    const { x, h, rstd, acts, inputs } = this.hidden(ids, io, ws, keep);
    const final = { x, rstd, h, hRows: ws.get("final.hRows", R * C) };
    for (let i = 0; i < R; i++) final.hRows.set(final.h.subarray(rows[i] * C, (rows[i] + 1) * C), i * C);

    // Keep all logits for backward when they fit in the cache, else backward recomputes them per chunk.
    const cacheLogits = !!opts.forBackward && R * V <= this.logitsCacheFloats;
    const logp = new Float32Array(R),
      lse = ws.get("head.lse", R);
    const logits = opts.wantLogits ? new Float32Array(R * V) : undefined;
    this.headChunks(R, ws, cacheLogits, (r0, n, chunk) => {
      be.matmul(chunk, final.hRows.subarray(r0 * C), this.lmHead, n, V, C, { transB: true });
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
        generation: this.generation,
        shared,
      },
    };
  }

  /**
   * The final-norm hidden state of one chosen token per sequence (a reward model pools its last non-padding
   * token), as an (S, C) array; no LM head runs. With `forBackward`, also the state backwardRows() needs (valid
   * until the next forward({forBackward}) or forwardRows({forBackward}) call).
   */
  forwardRows(
    seqs: readonly { ids: ArrayLike<number>; row: number }[],
    opts: { forBackward?: boolean } = {},
  ): { hidden: Float32Array; state?: RowsState } {
    const C = this.config.hiddenSize,
      S = seqs.length;
    const { ids, io } = packBatch(
      this.config,
      this.invFreq,
      seqs.map((q) => ({ ids: q.ids, scoreFrom: Math.max(q.ids.length, 1) })),
    );
    const rows = Int32Array.from(seqs, (q, s) => {
      if (!Number.isInteger(q.row) || q.row < 0 || q.row >= q.ids.length)
        throw new Error(`sequence ${s}: row ${q.row} outside [0, ${q.ids.length})`);
      return io.shape.cuSeqlens[s] + q.row;
    });
    const ws = opts.forBackward ? this.trainWs : this.inferWs;
    if (opts.forBackward) this.generation++;
    const { x, h, rstd, acts } = this.hidden(ids, io, ws, opts.forBackward ? "all" : "none");
    const hidden = new Float32Array(S * C);
    for (let s = 0; s < S; s++) hidden.set(h.subarray(rows[s] * C, (rows[s] + 1) * C), s * C);
    if (!opts.forBackward) return { hidden };
    return { hidden, state: { ids, io, acts, final: { x, rstd }, rows, generation: this.generation } };
  }

  /** Reverse pass of forwardRows: adds d(loss)/d(param) into grads given d(loss)/d(hidden) (S, C). */
  backwardRows(state: RowsState, dHidden: Float32Array, grads: Params): void {
    const C = this.config.hiddenSize,
      S = state.rows.length;
    if (state.generation !== this.generation)
      throw new Error("backwardRows: this forward state is stale (a forward for backward ran again since)");
    if (dHidden.length !== S * C) throw new Error(`backwardRows: ${dHidden.length} gradients for ${S}×${C} rows`);
    const dh = this.trainWs.zeros("grad.h", state.ids.length * C);
    for (let s = 0; s < S; s++) dh.set(dHidden.subarray(s * C, (s + 1) * C), state.rows[s] * C); // one row per sequence
    this.backwardTrunk(state, dh, grads);
  }

  /**
   * Embedding, every layer and the final norm over packed tokens. Training keeps each layer's activations in its
   * own buffers ("all"), or only each layer's input with one reused set of activations ("inputs", recomputation).
   * Inference ("none") gives every layer the same set and copies each layer's output back into the embedding's
   * buffer (its input, consumed by then): one layer's activations in memory instead of two (161 KB per token at
   * Qwen2.5-1.5B's shape), for a T×C copy per layer.
   */
  private hidden(
    ids: Int32Array,
    io: LayerInputs,
    ws: Workspace,
    keep: "all" | "inputs" | "none",
  ): { x: Float32Array; h: Float32Array; rstd: Float32Array; acts: LayerActivations[]; inputs?: Float32Array[] } {
    const be = this.backend,
      c = this.config,
      C = c.hiddenSize,
      T = ids.length,
      lc = layerConfig(c);
    let x = ws.get("embed", T * C);
    be.embeddingForward(x, this.weights.get("model.embed_tokens.weight")!, ids, T, C);
    const acts: LayerActivations[] = [],
      inputs = keep === "inputs" ? [x] : undefined;
    for (let l = 0; l < c.numLayers; l++) {
      const tag = keep === "all" ? `L${l}` : keep === "inputs" ? RECOMPUTE_TAG : "L";
      const r = layerForward(
        be,
        lc,
        layerWeights(this.weights, l, c.qkvBias),
        x,
        { ...io, layer: l },
        ws.scope(tag, false),
        layerLora(this.params, l, this.lora),
      );
      if (keep === "all") {
        acts.push(r.acts);
        x = r.out;
      } else if (inputs) {
        x = ws.get(`input${l + 1}`, T * C);
        x.set(r.out);
        inputs.push(x);
      } else x.set(r.out);
    }
    const h = ws.get("final.h", T * C),
      rstd = ws.get("final.rstd", T);
    be.rmsnormForward(h, rstd, x, this.params.get("model.norm.weight")!, T, C, c.rmsNormEps);
    return { x, h, rstd, acts, inputs: inputs?.slice(0, c.numLayers) };
  }

  /**
   * The generation path: packed tokens through the model with io's attention (usually io.attend over a KV cache),
   * returning the logits of the given packed rows as a fresh (rows.length, V) array.
   */
  logitsOfRows(ids: Int32Array, io: LayerInputs, rows: Int32Array, head?: Panels): Float32Array {
    const C = this.config.hiddenSize,
      V = this.config.vocabSize,
      R = rows.length;
    const { h } = this.hidden(ids, io, this.inferWs, "none");
    const hRows = this.inferWs.get("final.hRows", R * C);
    for (let i = 0; i < R; i++) hRows.set(h.subarray(rows[i] * C, (rows[i] + 1) * C), i * C);
    const logits = new Float32Array(R * V);
    if (head && R <= PANEL_MAX_ROWS) this.backend.matmulPanels(logits, hRows, head, R);
    else this.backend.matmul(logits, hRows, this.lmHead, R, V, C, { transB: true });
    return logits;
  }

  /** Walks the scored rows in LM-head chunks; each chunk's logits buffer is a view of the cache when caching. */
  private headChunks(
    R: number,
    ws: Workspace,
    cached: boolean,
    body: (r0: number, n: number, logits: Float32Array) => void,
  ): void {
    const V = this.config.vocabSize,
      step = chunkRows(V, this.headChunkFloats);
    const buf = cached ? ws.get("head.logits", R * V) : ws.get("head.chunk", Math.min(step, R) * V);
    for (let r0 = 0; r0 < R; r0 += step) {
      const n = Math.min(step, R - r0);
      body(r0, n, cached ? buf.subarray(r0 * V, (r0 + n) * V) : buf.subarray(0, n * V));
    }
  }

  /**
   * Reverse pass: adds d(loss)/d(param) into grads (from newGrads()) given d(loss)/d(tokenLogps[t]) per sequence.
   */
  backward(state: ForwardState, callerDLogps: readonly ArrayLike<number>[], grads: Params): void {
    const be = this.backend,
      c = this.config,
      C = c.hiddenSize,
      V = c.vocabSize,
      ws = this.trainWs;
    if (state.generation !== this.generation)
      throw new Error("backward: this forward state is stale (forward({forBackward}) ran again since)");
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
      dLogits = ws.get("grad.logits", Math.min(chunkRows(V, this.headChunkFloats), R) * V);
    const hRows = state.final.hRows;
    this.headChunks(R, ws, state.logitsCached, (r0, n, logits) => {
      if (!state.logitsCached) be.matmul(logits, hRows.subarray(r0 * C), this.lmHead, n, V, C, { transB: true });
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
        this.lmHead,
        n,
        V,
        C,
        { transB: true },
      );
    });
    const dh = ws.zeros("grad.h", T * C);
    // Continuations of one prefix share the row that predicts their first token: add, don't overwrite.
    for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) dh[state.rows[i] * C + j] += dhRows[i * C + j];
    this.backwardTrunk(state, dh, grads);
  }

  /** From d(loss)/d(final-norm output) (T, C) down through the final norm, every layer and the embedding. */
  private backwardTrunk(state: TrunkState, dh: Float32Array, grads: Params): void {
    const be = this.backend,
      c = this.config,
      C = c.hiddenSize,
      T = state.ids.length,
      lc = layerConfig(c),
      ws = this.trainWs;
    let dx = ws.zeros("grad.x0", T * C);
    be.rmsnormBackward(
      dx,
      grads.get("model.norm.weight") ?? null,
      dh,
      state.final.x,
      this.params.get("model.norm.weight")!,
      state.final.rstd,
      T,
      C,
    );
    for (let l = c.numLayers - 1; l >= 0; l--) {
      const dPrev = ws.zeros(`grad.x${(c.numLayers - l) % 2}`, T * C),
        w = layerWeights(this.weights, l, c.qkvBias),
        lora = layerLora(this.params, l, this.lora);
      const acts = state.inputs
        ? layerForward(be, lc, w, state.inputs[l], state.io, ws.scope(RECOMPUTE_TAG, false), lora).acts
        : state.acts[l];
      layerBackward(
        be,
        lc,
        w,
        acts,
        state.io,
        dx,
        dPrev,
        layerWeights(grads, l, c.qkvBias),
        ws.scope("grad.layer", true),
        lora,
        layerLoraGrads(grads, l, this.lora),
      );
      dx = dPrev;
    }
    const dEmbed = grads.get("model.embed_tokens.weight");
    if (dEmbed) be.embeddingBackward(dEmbed, dx, state.ids, T, C);
  }
}
