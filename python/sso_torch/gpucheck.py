"""`python3 -m sso_torch gpu-check [--small]` (run by tools/gpu-check.sh): the torch trainer end to end on this
machine's device, printing one JSON line. Needs only torch (no node, nothing installed): it writes a random model
folder, real-shaped SSO records as token ids (per record the sso preset's six sequences: prompt x ~120 tokens,
x± = system + x ~300 tokens, responses ~250 tokens) and plans (plan.py's schema), and runs the launcher as
`sso train --trainer torch` would. On CUDA: a Qwen2.5-0.5B-shaped model with random BF16 weights trained full and
with LoRA in BF16 (tokens/s, MFU against the card's dense BF16 peak with 6N / 4N FLOPs per token — attention
left out —, peak memory); 3 steps on a 2-layer model of the same width on CUDA (FP32, BF16) against CPU FP32
(relative error of the weight update); FSDP at world size 1 against the plain path, and FSDP killed at step 3 and
resumed against uninterrupted. Without CUDA (or with --small) the CUDA parts are skipped, saying so, and a tiny
model runs the same steps on CPU, with kill + resume on the plain path.
"""
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import torch

from . import lora, safetensors

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "H800": 989e12, "A100": 312e12}  # dense BF16 FLOP/s
SSO = {"base": "ipo", "beta": 0.1, "theta": 0.1, "alpha": 0.5, "useWeight": True, "weightScope": "all", "detachWeight": False, "steering": "sso", "gamma": 0, "generator": False}
PAIRS = ["x_chosen", "x_rejected", "pos_chosen", "pos_rejected", "neg_chosen", "neg_raw"]
QWEN05 = {"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True}
TINY = {**QWEN05, "vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}
LORA = {"r": 16, "alpha": 32, "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], "rslora": False}


def shapes(c):
    from .model import CausalLM

    return {n: tuple(p.shape) for n, p in CausalLM(c).named_parameters()}


def make_model(folder, c, dtype, seed):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({**c, "architectures": ["Qwen2ForCausalLM"]}, f)
    g = torch.Generator().manual_seed(seed)
    w = {n: (torch.ones(s) if n.endswith("norm.weight") else torch.randn(s, generator=g) * 0.02) for n, s in shapes(c).items()}
    safetensors.write_file(os.path.join(folder, "model.safetensors"), w, dtype)


def make_shard(folder, c, n, lengths, seed):
    """n records × six sequences of token ids, as torch-train.ts writes OUT/torch/shard.{bin,json}."""
    rnd, ids, seqs = random.Random(seed), [], []
    q, s, r = lengths
    for _ in range(n):
        x = [rnd.randrange(c["vocab_size"]) for _ in range(q)]
        sys_pos, sys_neg = [rnd.randrange(c["vocab_size"]) for _ in range(s)], [rnd.randrange(c["vocab_size"]) for _ in range(s)]
        resp = {k: [rnd.randrange(c["vocab_size"]) for _ in range(r + rnd.randrange(-r // 4, r // 4 + 1))] for k in ("chosen", "rejected", "raw")}
        for p in PAIRS:
            prompt = x if p.startswith("x_") else (sys_pos if p.startswith("pos") else sys_neg) + x
            out = resp[p.split("_")[1]]
            seqs.append([len(ids), len(prompt) + len(out), len(prompt), -2.5 * len(out)])
            ids += prompt + out
    os.makedirs(folder, exist_ok=True)
    import array

    with open(os.path.join(folder, "shard.bin"), "wb") as f:
        f.write(array.array("i", ids).tobytes())
    with open(os.path.join(folder, "shard.json"), "w") as f:
        json.dump({"pairs": PAIRS, "sequences": seqs}, f)
    return sum(x[1] for x in seqs)


def lora_init(path, c, seed):
    g, out = torch.Generator().manual_seed(seed), {}
    sh = shapes(c)
    for l in range(c["num_hidden_layers"]):
        for m in LORA["targets"]:
            o, i = sh[f"model.layers.{l}.{lora.MODULES[m]}.weight"]
            out[f"{lora.PEFT_PREFIX}model.layers.{l}.{lora.MODULES[m]}.lora_A.weight"] = (torch.rand(LORA["r"], i, generator=g) * 2 - 1) / math.sqrt(i)
            out[f"{lora.PEFT_PREFIX}model.layers.{l}.{lora.MODULES[m]}.lora_B.weight"] = torch.zeros(o, LORA["r"])
    safetensors.write_file(path, out, "F32")
    return sorted(k[len(lora.PEFT_PREFIX) :] for k in out)


def run(work, name, model, c, n_records, batch, micro, torch_cfg, use_lora=False, start=0, env=None, lr=1e-4, save=False):
    """One training run into work/name via the launcher; (rc, last stdout line, out folder)."""
    out = os.path.join(work, name)
    d = os.path.join(out, "torch")
    if start == 0:
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(os.path.join(work, "shard"), d)
    total = math.ceil(n_records / batch)
    lp, names = None, [n for n in shapes(c) if not (c["tie_word_embeddings"] and n == "lm_head.weight")]
    if use_lora:
        init = os.path.join(out, "checkpoint", "adapter", "adapter_model.safetensors") if start else os.path.join(d, "adapter-init.safetensors")
        names = lora_init(os.path.join(d, "adapter-init.safetensors"), c, 7) if not start else names_of(init)
        lp = {**LORA, "init": init, "configText": "{}\n"}
    tc = {"python": sys.executable, "nproc": 1, "nnodes": 1, "nodeRank": 0, "masterAddr": "127.0.0.1", "masterPort": 0, "device": "cpu", "fsdp": False, "gradientCheckpointing": False, "model": "builtin", "startupTimeout": 120, "precision": "fp32", **torch_cfg}
    text = json.dumps(c)
    plan = {"version": 2, "out": out, "dir": d, "init": model, "tied": c["tie_word_embeddings"], "configF32": text, "configFinal": text, "saveDtype": "F32", "carry": [], "objective": SSO, "pairs": PAIRS, "optim": {"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weightDecay": 0.1, "maxGradNorm": 1.0}, "microBatch": micro, "steps": [list(range(i * batch, min(n_records, (i + 1) * batch))) for i in range(total)], "lrs": [lr] * total, "stepsPerEpoch": total, "total": total, "start": start, "saveEvery": 1 if save else 0, "fingerprint": "gpu-check", "trainable": names, "threads": max(1, (os.cpu_count() or 2) // 2), "lora": lp, "torch": tc}
    if start:
        plan["init"] = model if use_lora else os.path.join(out, "checkpoint", "model")
    with open(os.path.join(d, "plan.json"), "w") as f:
        json.dump(plan, f)
    r = subprocess.run([sys.executable, "-m", "sso_torch", "launch", os.path.join(d, "plan.json")], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)
    return r.returncode, (r.stdout.strip().split("\n") or [""])[-1], out


def names_of(path):
    t, _ = safetensors.read_file(path)
    return sorted(k[len(lora.PEFT_PREFIX) :] for k in t)


def metrics(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


def weights(out, use_lora=False):
    if use_lora:
        return safetensors.read_file(os.path.join(out, "adapter", "adapter_model.safetensors"))[0]
    return safetensors.read_folder(os.path.join(out, "model"))


def update_error(init, a, b):
    """‖Δa − Δb‖ / ‖Δb‖ over every tensor (Δ = trained − initial); b is the reference."""
    num = den = 0.0
    for k, w in b.items():
        base = init[k].double() if k in init else torch.zeros_like(w, dtype=torch.float64)
        db = w.double() - base
        num += float((a[k].double() - base - db).pow(2).sum())
        den += float(db.pow(2).sum())
    return math.sqrt(num / den) if den > 0 else None


def max_diff(a, b):
    return max(float((a[k] - b[k]).abs().max()) for k in b)


def timing(work, model, c, n, tokens, cfg, use_lora, peak, params):
    """n records in steps of n/3: the median tokens/s of the steps after the first."""
    rc, line, out = run(work, "lora" if use_lora else "full", model, c, n, max(1, n // 3), 2, cfg, use_lora, lr=1e-5)
    if rc != 0:
        return {"error": line}
    m = metrics(out)
    tps = sorted(x["tokens/s"] for x in m[1:] or m)[len(m[1:] or m) // 2]
    flops = (4 if use_lora else 6) * params * tps
    res = {"tokens_per_s": round(tps, 1), "steps": len(m), "tokens_per_step": round(tokens / len(m)), "precision": m[-1]["torch/precision"]}
    res["mfu"] = round(flops / peak, 4) if peak else None
    for k in ("torch/peak_memory_gb", "torch/peak_rss_gb"):
        if k in m[-1]:
            res[k.split("/")[1]] = m[-1][k]
    return res


def main(argv):
    small = "--small" in argv or not torch.cuda.is_available()
    work = tempfile.mkdtemp(prefix="sso-gpu-check-")
    t0 = time.time()
    res = {"torch": torch.__version__, "model": "builtin", "cuda": torch.cuda.is_available(), "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"}
    try:
        import transformers  # noqa: F401

        res["transformers"] = transformers.__version__
    except ImportError:
        res["transformers"] = None
    try:
        if small:
            res["skipped"] = "no CUDA device: the CUDA parts (BF16 timing, CUDA-vs-CPU parity, FSDP) did not run; a tiny model ran on CPU" if not torch.cuda.is_available() else "--small: CUDA parts skipped"
            cfg_cpu = {"device": "cpu", "precision": "fp32"}
            c, lengths, n = TINY, (12, 30, 25), 6
            model = os.path.join(work, "model")
            make_model(model, c, "F32", 1)
            tokens = make_shard(os.path.join(work, "shard"), c, n, lengths, 2)
            params = sum(math.prod(s) for s in shapes(c).values())
            res["shape"] = {"hidden": c["hidden_size"], "layers": c["num_hidden_layers"], "vocab": c["vocab_size"], "params": params}
            res["cpu_full"] = timing(work, model, c, n, tokens, cfg_cpu, False, None, params)
            res["cpu_lora"] = timing(work, model, c, n, tokens, cfg_cpu, True, None, params)
            res["resume"] = resume_check(work, model, c, n, cfg_cpu)
        else:
            name = torch.cuda.get_device_name(0)
            peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
            res["peak_bf16_flops"] = peak
            c, n = QWEN05, 24
            model = os.path.join(work, "model")
            make_model(model, c, "BF16", 1)
            tokens = make_shard(os.path.join(work, "shard"), c, n, (120, 180, 250), 2)
            params = sum(math.prod(s) for s in shapes(c).values())
            res["shape"] = {"name": "Qwen2.5-0.5B (random BF16)", "params": params}
            cuda = {"device": "cuda", "precision": "bf16"}
            res["cuda_bf16_full"] = timing(work, model, c, n, tokens, cuda, False, peak, params)
            res["cuda_bf16_lora"] = timing(work, model, c, n, tokens, cuda, True, peak, params)
            res.update(parity_and_fsdp(work))
    except Exception as e:  # noqa: BLE001 - the JSON line reports it
        res["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    res["seconds"] = round(time.time() - t0, 1)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(res), flush=True)
    return 1 if "error" in res or any(isinstance(v, dict) and "error" in v for v in res.values()) else 0


def resume_check(work, model, c, n, cfg, name="resume"):
    """3 steps uninterrupted vs killed (SIGKILL) at step 3 and resumed from the step-2 checkpoint: max |Δw|."""
    rc, line, ref = run(work, f"{name}-ref", model, c, n, max(1, n // 3), 2, cfg, save=True)
    if rc != 0:
        return {"error": line}
    rc, line, out = run(work, name, model, c, n, max(1, n // 3), 2, cfg, env={"SSO_TORCH_DIE_AT": "0:3"}, save=True)
    if rc == 0:
        return {"error": "the rank did not die at step 3"}
    rc, line, out = run(work, name, model, c, n, max(1, n // 3), 2, cfg, start=2, save=True)
    if rc != 0:
        return {"error": line}
    return {"max_abs_diff": max_diff(weights(out), weights(ref)), "steps": [m["step"] for m in metrics(out)]}


def parity_and_fsdp(work):
    """A 2-layer model of Qwen2.5-0.5B's width: CUDA FP32 / BF16 vs CPU FP32 after 3 steps; FSDP (world size 1)."""
    c, n = {**QWEN05, "num_hidden_layers": 2, "vocab_size": 8192}, 6
    model = os.path.join(work, "model-2l")
    make_model(model, c, "F32", 3)
    shutil.rmtree(os.path.join(work, "shard"))
    make_shard(os.path.join(work, "shard"), c, n, (60, 90, 120), 4)
    init = safetensors.read_folder(model)
    out, ws = {}, {}
    for name, cfg in (("cpu_fp32", {"device": "cpu", "precision": "fp32"}), ("cuda_fp32", {"device": "cuda", "precision": "fp32"}), ("cuda_bf16", {"device": "cuda", "precision": "bf16"}), ("cuda_fsdp_fp32", {"device": "cuda", "precision": "fp32", "fsdp": True})):
        rc, line, o = run(work, name, model, c, n, 2, 1, cfg, lr=1e-4)
        if rc != 0:
            out[name] = {"error": line}
            continue
        ws[name] = weights(o)
    ref = ws.get("cpu_fp32")
    parity = {}
    for name in ("cuda_fp32", "cuda_bf16"):
        parity[name] = out.get(name) or {"update_rel_error_vs_cpu_fp32": update_error(init, ws[name], ref) if ref else None}
    fsdp = out.get("cuda_fsdp_fp32") or {"update_rel_error_vs_plain": update_error(init, ws["cuda_fsdp_fp32"], ws["cuda_fp32"]) if "cuda_fp32" in ws else None}
    fsdp["resume"] = resume_check(work, model, c, n, {"device": "cuda", "precision": "fp32", "fsdp": True}, "fsdp-resume")
    return {"parity_3_steps": parity, "fsdp_world_1": fsdp}
