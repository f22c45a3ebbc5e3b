#!/usr/bin/python3
"""PyTorch CPU baseline for `npm run bench -- train`: the same decoder models (python/sso_torch/model.py's CausalLM:
Hugging Face Llama/Qwen2 math, eager attention as transformers computes it without SDPA), the same batch, and the same step (forward, mean next-token
cross-entropy, backward, clip_grad_norm_(1.0), AdamW), in float32 on 2 threads. Prints one JSON line:
{config name: median ms per step}. Invoked by bench/train.ts with the configs as a JSON argument.

With {"mode": "sso", ...} it is the twin of `npm run bench -- big` instead: SSO training steps on records shaped like
real ones (bench_sso below), full fine-tuning or LoRA by hand, prompts shared or not; with "score": true a scoring
pass on the bf16 base (`sso score`'s work).
"""
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
import torch.utils.checkpoint

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from sso_torch.model import CausalLM  # noqa: E402  the torch trainer's decoder: one Python decoder

torch.set_num_threads(int(os.environ.get("SSO_BENCH_THREADS", "2")))


def make_model(c, frozen16=False):
    """python/sso_torch's decoder (CausalLM) with N(0, 0.02) weights. With frozen16 the model is a frozen BF16
    checkpoint's as `sso` holds it: each layer's linear weights are made bf16 (Frozen16Linear) as soon as that layer
    is built, so no fp32 copy of the whole model ever exists (the peak RSS is the run's, not the initialisation's);
    the embedding keeps bf16 values in fp32."""

    def lin(i, o, bias):
        m = torch.nn.Linear(i, o, bias=bias)
        torch.nn.init.normal_(m.weight, std=0.02)
        return Frozen16Linear(m) if frozen16 else m

    model = CausalLM(c, linear=lin)
    emb = model.model.embed_tokens.weight
    torch.nn.init.normal_(emb, std=0.02)
    if frozen16:
        emb.data = emb.data.to(torch.bfloat16).float()  # values as a bf16 checkpoint's
    if not c.get("tie_word_embeddings"):
        model.lm_head = lin(c["hidden_size"], c["vocab_size"], False)
    else:
        model.lm_head.weight = emb
    return model


