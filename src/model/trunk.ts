// The decoder's trunk: the weights (fp32 params, 16-bit frozen matrices, an attached LoRA adapter), the two
// workspaces, and the two passes every head shares — embedding → layers → final RMSNorm over packed tokens
// (`hidden`), and its reverse from d(loss)/d(final-norm output) down to every unfrozen parameter's gradient
// (`backwardTrunk`). The heads on top are separate modules: lm-head.ts (the LM head: training, scoring and
// generation logits) and rows.ts (one chosen row per sequence: reward models); model.ts puts them together as
// `Model`. `hidden`, `backwardTrunk`, the workspaces and `generation` are for those modules, not for callers.
// Frozen matrices may be 16-bit (`halves`, from a BF16/F16 folder loaded for inference): they are read as they are,
// never widened into a copy, and get no gradient.
import type { Backend } from "../backends/backend.js";
import type { Half, Weight } from "../tensor/dtype.js";
import { Workspace } from "../tensor/workspace.js";
import type { ModelConfig } from "./config.js";
import { ropeInvFreq } from "./config.js";
import { type LayerActivations, type LayerInputs, layerBackward, layerForward } from "./layer.js";
import { type AttachedLora, layerLora, layerLoraGrads } from "./lora-math.js";
import { frozenMatcher, layerConfig, layerWeights, type Params } from "./params.js";

/** What the trunk's reverse pass (below the final norm's output) needs from a forward. */
export interface TrunkState {
  ids: Int32Array;
  io: LayerInputs;
  acts: LayerActivations[]; // every layer's activations; empty with recomputation
  /** With recomputation: each layer's input (layer l reads inputs[l]); backward recomputes the layer from it. */
  inputs?: Float32Array[];
  final: { x: Float32Array; rstd: Float32Array };
  generation: number; // which forward({forBackward}) produced it
}

/** The one set of layer buffers that recomputation reuses, in forward and in backward. */
const RECOMPUTE_TAG = "recompute";

export class Trunk {
  readonly invFreq: Float32Array;
  private isFrozen: (name: string) => boolean = () => false;
  /** Buffers of the forward-for-backward and backward passes; their state is valid until the next such forward. */
  readonly trainWs = new Workspace();
  /** Buffers of inference forwards (scoring, generation). */
  readonly inferWs = new Workspace();
  /** Counts forwards for backward; a state from an older one is stale (see checkFresh). */
  generation = 0;
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

  /** The workspace of a forward, moving to a new generation when it is for backward. */
  forwardWorkspace(forBackward: boolean | undefined): Workspace {
    if (!forBackward) return this.inferWs;
    this.generation++;
    return this.trainWs;
  }

  /** Throws unless the state comes from the latest forward for backward. */
  checkFresh(state: TrunkState, what: string): void {
    if (state.generation !== this.generation)
      throw new Error(`${what}: this forward state is stale (a forward for backward ran again since)`);
  }

  /**
   * Embedding, every layer and the final norm over packed tokens. Training keeps each layer's activations in its
   * own buffers ("all"), or only each layer's input with one reused set of activations ("inputs", recomputation).
   * Inference ("none") gives every layer the same set and copies each layer's output back into the embedding's
   * buffer (its input, consumed by then): one layer's activations in memory instead of two (161 KB per token at
   * Qwen2.5-1.5B's shape), for a T×C copy per layer.
   */
  hidden(
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

  /** From d(loss)/d(final-norm output) (T, C) down through the final norm, every layer and the embedding. */
  backwardTrunk(state: TrunkState, dh: Float32Array, grads: Params): void {
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
