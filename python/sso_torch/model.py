"""The decoder the torch trainer trains: transformers' AutoModelForCausalLM when it imports, else a compact
Llama/Mistral/Qwen2 module with Hugging Face's math and parameter names (RMSNorm, rotate_half RoPE with linear or
llama3 scaling, repeat_kv GQA, causal softmax attention, SwiGLU MLP, q/k/v bias for Qwen2, tied or untied head).
The functional pieces (inv_freq, rms_norm, rotate_half) are shared with tools/make_golden.py, the float64 twin of
src/model/ that writes the golden fixtures. Also here: per-sequence response log-prob sums of a right-padded
batch. Not here: the objective, the optimizer, distribution.
"""
import json
import math
import os

import torch
from torch import nn

from . import safetensors


def head_dim(c):
    return c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]


def inv_freq(c):
    """transformers' rope init: fp32 default frequencies, then the linear or llama3 rule."""
    hs = head_dim(c)
    f = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, hs, 2, dtype=torch.int64).float() / hs))
    rs = c.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "linear":
        f = f / rs["factor"]
    elif kind == "llama3":
        factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / f
        f_llama = torch.where(wavelen > low_wavelen, f / factor, f)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * f_llama / factor + smooth * f_llama
        is_medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        f = torch.where(is_medium, smoothed, f_llama)
    return f


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(n)), eps

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, c, linear):
        super().__init__()
        C, hs, bias = c["hidden_size"], head_dim(c), c["model_type"] == "qwen2"
        self.nh, self.nkv, self.hs = c["num_attention_heads"], c.get("num_key_value_heads", c["num_attention_heads"]), hs
        self.q_proj = linear(C, self.nh * hs, bias)
        self.k_proj = linear(C, self.nkv * hs, bias)
        self.v_proj = linear(C, self.nkv * hs, bias)
        self.o_proj = linear(self.nh * hs, C, False)

    def forward(self, h, cos, sin, past=None):
        """h (B, T, C) at positions P.. after past = (k, v) of P earlier positions (B, NKV, P, HS) or None; returns
        the output and this call's (k, v) (a prefix's keys and values, for bench/train_torch.py's shared prompts)."""
        B, T, _ = h.shape
        q = self.q_proj(h).view(B, T, self.nh, self.hs).transpose(1, 2)
        k = self.k_proj(h).view(B, T, self.nkv, self.hs).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.nkv, self.hs).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        kv, P = (k, v), 0
        if past is not None:
            P = past[0].shape[2]
            k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
        k, v = k.repeat_interleave(self.nh // self.nkv, dim=1), v.repeat_interleave(self.nh // self.nkv, dim=1)
        mask = torch.full((T, T), float("-inf"), dtype=q.dtype, device=q.device).triu(1)
        if P:
            mask = torch.cat((torch.zeros(T, P, dtype=q.dtype, device=q.device), mask), dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.hs) + mask, dim=-1)
        return self.o_proj((att @ v).transpose(1, 2).reshape(B, T, self.nh * self.hs)), kv


class MLP(nn.Module):
    def __init__(self, c, linear):
        super().__init__()
        C, FF = c["hidden_size"], c["intermediate_size"]
        self.gate_proj, self.up_proj, self.down_proj = linear(C, FF, False), linear(C, FF, False), linear(FF, C, False)

    def forward(self, h):
        return self.down_proj(nn.functional.silu(self.gate_proj(h)) * self.up_proj(h))


class Layer(nn.Module):
    def __init__(self, c, linear):
        super().__init__()
        eps = c.get("rms_norm_eps", 1e-6)
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(c["hidden_size"], eps), RMSNorm(c["hidden_size"], eps)
        self.self_attn, self.mlp = Attention(c, linear), MLP(c, linear)

    def forward(self, x, cos, sin, past=None):
        a, kv = self.self_attn(self.input_layernorm(x), cos, sin, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), kv


class Decoder(nn.Module):
    def __init__(self, c, linear):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c, linear) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c.get("rms_norm_eps", 1e-6))


