#!/usr/bin/python3
"""PyTorch CPU baseline for `npm run bench -- train`: the same decoder models (Hugging Face Llama/Qwen2 math, eager
attention as transformers computes it without SDPA), the same batch, and the same step (forward, mean next-token
cross-entropy, backward, clip_grad_norm_(1.0), AdamW), in float32 on 2 threads. Prints one JSON line:
{config name: median ms per step}. Invoked by bench/train.ts with the configs as a JSON argument.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)


class Model(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        C, V, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
        self.NH, self.NKV = c["num_attention_heads"], c["num_key_value_heads"]
        self.HS = C // self.NH
        qd, kvd, FF = self.NH * self.HS, self.NKV * self.HS, c["intermediate_size"]
        bias = c["model_type"] == "qwen2"
        lin = lambda i, o, b=False: torch.nn.Linear(i, o, bias=b)
        self.embed = torch.nn.Embedding(V, C)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            layer = torch.nn.Module()
            layer.ln1, layer.ln2 = torch.nn.Parameter(torch.ones(C)), torch.nn.Parameter(torch.ones(C))
            layer.q, layer.k, layer.v, layer.o = lin(C, qd, bias), lin(C, kvd, bias), lin(C, kvd, bias), lin(qd, C)
            layer.gate, layer.up, layer.down = lin(C, FF), lin(C, FF), lin(FF, C)
            self.layers.append(layer)
        self.norm = torch.nn.Parameter(torch.ones(C))
        self.head = None if c.get("tie_word_embeddings") else lin(C, V)
        inv = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, self.HS, 2).float() / self.HS))
        self.register_buffer("inv_freq", inv)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)

    @staticmethod
    def rms(x, w, eps=1e-6):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    @staticmethod
    def rotate_half(x):
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), dim=-1)

    def forward(self, ids):
        B, T = ids.shape
        x = self.embed(ids)
        freqs = torch.outer(torch.arange(T, dtype=torch.float32), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in self.layers:
            h = self.rms(x, l.ln1)
            q = l.q(h).view(B, T, self.NH, self.HS).transpose(1, 2)
            k = l.k(h).view(B, T, self.NKV, self.HS).transpose(1, 2)
            v = l.v(h).view(B, T, self.NKV, self.HS).transpose(1, 2)
            q, k = q * cos + self.rotate_half(q) * sin, k * cos + self.rotate_half(k) * sin
            k, v = k.repeat_interleave(self.NH // self.NKV, dim=1), v.repeat_interleave(self.NH // self.NKV, dim=1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.HS) + mask, dim=-1)
            x = x + l.o((att @ v).transpose(1, 2).reshape(B, T, -1))
            h = self.rms(x, l.ln2)
            x = x + l.down(F.silu(l.gate(h)) * l.up(h))
        x = self.rms(x, self.norm)
        return x @ self.embed.weight.T if self.head is None else self.head(x)


def bench(c, batch, seq_len, steps):
    torch.manual_seed(0)
    model = Model(c)
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


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    print(json.dumps({name: bench(c, spec["batch"], spec["seqLen"], spec["steps"]) for name, c in spec["configs"].items()}))
