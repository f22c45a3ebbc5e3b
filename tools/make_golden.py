#!/usr/bin/python3
"""Writes the golden-parity fixtures under test/fixtures/golden/: two tiny random decoder models as Hugging Face
folders (config.json + model.safetensors in F32) and, for a fixed batch of token sequences, the logits at every
position, the mean next-token cross-entropy, the gradient of that loss for every parameter, and the losses of
5 AdamW steps.

The model follows transformers' LlamaForCausalLM / Qwen2ForCausalLM math (RMSNorm, rotate_half RoPE with llama3
scaling, repeat_kv GQA, causal softmax attention, SwiGLU MLP, tied or untied LM head). transformers itself is not
installable here (only Debian's python3-torch is), so this is the independent (PyTorch) twin of src/model/.
Everything is computed in float64 from the float32 weights, so the goldens are the
exact answers our float32 engine is measured against. The decoder is python/sso_torch/model.py's CausalLM (the
torch trainer's model) in float64, so the twin and the trainer are one decoder. Run: /usr/bin/python3
tools/make_golden.py (SSO_GOLDEN_OUT=DIR writes elsewhere, e.g. to compare with the committed fixtures)
"""
import json
import math
import os
import struct

import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from sso_torch.model import CausalLM  # noqa: E402  the decoder the torch trainer trains
from torch.nn.utils.stateless import functional_call  # noqa: E402

OUT = os.environ.get("SSO_GOLDEN_OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "golden")

CONFIGS = {
    "tiny-llama": dict(
        model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=61, hidden_size=32, intermediate_size=72,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=8, hidden_act="silu",
        max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
        attention_bias=False, mlp_bias=False, initializer_range=0.02, torch_dtype="float32",
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=16),
        bos_token_id=1, eos_token_id=2),
    "tiny-qwen2": dict(
        model_type="qwen2", architectures=["Qwen2ForCausalLM"], vocab_size=83, hidden_size=48, intermediate_size=80,
        num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2, hidden_act="silu",
        max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
        use_sliding_window=False, sliding_window=None, initializer_range=0.02, torch_dtype="float32",
        bos_token_id=80, eos_token_id=81),
}
SEQUENCE_LENGTHS = {"tiny-llama": [7, 12, 3], "tiny-qwen2": [9, 1, 5, 16]}
ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)


def param_shapes(c):
    C, hs = c["hidden_size"], c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    qd, kvd, FF, V = c["num_attention_heads"] * hs, c["num_key_value_heads"] * hs, c["intermediate_size"], c["vocab_size"]
    shapes = {"model.embed_tokens.weight": (V, C)}
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        shapes[p + "input_layernorm.weight"] = (C,)
        for name, rows in (("q", qd), ("k", kvd), ("v", kvd)):
            shapes[p + f"self_attn.{name}_proj.weight"] = (rows, C)
            if c["model_type"] == "qwen2":
                shapes[p + f"self_attn.{name}_proj.bias"] = (rows,)
        shapes[p + "self_attn.o_proj.weight"] = (C, qd)
        shapes[p + "post_attention_layernorm.weight"] = (C,)
        shapes[p + "mlp.gate_proj.weight"] = (FF, C)
        shapes[p + "mlp.up_proj.weight"] = (FF, C)
        shapes[p + "mlp.down_proj.weight"] = (C, FF)
    shapes["model.norm.weight"] = (C,)
    if not c["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (V, C)
    return shapes


def init_params(c, gen):
    """Larger-than-default random weights so that logits and gradients are far from uniform and informative."""
    params = {}
    for name, shape in param_shapes(c).items():
        if name.endswith("norm.weight"):
            t = 1 + 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith(".bias"):
            t = 0.1 * torch.randn(shape, generator=gen)
        else:
            t = torch.randn(shape, generator=gen) / math.sqrt(shape[-1])
        params[name] = t.float()
    return params


_MODELS = {}


def forward(c, p, ids):
    """Logits (n, V) of one sequence, in float64: python/sso_torch/model.py's CausalLM (the decoder the torch
    trainer trains) in float64, called with the parameter tensors p (so gradients flow into them)."""
    key = json.dumps(c, sort_keys=True)
    if key not in _MODELS:
        _MODELS[key] = CausalLM(c).double()
    params = dict(p)
    if c["tie_word_embeddings"]:
        params["lm_head.weight"] = p["model.embed_tokens.weight"]
    return functional_call(_MODELS[key], params, (torch.tensor([ids]),))[0]


def loss_fn(c, p, seqs):
    """Mean next-token cross-entropy over every predicted position of every sequence."""
    total, count = 0.0, 0
    for ids in seqs:
        if len(ids) < 2:
            continue
        logp = torch.log_softmax(forward(c, p, ids)[:-1], dim=-1)
        total = total - logp.gather(1, torch.tensor(ids[1:])[:, None]).sum()
        count += len(ids) - 1
    return total / count


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def make(name, seed):
    c = CONFIGS[name]
    gen = torch.Generator().manual_seed(seed)
    p32 = init_params(c, gen)
    seqs = [torch.randint(0, c["vocab_size"], (n,), generator=gen).tolist() for n in SEQUENCE_LENGTHS[name]]
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    write_safetensors(os.path.join(folder, "model.safetensors"), p32)

    p = {k: v.double().requires_grad_(True) for k, v in p32.items()}
    loss = loss_fn(c, p, seqs)
    loss.backward()
    golden = {f"logits.{i}": forward(c, p, ids).detach() for i, ids in enumerate(seqs)}
    golden.update({f"grad.{k}": v.grad.detach() for k, v in p.items()})

    opt_params = {k: v.detach().clone().requires_grad_(True) for k, v in p.items()}
    opt = torch.optim.AdamW(list(opt_params.values()), **ADAMW)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        step_loss = loss_fn(c, opt_params, seqs)
        losses.append(step_loss.item())
        step_loss.backward()
        opt.step()
    losses.append(loss_fn(c, opt_params, seqs).item())

    write_safetensors(os.path.join(folder, "golden.safetensors"), golden)
    with open(os.path.join(folder, "golden.json"), "w") as f:
        json.dump({"sequences": seqs, "loss": loss.item(), "adamw": {**ADAMW, "betas": list(ADAMW["betas"])},
                   "adamw_losses": losses, "torch": torch.__version__,
                   "note": "float64 reference of the float32 weights; adamw_losses[k] is the loss after k steps"}, f, indent=2)
    print(f"{name}: loss {loss.item():.6f}, adamw losses {[round(x, 6) for x in losses]}")


if __name__ == "__main__":
    make("tiny-llama", 1)
    make("tiny-qwen2", 2)