def bench(c, batch, seq_len, steps):
    torch.manual_seed(0)
    model = make_model(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    ids = torch.randint(0, c["vocab_size"], (batch, seq_len))

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(ids)[:, :-1]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)[len(times) // 2]


class Bf16Linear(torch.autograd.Function):
    """x · Wᵀ with a frozen 16-bit W converted to fp32 per call, in forward and again in backward (no fp32 copy of W
    is kept: autograd saves the 16-bit tensor). torch 1.13's CPU bf16 matmul runs at ~0.4 GFLOPS, so the product
    itself is fp32."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(w)
        return x @ w.float().T

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g @ w.float(), None


class Frozen16Linear(torch.nn.Module):
    """A frozen linear layer whose weight is held bf16 (a buffer: no gradient, no optimizer state)."""

    def __init__(self, lin):
        super().__init__()
        self.register_buffer("w", lin.weight.detach().to(torch.bfloat16))
        self.register_buffer("b", None if lin.bias is None else lin.bias.detach().clone())

    def forward(self, x):
        y = Bf16Linear.apply(x, self.w)
        return y if self.b is None else y + self.b


class LoraLinear(torch.nn.Module):
    """LoRA by hand: y = base(x) + (alpha/r) · (x Aᵀ) Bᵀ with the base frozen (an fp32 Linear or a Frozen16Linear),
    A and B trainable."""

    def __init__(self, base, r, alpha):
        super().__init__()
        out_f, in_f = (base.w if isinstance(base, Frozen16Linear) else base.weight).shape
        self.base = base
        self.A = torch.nn.Parameter(torch.randn(r, in_f) / math.sqrt(in_f))
        self.B = torch.nn.Parameter(torch.randn(out_f, r) * 1e-3)  # PEFT starts at 0; nonzero so A gets gradients
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.A.T) @ self.B.T * self.scale


def to_lora(model, r, alpha):
    """Freezes everything and wraps every linear layer of attention and MLP in a LoraLinear."""
    for p in model.parameters():
        p.requires_grad_(False)
    for l in model.model.layers:
        for parent, name in [(l.self_attn, n) for n in ("q_proj", "k_proj", "v_proj", "o_proj")] + [(l.mlp, n) for n in ("gate_proj", "up_proj", "down_proj")]:
            setattr(parent, name, LoraLinear(getattr(parent, name), r, alpha))


def bench_sso(spec):
    """SSO training steps on synthetic records shaped like real ones: per record the sso preset's six sequences —
    x: y+, y-; x+: y+, y-; x-: y+, y° — with x = query tokens, x± = system + query tokens, each response `response`
    tokens. The LM head runs on the scored (response) rows only, as our engine does. The loss is Σ c·logp over the
    sequences with fixed coefficients (the objective itself is a scalar function of those sums: negligible work).
    Unshared: each sequence is prompt + response. Shared: each prompt is computed once and its responses attend to
    its keys/values (gradients from every response flow back into it). Prints one JSON line."""
    c, n, steps = spec["config"], spec["records"], spec["steps"]
    S, Q, R = spec["system"], spec["query"], spec["response"]
    torch.manual_seed(0)
    lora, score = spec.get("lora"), spec.get("score", False)
    # A bf16 base is frozen: LoRA's, or scoring's (inference). Full fine-tuning trains fp32 weights.
    model = make_model(c, frozen16=spec.get("base") == "bf16" and bool(lora or score))
    if lora:
        to_lora(model, lora["r"], lora.get("alpha", 2 * lora["r"]))
    if score:
        for p in model.parameters():
            p.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = trainable and torch.optim.AdamW(trainable, lr=1e-5, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    V, recompute, shared = c["vocab_size"], spec.get("recompute", False), spec.get("shared", False)
    g = torch.Generator().manual_seed(1)
    ids = lambda *shape: torch.randint(0, V, shape, generator=g)
    # Per variant: prompt length and how many responses; 2 + 2 + 2 = the six sequences.
    variants = [(Q, 2), (S + Q, 2), (S + Q, 2)]
    head = model.lm_head.w.float() if isinstance(model.lm_head, Frozen16Linear) else model.lm_head.weight  # frozen

    def logps(h, targets):
        logits = (h @ head.T).float()
        return torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)

    def variant_logps(prompt, resp, shared):
        """Σ log p(response | prompt) of n prompts (n, P) × k responses each (n, k, R), as (n, k)."""
        (n, P), k = prompt.shape, resp.shape[1]
        if shared:
            hp, kv = model.hidden(prompt, recompute=recompute)
            past = [(a.repeat_interleave(k, 0), b.repeat_interleave(k, 0)) for a, b in kv]
            hr, _ = model.hidden(resp.view(n * k, R), past, recompute)
            first = logps(hp[:, -1:].expand(n, k, -1).reshape(n * k, 1, -1), resp.view(n * k, R)[:, :1])
            rest = logps(hr[:, :-1], resp.view(n * k, R)[:, 1:])
            return torch.cat((first, rest), 1).sum(1).view(n, k)
        seq = torch.cat((prompt.unsqueeze(1).expand(n, k, P), resp), 2).view(n * k, P + R)
        h, _ = model.hidden(seq, recompute=recompute)
        return logps(h[:, P - 1 : -1], seq[:, P:]).sum(1).view(n, k)

    if spec.get("check"):
        # The shared path against the plain one on the same ids: log-probs and gradients.
        prompt, resp = ids(n, S + Q), ids(n, 2, R)
        out = {}
        for sh in (False, True):
            opt.zero_grad(set_to_none=True)
            lp = variant_logps(prompt, resp, sh)
            lp.sum().backward()
            out[sh] = (lp.detach(), [p.grad.clone() for p in trainable])
        print(
            json.dumps(
                {
                    "max_logp_diff": (out[False][0] - out[True][0]).abs().max().item(),
                    "max_grad_diff": max((a - b).abs().max().item() for a, b in zip(out[False][1], out[True][1])),
                    "max_grad": max(a.abs().max().item() for a in out[False][1]),
                }
            )
        )
        return

    if score:
        # One pass of the records' six sequences each, unshared, without gradients (what `sso score` computes).
        t0 = time.perf_counter()
        with torch.no_grad():
            for P, k in variants:
                lp = variant_logps(ids(n, P), ids(n, k, R), False)
                assert torch.isfinite(lp).all()
        sec = time.perf_counter() - t0
        tokens = n * sum(k * (P + R) for P, k in variants)
        print(
            json.dumps(
                {
                    "tokens_per_s": round(tokens / sec, 1),
                    "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
                    "threads": torch.get_num_threads(),
                }
            )
        )
        return

    def step():
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for P, k in variants:
            prompt, resp = ids(n, P), ids(n, k, R)
            coef = torch.linspace(-1, 1, n * k).view(n, k) / (n * 6)
            lp = variant_logps(prompt, resp, shared)
            loss = (coef * lp).sum()
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        return total

    step()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    sec = sorted(times)[len(times) // 2]
    tokens = n * sum(k * (P + R) for P, k in variants)
    print(
        json.dumps(
            {
                "params": sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers()),
                "trainable": sum(p.numel() for p in trainable),
                "records_per_step": n,
                "tokens_per_step": tokens,
                "s_per_step": round(sec, 3),
                "records_per_min": round(60 * n / sec, 3),
                "tokens_per_s": round(tokens / sec, 1),
                "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    if spec.get("mode") == "sso":
        bench_sso(spec)
    else:
        print(json.dumps({name: bench(c, spec["batch"], spec["seqLen"], spec["steps"]) for name, c in spec["configs"].items()}))