class CausalLM(nn.Module):
    """The built-in model: model.* and lm_head.weight as in Hugging Face (lm_head is embed_tokens when tied).
    linear(in, out, bias) makes each attention and MLP Linear (default nn.Linear; bench/train_torch.py makes
    frozen BF16 ones as each layer is built)."""

    def __init__(self, c, linear=None):
        super().__init__()
        self.c, self.model = c, Decoder(c, linear or (lambda i, o, bias: nn.Linear(i, o, bias=bias)))
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        if c.get("tie_word_embeddings", False):
            self.lm_head.weight = self.model.embed_tokens.weight
        self.register_buffer("inv_freq", inv_freq(c), persistent=False)
        self.gradient_checkpointing = False

    def forward(self, ids):
        return self.lm_head(self.hidden(ids, recompute=self.gradient_checkpointing and self.training)[0])

    def hidden(self, ids, past=None, recompute=False):
        """Final-norm hidden states of ids (B, T) at positions P.. after past (per layer (k, v) of P positions), and
        each layer's (k, v) of these positions. With recompute, each layer is a checkpoint."""
        T, P = ids.shape[1], 0 if past is None else past[0][0].shape[2]
        ang = torch.outer(torch.arange(P, P + T, dtype=torch.float64, device=ids.device), self.inv_freq.double())
        emb = torch.cat((ang, ang), dim=-1)
        dt = self.model.embed_tokens.weight.dtype
        cos, sin = emb.cos().to(dt), emb.sin().to(dt)
        x, kvs = self.model.embed_tokens(ids), []
        for i, layer in enumerate(self.model.layers):
            p = None if past is None else past[i]
            if recompute:
                x, kv = torch.utils.checkpoint.checkpoint(layer, x, cos, sin, p, use_reentrant=False)
            else:
                x, kv = layer(x, cos, sin, p)
            kvs.append(kv)
        return self.model.norm(x), kvs


def build(folder, which="auto"):
    """(module, 'transformers' | 'builtin') for the config.json in folder, weights not loaded yet."""
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    if which in ("auto", "transformers"):
        try:
            from transformers import AutoConfig, AutoModelForCausalLM

            m = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder), torch_dtype=torch.float32)
            return m, "transformers"
        except ImportError:
            if which == "transformers":
                raise ImportError("train.torch.model: transformers is not importable (pip install transformers)") from None
    return CausalLM(c), "builtin"


def load_weights(module, folder, tied):
    """Loads a folder's safetensors into the module by Hugging Face name (a tied lm_head follows the embedding)."""
    tensors = safetensors.read_folder(folder)
    state = module.state_dict()
    missing = [k for k in state if k not in tensors and not (tied and k == "lm_head.weight") and "rotary" not in k]
    if missing:
        raise ValueError(f"{folder}: missing tensor {missing[0]}")
    with torch.no_grad():
        for k, v in state.items():
            if k in tensors:
                if tuple(tensors[k].shape) != tuple(v.shape):
                    raise ValueError(f"{folder}: tensor {k} has shape {list(tensors[k].shape)}, expected {list(v.shape)}")
                v.copy_(tensors[k])


def logits_of(module, ids):
    out = module(ids)
    return out if isinstance(out, torch.Tensor) else out.logits


def response_logp_sums(module, seqs, device):
    """Sum of log p(ids[t] | ids[<t]) over t in [score_from, n) per sequence (ids, score_from), right-padded."""
    T = max(len(ids) for ids, _ in seqs)
    batch = torch.zeros((len(seqs), T), dtype=torch.long)
    keep = torch.zeros((len(seqs), T - 1), dtype=torch.bool)
    for i, (ids, start) in enumerate(seqs):
        batch[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        keep[i, start - 1 : len(ids) - 1] = True
    batch, keep = batch.to(device), keep.to(device)
    logp = torch.log_softmax(logits_of(module, batch)[:, :-1].float(), dim=-1)
    tok = logp.gather(2, batch[:, 1:, None])[..., 0]
    return torch.where(keep, tok, torch.zeros_like(tok)).sum(1)
