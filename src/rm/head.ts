// A reward model's head and loss, as pure functions: where a sequence is pooled (transformers' rule for
// `*ForSequenceClassification`: the rightmost token that is not pad_token_id), the linear score head
// r = score · h (no bias) with its backward, and the Bradley–Terry pair loss with its exact derivatives.
// No model and no trainer here (reward.ts runs the decoder; train.ts the loop).
import { sigmoid } from "../eval/stats.js";

/**
 * The pooled row of a sequence as transformers picks it: the rightmost index whose id is not padId (index 0
 * when every id is padding), or the last index when the config has no pad_token_id.
 */
export function poolRow(ids: ArrayLike<number>, padId: number | undefined): number {
  if (padId === undefined) return ids.length - 1;
  for (let t = ids.length - 1; t >= 0; t--) if (ids[t] !== padId) return t;
  return 0;
}

/** rewards (S) = hidden (S, C) · scoreᵀ, summed in float64 in index order, so a row's reward never depends on S. */
export function scoreForward(hidden: ArrayLike<number>, score: ArrayLike<number>, S: number, C: number): Float64Array {
  const r = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    let acc = 0;
    for (let c = 0; c < C; c++) acc += hidden[s * C + c] * score[c];
    r[s] = acc;
  }
  return r;
}

/** Backward of scoreForward: dHidden (S, C) = dr ⊗ score (overwritten); dScore (C) += Σ_s dr[s]·hidden[s]. */
export function scoreBackward(
  dHidden: Float32Array | Float64Array,
  dScore: Float32Array | Float64Array | null,
  dr: ArrayLike<number>,
  hidden: ArrayLike<number>,
  score: ArrayLike<number>,
  S: number,
  C: number,
): void {
  for (let s = 0; s < S; s++) for (let c = 0; c < C; c++) dHidden[s * C + c] = dr[s] * score[c];
  if (!dScore) return;
  for (let c = 0; c < C; c++) {
    let acc = 0;
    for (let s = 0; s < S; s++) acc += dr[s] * hidden[s * C + c];
    dScore[c] += acc;
  }
}

export interface PairLoss {
  loss: number;
  /** d loss / d r_chosen */
  dChosen: number;
  /** d loss / d r_rejected */
  dRejected: number;
}

/** log(1 + e^x) without overflow. */
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/**
 * Bradley–Terry: −log σ(r_w − r_l − margin) (TRL's RewardTrainer, margin column included), plus the reward
 * centering term center·(r_w + r_l)² (TRL's center_rewards_coefficient, Eisenstein et al. 2023).
 */
export function bradleyTerry(rChosen: number, rRejected: number, margin = 0, center = 0): PairLoss {
  const d = rChosen - rRejected - margin,
    sum = rChosen + rRejected;
  const g = -sigmoid(-d); // d/dd of softplus(−d)
  return {
    loss: softplus(-d) + center * sum * sum,
    dChosen: g + 2 * center * sum,
    dRejected: -g + 2 * center * sum,
  };
}
