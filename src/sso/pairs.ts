// The seven (prompt variant, response) pairs of an SSO record (METHOD.md §2.4, §3), defined once. Every other place
// derives from this table: the record's reference columns (record.ts), what synthesis scores (stages.ts), what the
// objective reads (objective.ts) and what the trainer forwards (train.ts).
//   prompt variants: plain = x (no system message), pos = x+ (good principles), neg = x- (bad principles)
//   responses:       chosen = y+ (sampled from x+), rejected = y- (from x-), raw = y° (from x)
// Only the table and its vocabulary here: no tokenisation, no model.

export const VARIANTS = ["plain", "pos", "neg"] as const;
export type Variant = (typeof VARIANTS)[number];

export const RESPONSES = ["chosen", "rejected", "raw"] as const;
export type Response = (typeof RESPONSES)[number];

/** One value per prompt variant / per response. */
export type PerVariant<T> = Record<Variant, T>;
export type PerResponse<T> = Record<Response, T>;

/** The prompt variant each response is sampled from. */
export const SAMPLED_FROM: PerResponse<Variant> = { chosen: "pos", rejected: "neg", raw: "plain" };

/** The record field holding a variant's system message (the plain prompt has none). */
export const SYSTEM_FIELD = { plain: null, pos: "system_pos", neg: "system_neg" } as const satisfies PerVariant<
  string | null
>;

/** Each pair's prompt variant, response and the record column with its reference log-prob sum. */
export const PAIRS = {
  x_chosen: { variant: "plain", response: "chosen", ref: "ref_chosen_logps" },
  x_rejected: { variant: "plain", response: "rejected", ref: "ref_rejected_logps" },
  pos_chosen: { variant: "pos", response: "chosen", ref: "ref_pos_chosen_logps" },
  pos_rejected: { variant: "pos", response: "rejected", ref: "ref_pos_rejected_logps" },
  neg_chosen: { variant: "neg", response: "chosen", ref: "ref_neg_chosen_logps" },
  neg_rejected: { variant: "neg", response: "rejected", ref: "ref_neg_rejected_logps" },
  neg_raw: { variant: "neg", response: "raw", ref: "ref_neg_raw_logps" },
} as const satisfies Record<string, { variant: Variant; response: Response; ref: string }>;

export type Pair = keyof typeof PAIRS;
/** The pairs in table order (the order of the record's reference columns). */
export const PAIR_NAMES = Object.keys(PAIRS) as Pair[];

export type RefColumn = (typeof PAIRS)[Pair]["ref"];
export const REF_COLUMNS: RefColumn[] = PAIR_NAMES.map((p) => PAIRS[p].ref);

/** The record field with a response's token count as scored. */
export const countColumn = <R extends Response>(r: R): `${R}_n_tokens` => `${r}_n_tokens`;

const SYMBOL: PerVariant<string> & PerResponse<string> = {
  plain: "x",
  pos: "x+",
  neg: "x-",
  chosen: "y+",
  rejected: "y-",
  raw: "y°",
};

/** The pair in the paper's notation, e.g. "(x+, y-)". */
export const pairLabel = (p: Pair): string => `(${SYMBOL[PAIRS[p].variant]}, ${SYMBOL[PAIRS[p].response]})`;
