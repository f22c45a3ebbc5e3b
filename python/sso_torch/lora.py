"""LoRA in the torch trainer, as src/model/lora.ts and PEFT compute it: a targeted Linear W gains
y += s·B(A(x)) with A (r, in), B (out, r), s = alpha/r (alpha/√r with rsLoRA). The adapters are attached to the
model's own Linear modules as `lora_A`/`lora_B` submodules plus a forward hook, so that their parameter names are
ours and PEFT's without the "base_model.model." prefix (`model.layers.3.self_attn.q_proj.lora_A.weight`), for the
built-in module and transformers' alike. The initial adapter comes from TypeScript (a fresh seeded one, or the
checkpoint's): a PEFT adapter_model.safetensors. Saved as PEFT folders exactly as src/model/peft.ts writes them
(adapter_config.json text from TypeScript, adapter_model.safetensors with PEFT keys, names sorted).
"""
import os

import torch
from torch import nn

from . import safetensors

PEFT_PREFIX = "base_model.model."
MODULES = {"q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj", "v_proj": "self_attn.v_proj", "o_proj": "self_attn.o_proj", "gate_proj": "mlp.gate_proj", "up_proj": "mlp.up_proj", "down_proj": "mlp.down_proj"}


def scale_of(lp):
    return lp["alpha"] / lp["r"] ** 0.5 if lp["rslora"] else lp["alpha"] / lp["r"]


def _hook(mod, inputs, out):
    return out + mod.lora_B(mod.lora_A(inputs[0])) * mod.lora_scale


def attach(module, lp, num_layers):
    """Adds lora_A/lora_B to every targeted Linear of every layer, filled from lp["init"]; returns their names."""
    path = lp["init"]
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: the initial adapter is missing")
    tensors, _ = safetensors.read_file(path)
    scale, names = scale_of(lp), []
    for l in range(num_layers):
        for m in MODULES:  # LORA_MODULES' order, A before B (the TypeScript trainer's order)
            if m not in lp["targets"]:
                continue
            prefix = f"model.layers.{l}.{MODULES[m]}"
            lin = module.get_submodule(prefix)
            a, b = tensors.get(f"{PEFT_PREFIX}{prefix}.lora_A.weight"), tensors.get(f"{PEFT_PREFIX}{prefix}.lora_B.weight")
            want_a, want_b = (lp["r"], lin.in_features), (lin.out_features, lp["r"])
            for t, key, want in ((a, "A", want_a), (b, "B", want_b)):
                if t is None or tuple(t.shape) != want:
                    got = "missing" if t is None else f"shape {list(t.shape)}"
                    raise ValueError(f"{path}: {PEFT_PREFIX}{prefix}.lora_{key}.weight is {got}, expected {list(want)}")
            lin.lora_A = nn.Linear(lin.in_features, lp["r"], bias=False)
            lin.lora_B = nn.Linear(lp["r"], lin.out_features, bias=False)
            with torch.no_grad():
                lin.lora_A.weight.copy_(a)
                lin.lora_B.weight.copy_(b)
            lin.lora_scale = scale
            lin.register_forward_hook(_hook)
            names += [f"{prefix}.lora_A.weight", f"{prefix}.lora_B.weight"]
    extra = sorted(k for k in tensors if k[len(PEFT_PREFIX) :] not in set(names))
    if extra:
        raise ValueError(f"{path}: unexpected adapter tensor {extra[0]} for train.lora's targets")
    return names


def fill_adapter(folder, tensors, config_text, dtype):
    """A PEFT folder: adapter_config.json (TypeScript's text) + adapter_model.safetensors (PEFT keys)."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        f.write(config_text)
        f.flush()
        os.fsync(f.fileno())
    safetensors.write_file(os.path.join(folder, "adapter_model.safetensors"), {PEFT_PREFIX + k: v for k, v in tensors.items()}, dtype)
