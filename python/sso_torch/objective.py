"""The SSO objective, a line-by-line port of src/sso/objective.ts (the source of truth): per record the base
preference losses (IPO on per-token averages, DPO on sums), the self-steering composition with every option of
ObjectiveConfig, and the exact derivative of the batch loss (the mean over records) with respect to each pair's
policy log-prob sum. Plain Python floats (IEEE doubles, as JavaScript numbers). The presets are resolved in
TypeScript (objectiveConfig) and arrive here as a full config, so they are defined once; an unknown or missing
config field is an error. Needs no torch: python/tests/test_objective_golden.py checks it against the fixture
TypeScript writes (test/fixtures/golden/objective.json).
"""
import math


def sigmoid(x):
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def softplus(x):
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _ipo(h, beta):
    d = h - 1 / (2 * beta)
    return d * d, 2 * d


def _dpo(h, beta):
    return softplus(-beta * h), -beta * sigmoid(-beta * h)


BASE_LOSSES = {"ipo": _ipo, "dpo": _dpo}
PARTS = ("L", "G", "W", "L_pos", "L_neg", "sft")
# ObjectiveConfig's fields (src/sso/objective.ts); a field TypeScript adds must be ported here before it is read.
CONFIG_FIELDS = ("base", "beta", "theta", "alpha", "useWeight", "weightScope", "detachWeight", "steering", "gamma", "generator")


def check_config(c):
    for k in c:
        if k not in CONFIG_FIELDS:
            raise ValueError(f"objective: unknown config field {k} (the Python port knows {', '.join(CONFIG_FIELDS)})")
    for k in CONFIG_FIELDS:
        if k not in c:
            raise ValueError(f"objective: config field {k} is missing")


def record_objective(r, c):
    """One record's loss, parts and dLoss/d(policy logp) per pair; r maps pair -> {policy, ref, n}."""

    def get(p):
        v = r.get(p)
        if v is None:
            raise ValueError(f"objective: record lacks the {p} log-probs this configuration needs")
        if not v["n"] > 0:
            raise ValueError(f"objective: {p} has {v['n']} response tokens")
        return v

    grads = {}

    def add_grad(p, g):
        grads[p] = grads.get(p, 0) + g

    avg = c["base"] == "ipo"

    def pref(w, l, k):
        pw, pl = get(w), get(l)
        sw, sl = (1 / pw["n"], 1 / pl["n"]) if avg else (1, 1)
        h = (pw["policy"] - pw["ref"]) * sw - (pl["policy"] - pl["ref"]) * sl
        loss, dh = BASE_LOSSES[c["base"]](h, c["beta"])
        add_grad(w, k * dh * sw)
        add_grad(l, -k * dh * sl)
        return loss

    def sft(p, k):
        v = get(p)
        add_grad(p, -k / v["n"])
        return -v["policy"] / v["n"]

    gamma = c["gamma"]
    if c["generator"]:
        L_pos, L_neg = pref("pos_chosen", "pos_rejected", 1), pref("neg_raw", "neg_chosen", 1)
        s = sft("pos_chosen", gamma) + sft("neg_raw", gamma) if gamma > 0 else 0
        parts = {"L": 0, "G": L_pos + L_neg, "W": 1, "L_pos": L_pos, "L_neg": L_neg, "sft": s}
        return L_pos + L_neg + gamma * s, parts, grads
    if c["useWeight"]:
        pc, pr = get("x_chosen"), get("x_rejected")
        W = sigmoid(-(c["alpha"] * (pc["policy"] / pc["n"]) + (1 - c["alpha"]) * (pr["policy"] / pr["n"])))
    else:
        W = 1
    scope_all = c["weightScope"] == "all"
    kL, kG = (W if scope_all else 1), W * c["theta"]
    L = pref("x_chosen", "x_rejected", kL)
    L_pos = L_neg = 0
    if c["steering"] != "none":
        L_pos = pref("pos_chosen", "pos_rejected", kG)
        if c["steering"] == "sso":
            L_neg = pref("neg_raw", "neg_chosen", kG)
        else:
            L_neg = pref("neg_rejected", "neg_chosen", kG)
    G = L_pos + L_neg
    s = sft("x_chosen", gamma) if gamma > 0 else 0
    weighted = L + c["theta"] * G if scope_all else c["theta"] * G
    loss = (W * weighted if scope_all else L + W * weighted) + gamma * s
    if c["useWeight"] and not c["detachWeight"]:
        dW = weighted * -W * (1 - W)
        pc, pr = get("x_chosen"), get("x_rejected")
        add_grad("x_chosen", (dW * c["alpha"]) / pc["n"])
        add_grad("x_rejected", (dW * (1 - c["alpha"])) / pr["n"])
    return loss, {"L": L, "G": G, "W": W, "L_pos": L_pos, "L_neg": L_neg, "sft": s}, grads


def sso_objective(records, c):
    """The batch objective: (mean loss, mean parts, per-record {pair: d(batch loss)/d(policy logp)})."""
    if not records:
        raise ValueError("objective: empty batch")
    check_config(c)
    N = len(records)
    parts = {k: 0.0 for k in PARTS}
    loss, grads = 0.0, []
    for r in records:
        l, p, g = record_objective(r, c)
        loss += l / N
        for k in PARTS:
            parts[k] += p[k] / N
        grads.append({q: v / N for q, v in g.items()})
    return loss, parts, grads
