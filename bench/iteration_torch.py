#!/usr/bin/python3
"""PyTorch CPU twin of `npm run bench -- iteration` (bench/iteration.ts): one SSO iteration's model work on the shapes
our run produced, with bench/train_torch.py's model (python/sso_torch's decoder, a frozen BF16 base converted to fp32
per product, LoRA by hand on the seven linear modules):

  select  greedy decoding of the feature-selection prompts (one batch, KV cache), select_new tokens each
  sample  y+ ~ pi(.|x+), y- ~ pi(.|x-), y° ~ pi(.|x): three generate calls (one per prompt variant, a batch of the
          records each) with a KV cache, temperature and top-p sampling as Hugging Face's generate does it
  score   the seven (variant, response) pairs' log-prob sums without gradients, each prompt computed once for its
          responses (as our scoring shares a batch's prompts)
  train   the sso preset's six sequences per record, shared prompts, one AdamW step per batch_size records
  merge   W + s·B·A into bf16 and written to a file (torch.save), as `sso iterate` merges and saves the policy

The base is held fp32 by default (torch at its fastest here: twice our memory; torch 1.13's CPU bf16 products run at
~0.4 GFLOPS) or, with "base": "bf16", bf16 converted to fp32 per product as bench/train_torch.py does (our memory, but
every decoding step converts every weight). Prompts of a batch get the batch's mean length (the model has no padding mask; the total prefill is the same).
Prints one JSON line: seconds, tokens and tokens/s per stage, records/hour, peak RSS.
"""
import json
import os
import resource
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_torch import Frozen16Linear, LoraLinear, make_model, to_lora  # noqa: E402  the existing twin's pieces


def main(spec):
    c, w = spec["config"], spec["work"]
    n, V = w["records"], c["vocab_size"]
    t_start = time.perf_counter()
    torch.manual_seed(0)
    model = make_model(c, frozen16=spec.get("base") == "bf16")
    to_lora(model, spec["lora"]["r"], spec["lora"]["alpha"])
    head = model.lm_head.w.float() if isinstance(model.lm_head, Frozen16Linear) else model.lm_head.weight
    g = torch.Generator().manual_seed(1)
    ids = lambda *shape: torch.randint(0, V, shape, generator=g)
    seconds, tokens = {"other": time.perf_counter() - t_start}, {}

    def timed(name, fn):
        t0 = time.perf_counter()
        tokens[name] = fn()
        seconds[name] = time.perf_counter() - t0
        # As it goes (stderr): a slow twin shows how far it got before any limit stops it.
        print(f"  twin {name}: {seconds[name]:.1f} s, {tokens[name]} tokens", file=sys.stderr, flush=True)

    def generate(P, new, temperature, top_p):
        """n prompts of P tokens, `new` tokens each with a KV cache; returns the tokens generated."""
        with torch.no_grad():
            h, past = model.hidden(ids(n, round(P)))
            logits = h[:, -1] @ head.T
            for t in range(new):
                if temperature == 0:
                    tok = logits.argmax(-1)
                else:  # Hugging Face's TopPLogitsWarper after the temperature
                    sl, si = torch.sort(logits / temperature, descending=True)
                    drop = sl.softmax(-1).cumsum(-1) > top_p
                    drop[:, 1:] = drop[:, :-1].clone()
                    drop[:, 0] = False
                    sl[drop] = float("-inf")
                    tok = si.gather(1, torch.multinomial(sl.softmax(-1), 1, generator=g)).squeeze(1)
                if t == new - 1:
                    break
                h, kv = model.hidden(tok.view(n, 1), past)
                past = [(torch.cat((a, k), 2), torch.cat((b, v), 2)) for (a, b), (k, v) in zip(past, kv)]
                logits = h[:, -1] @ head.T
        return n * new

    def logps(h, targets):
        return torch.log_softmax((h @ head.T).float(), -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)

    def variant_logps(P, k, R):
        """Σ log p(response | prompt) of n prompts × k responses, each prompt computed once (shared)."""
        prompt, resp = ids(n, P), ids(n, k, R).view(n * k, R)
        hp, kv = model.hidden(prompt, recompute=spec["recompute"])
        past = [(a.repeat_interleave(k, 0), b.repeat_interleave(k, 0)) for a, b in kv]
        hr, _ = model.hidden(resp, past, spec["recompute"])
        first = logps(hp[:, -1:].expand(n, k, -1).reshape(n * k, 1, -1), resp[:, :1])
        return torch.cat((first, logps(hr[:, :-1], resp[:, 1:])), 1).sum(1)

    P = {v: round(w["prompt"][v]) for v in ("plain", "pos", "neg")}
    R = round(w["response"])

    timed("select", lambda: generate(w["select_prompt"], w["select_new"], 0, 1))
    for name, v in (("sample_chosen", "pos"), ("sample_rejected", "neg"), ("sample_raw", "plain")):
        timed(name, lambda v=v: generate(P[v], w["sample_new"], w["temperature"], w["top_p"]))

    def score():
        with torch.no_grad():
            for v, k in (("plain", 2), ("pos", 2), ("neg", 3)):
                assert torch.isfinite(variant_logps(P[v], k, R)).all()
        return n * (2 * P["plain"] + 2 * P["pos"] + 3 * P["neg"] + 7 * R)

    timed("score", score)

    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=spec["lr"], betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)

    def train():
        for _ in range(0, n, spec["batch_size"]):
            opt.zero_grad(set_to_none=True)
            for v in ("plain", "pos", "neg"):
                coef = torch.linspace(-1, 1, n * 2) / (n * 6)
                (coef * variant_logps(P[v], 2, R)).sum().backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
        return n * (2 * P["plain"] + 2 * P["pos"] + 2 * P["neg"] + 6 * R)

    timed("train", train)

    def merge():
        state = {}
        with torch.no_grad():
            for name, m in model.named_modules():
                if isinstance(m, LoraLinear):
                    w = m.base.w if isinstance(m.base, Frozen16Linear) else m.base.weight
                    state[name] = (w.float() + m.scale * (m.B @ m.A)).to(torch.bfloat16)
        fd, path = tempfile.mkstemp(suffix=".pt")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
        finally:
            os.remove(path)
        return 0

    timed("merge", merge)
    seconds["sample"] = sum(seconds[k] for k in seconds if k.startswith("sample_"))
    tokens["sample"] = sum(tokens[k] for k in tokens if k.startswith("sample_"))
    total = time.perf_counter() - t_start
    out = {
        "records": n,
        "total_s": round(total, 1),
        "records_per_hour": round(3600 * n / total, 1),
        **{f"{k}_s": round(s, 1) for k, s in seconds.items()},
        **{f"{k}_tok_s": round(tokens[k] / seconds[k], 1) for k in tokens if tokens[k]},
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
