// The decoder model: embedding → layers → final RMSNorm (the trunk, trunk.ts) with its heads — the LM head's
// scored log-probs and their reverse pass for training and scoring, and generation's logits of chosen rows
// (lm-head.ts); one chosen row's hidden state per sequence for reward models (rows.ts). `Model` is the trunk with
// those passes as methods, the one object the rest of the code holds. Packing a batch is pack.ts; loading and
// saving folders is folder.ts; sampling with a KV cache is not here.
import type { Panels } from "../tensor/dtype.js";
import type { LayerInputs } from "./layer.js";
import {
  backwardScored,
  type ForwardOptions,
  type ForwardState,
  forwardScored,
  HEAD_CHUNK_FLOATS,
  LOGITS_CACHE_FLOATS,
  logitsOfRows,
  type SequenceOutput,
} from "./lm-head.js";
import type { SequenceInput } from "./pack.js";
import type { Params } from "./params.js";
import { backwardRows, forwardRows, type RowsState } from "./rows.js";
import { Trunk } from "./trunk.js";

export {
  chunkRows,
  type ForwardState,
  HEAD_CHUNK_FLOATS,
  LOGITS_CACHE_FLOATS,
  type SequenceOutput,
} from "./lm-head.js";
export type { SequenceInput } from "./pack.js";
export type { RowsState } from "./rows.js";

export class Model extends Trunk {
  /** The LM head's chunk and cache sizes (floats); tests lower them to walk several chunks and the recompute path. */
  headChunkFloats = HEAD_CHUNK_FLOATS;
  logitsCacheFloats = LOGITS_CACHE_FLOATS;

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
    opts: ForwardOptions = {},
  ): { outputs: SequenceOutput[]; state?: ForwardState } {
    return forwardScored(this, input, opts);
  }

  /** Reverse pass: adds d(loss)/d(param) into grads (from newGrads()) given d(loss)/d(tokenLogps[t]) per sequence. */
  backward(state: ForwardState, dLogps: readonly ArrayLike<number>[], grads: Params): void {
    backwardScored(this, state, dLogps, grads);
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
    return forwardRows(this, seqs, opts);
  }

  /** Reverse pass of forwardRows: adds d(loss)/d(param) into grads given d(loss)/d(hidden) (S, C). */
  backwardRows(state: RowsState, dHidden: Float32Array, grads: Params): void {
    backwardRows(this, state, dHidden, grads);
  }

  /**
   * The generation path: packed tokens through the model with io's attention (usually io.attend over a KV cache),
   * returning the logits of the given packed rows as a fresh (rows.length, V) array.
   */
  logitsOfRows(ids: Int32Array, io: LayerInputs, rows: Int32Array, head?: Panels): Float32Array {
    return logitsOfRows(this, ids, io, rows, head);
  }
}
