"""One rank of the torch trainer. The plan (written by src/sso/torch-train.ts) fixes everything TypeScript owns:
the shard of tokenised sequences, each step's records and learning rate, the resolved objective, the optimizer
settings, the trainable names, the fingerprint and the step to resume from. Per step, this rank takes every
WORLD-th record of the step's batch, forwards them in micro-batches, and backpropagates the objective's exact
per-sequence derivatives (objective.py) scaled so that the step's loss is the mean of per-record losses over the
whole batch, however it is split over ranks and micro-batches (DDP averages over ranks, so each rank's share is
multiplied by WORLD). Then, as src/train/optimizer.ts: refuse a non-finite gradient, clip the global norm
(coefficient max/(norm + 1e-6), norm in float64), and step torch.optim.AdamW — the same update as our kernel
(decoupled decay p·(1 − lr·wd) on every trainable tensor, both bias corrections). Rank 0 appends metrics and
writes checkpoints and the final model (checkpoint.py). Precision (train.torch.precision): fp32, or on CUDA bf16 =
frozen weights held in BF16, BF16 autocast around the forward, FP32 trainable (master) weights, AdamW moments,
log-softmax and log-prob sums; recorded in every metrics line as "torch/precision". With train.lora the adapters
(lora.py) are the only trainables. Not here: tokenisation, record order, the schedule.
"""
import json
import math
import os
import signal
import time
from array import array
from contextlib import nullcontext

import torch
import torch.distributed as dist

from . import checkpoint, fsdp, lora
from .model import build, load_weights, response_logp_sums
from .objective import sso_objective
from .plan import load_plan


class StepError(Exception):
    pass


def load_shard(folder):
    with open(os.path.join(folder, "shard.json")) as f:
        index = json.load(f)
    ids = array("i")
    with open(os.path.join(folder, "shard.bin"), "rb") as f:
        ids.frombytes(f.read())
    return [(ids[o : o + n].tolist(), s, ref) for o, n, s, ref in index["sequences"]]


def run(plan_path):
    plan = load_plan(plan_path)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    tc = plan["torch"]
    cuda = tc["device"] == "cuda" or (tc["device"] == "auto" and torch.cuda.is_available())
    if tc["device"] == "cuda" and not torch.cuda.is_available():
        raise StepError("train.torch.device: cuda is not available on this machine")
    if tc["fsdp"] and not cuda:
        raise StepError("train.torch.fsdp: FSDP needs CUDA devices (use DDP on CPU: fsdp false)")
    precision = resolve_precision(tc["precision"], cuda)
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.set_num_threads(max(1, plan["threads"]))
    rendezvous(plan, rank, world, "nccl" if cuda else "gloo", tc["fsdp"])

    module, _ = build(plan["init"], tc["model"])
    load_weights(module, plan["init"], plan["tied"])
    lp = plan["lora"]
    adapter = lora.attach(module, lp, len(module.model.layers)) if lp else []
    module.to(device)
    trainable = set(plan["trainable"])
    named = dict(module.named_parameters())
    unknown = sorted(trainable - named.keys())
    if unknown:
        raise StepError(f"plan.trainable: the model has no parameter {unknown[0]}")
    for name, p in named.items():
        p.requires_grad_(name in trainable)
        if precision == "bf16" and name not in trainable and not tc["fsdp"]:
            p.data = p.data.to(torch.bfloat16)  # frozen: held in BF16; trainables stay FP32 (master weights)
    if tc["gradientCheckpointing"]:
        if hasattr(module, "gradient_checkpointing_enable"):
            module.gradient_checkpointing_enable()
        else:
            module.gradient_checkpointing = True
    module.train()
    wrapped, shapes = module, {n: p.shape for n, p in named.items()}
    if tc["fsdp"]:
        wrapped = fsdp.wrap(module, device)
    elif world > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(module, device_ids=[local] if cuda else None)
    params = fsdp.trainable_params(wrapped, trainable) if tc["fsdp"] else [(n, p) for n, p in named.items() if n in trainable]
    o = plan["optim"]
    opt = torch.optim.AdamW(
        [p for _, p in params], lr=0.0, betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weightDecay"], foreach=False
    )
    start = plan["start"]
    if start > 0:
        source = os.path.join(plan["out"], "checkpoint", "optimizer.safetensors")
        moments = checkpoint.load_moments(source)
        if tc["fsdp"]:
            fsdp.load_moments(wrapped, opt, params, moments, start, shapes, source)
        for name, p in params if not tc["fsdp"] else []:
            if name not in moments or moments[name][0].numel() != p.numel():
                raise StepError(f"{plan['out']}/checkpoint/optimizer.safetensors: no matching moments for {name}")
            m, v = moments[name]
            opt.state[p] = {"step": torch.tensor(float(start)), "exp_avg": m.view_as(p).to(device).clone(), "exp_avg_sq": v.view_as(p).to(device).clone()}

    shard = load_shard(plan["dir"])
    pairs, obj, P = plan["pairs"], plan["objective"], len(plan["pairs"])
    micro, total, per_epoch = plan["microBatch"], plan["total"], plan["stepsPerEpoch"]
    die = os.environ.get("SSO_TORCH_DIE_AT", "")  # test hook "RANK:STEP": this rank kills itself at that step
    metrics_path = os.path.join(plan["out"], "metrics.jsonl")
    for step in range(start + 1, total + 1):
        if die == f"{rank}:{step}":
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            batch = plan["steps"][step - 1]
            m = train_step(wrapped, module, batch, shard, pairs, P, obj, micro, rank, world, device, precision)
            norm = clip_and_check([(n, p) for n, p in params], o["maxGradNorm"], wrapped if tc["fsdp"] else None)
            lr = plan["lrs"][step - 1]
            for g in opt.param_groups:
                g["lr"] = lr
            opt.step()
            opt.zero_grad(set_to_none=False)
        except StepError as e:
            raise StepError(f"step {step}: {e}") from None
        if rank == 0:
            line = {"step": step, "epoch": (step - 1) // per_epoch, **m["metrics"], "grad_norm": norm, "learning_rate": lr, "tokens/s": m["tps"], "torch/precision": precision, **peak_memory(cuda)}
            checkpoint.append_durable(metrics_path, json.dumps(line, separators=(",", ":")) + "\n")
        if (plan["saveEvery"] > 0 and step % plan["saveEvery"] == 0) or step == total:
            weights, moments = full_state(wrapped, module, opt, params, tc["fsdp"], adapter)
            if rank == 0:
                state = {"step": step, "totalSteps": total, "fingerprint": plan["fingerprint"]}
                ckpt = os.path.join(plan["out"], "checkpoint")
                checkpoint.save_checkpoint(ckpt, weights, plan["configF32"], plan["carry"], moments, step, state, lp and lp["configText"])
    weights, _ = full_state(wrapped, module, opt, params, tc["fsdp"], adapter)
    if rank == 0 and lp:
        checkpoint.save_adapter(os.path.join(plan["out"], "adapter"), weights, lp["configText"], plan["saveDtype"])
    elif rank == 0:
        checkpoint.save_model(os.path.join(plan["out"], "model"), weights, plan["configFinal"], plan["saveDtype"], plan["carry"])
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def peak_memory(cuda):
    """This rank's peak so far: CUDA memory allocated, or (CPU) the process's resident set, in GiB."""
    if cuda:
        return {"torch/peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 3)}
    import resource

    return {"torch/peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)}


def resolve_precision(setting, cuda):
    """train.torch.precision: auto = bf16 on CUDA, fp32 on CPU; bf16 on a CPU device is refused (CPU autocast is
    slower than FP32 here, and the point of bf16 is the GPU's tensor cores)."""
    if setting == "auto":
        return "bf16" if cuda else "fp32"
    if setting == "bf16" and not cuda:
        raise StepError("train.torch.precision: bf16 needs a CUDA device (on CPU use fp32 or auto)")
    return setting


def autocast(device, precision):
    """BF16 autocast for the matmuls on CUDA; nothing under fp32."""
    if precision != "bf16":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def rendezvous(plan, rank, world, backend, grouped):
    """Joins the launcher's store and the process group (world > 1), with DIR/rank-K.joining before and
    DIR/rank-K.ready after, for the launcher's start-up watchdog. Test hook SSO_TORCH_STALL="RANK:SECONDS": that rank sleeps first."""
    stall = os.environ.get("SSO_TORCH_STALL", "").split(":")
    if len(stall) == 2 and stall[0] == str(rank):
        time.sleep(float(stall[1]))
    with open(os.path.join(plan["dir"], f"rank-{rank}.joining"), "w") as f:
        f.write(f"{os.getpid()}\n")
    if world > 1 or grouped:  # FSDP needs a process group even at world size 1
        from datetime import timedelta

        limit = timedelta(seconds=plan["torch"]["startupTimeout"])
        store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world, False, limit)
        dist.init_process_group(backend, store=store, rank=rank, world_size=world)
    with open(os.path.join(plan["dir"], f"rank-{rank}.ready"), "w") as f:
        f.write(f"{os.getpid()}\n")


def train_step(wrapped, module, batch, shard, pairs, P, obj, micro, rank, world, device, precision):
    """Forward/backward of this rank's share of one step's records into .grad; the step's metrics, summed over ranks."""
    t0 = time.perf_counter()
    mine = batch[rank::world]
    K = max(1, math.ceil(math.ceil(len(batch) / world) / micro))  # the same count on every rank (DDP syncs on the last)
    B = len(batch)
    beta, plain = obj["beta"], "x_chosen" in pairs
    # The step's sums by name (the same names on every rank), all-reduced in sorted-name order.
    sums = {k: 0.0 for k in ("loss", "sso/W", "sso/G", "sso/L_pos", "sso/L_neg", "tokens")}
    if plain:
        sums.update({k: 0.0 for k in ("rc", "rr", "accurate", "logps/chosen", "logps/rejected")})
    for k in range(K):
        mb = mine[k * micro : (k + 1) * micro]
        dummy = not mb  # a rank without records this pass still joins DDP's gradient sync, with weight 0
        recs_idx = mb or batch[:1]
        seqs = [shard[i * P + j] for i in recs_idx for j in range(P)]
        sync = k == K - 1 or not hasattr(wrapped, "no_sync")
        with nullcontext() if sync else wrapped.no_sync():
            with autocast(device, precision):  # the log-softmax and the sums are FP32 (response_logp_sums)
                out = response_logp_sums(wrapped, [(ids, s) for ids, s, _ in seqs], device)
            vals = out.detach().double().cpu().tolist()
            recs = [
                {p: {"policy": vals[r * P + j], "ref": seqs[r * P + j][2], "n": len(seqs[r * P + j][0]) - seqs[r * P + j][1]} for j, p in enumerate(pairs)}
                for r in range(len(recs_idx))
            ]
            loss, parts, grads = sso_objective(recs, obj)
            if not math.isfinite(loss):
                raise StepError(f"non-finite loss ({'NaN' if loss != loss else loss}) in records {', '.join(map(str, mb))}")
            share = 0.0 if dummy else len(mb) / B
            coef = torch.tensor([grads[r][p] * share * world for r in range(len(recs_idx)) for p in pairs], dtype=out.dtype, device=out.device)
            (out * coef).sum().backward()
        if dummy:
            continue
        sums["loss"] += loss * share
        for key in ("W", "G", "L_pos", "L_neg"):
            sums[f"sso/{key}"] += parts[key] * share
        if plain:
            for r in recs:
                rc, rr = beta * (r["x_chosen"]["policy"] - r["x_chosen"]["ref"]), beta * (r["x_rejected"]["policy"] - r["x_rejected"]["ref"])
                sums["rc"] += rc
                sums["rr"] += rr
                sums["accurate"] += 1 if rc > rr else 0
                sums["logps/chosen"] += r["x_chosen"]["policy"]
                sums["logps/rejected"] += r["x_rejected"]["policy"]
        sums["tokens"] += sum(len(s[0]) for s in seqs)
    if world > 1:
        names = sorted(sums)
        t = torch.tensor([sums[k] for k in names], dtype=torch.float64)
        dist.all_reduce(t)
        sums = dict(zip(names, t.tolist()))
    s = sums
    metrics = {"loss": s["loss"]}
    if plain:
        metrics.update({"rewards/chosen": s["rc"] / B, "rewards/rejected": s["rr"] / B, "rewards/accuracies": s["accurate"] / B, "rewards/margins": (s["rc"] - s["rr"]) / B, "logps/chosen": s["logps/chosen"] / B, "logps/rejected": s["logps/rejected"] / B})
    metrics.update({k: s[k] for k in ("sso/W", "sso/G", "sso/L_pos", "sso/L_neg")})
    return {"metrics": metrics, "tps": s["tokens"] / (time.perf_counter() - t0)}


def clip_and_check(params, max_norm, fsdp_module):
    """As AdamW.update in src/train/optimizer.ts: a non-finite gradient is an error before any change; clip; the norm."""
    if fsdp_module is not None:  # sharded gradients: FSDP computes the global norm (unverified: needs CUDA)
        norm = float(fsdp_module.clip_grad_norm_(max_norm if max_norm > 0 else float("inf")))
        if not math.isfinite(norm):
            raise StepError("non-finite gradient; no update was applied")
        return norm
    sq = [(n, float(p.grad.double().pow(2).sum())) for n, p in params]
    total = sum(v for _, v in sq)
    if not math.isfinite(total):
        bad = next(n for n, v in sq if not math.isfinite(v))
        raise StepError(f"non-finite gradient (first in {bad}); no update was applied")
    norm = math.sqrt(total)
    if max_norm > 0:
        c = max_norm / (norm + 1e-6)
        if c < 1:
            for _, p in params:
                p.grad.mul_(c)
    return norm


def full_state(wrapped, module, opt, params, sharded, adapter):
    """(weights, moments): name -> CPU float32 tensor of every parameter as Hugging Face names it (tied lm_head left
    out; with LoRA, adapter = the adapter's names, only those), and name -> (m, v) of the trainable ones. FSDP
    gathers both to rank 0 (fsdp.py); a collective then, so every rank calls it."""
    if sharded:
        return fsdp.gather(wrapped, opt, set(adapter) or {fsdp.clean(n) for n, _ in module.named_parameters()})
    keep = set(adapter)
    weights = {n: p.detach().float().cpu() for n, p in module.named_parameters() if not keep or n in keep}
    return weights, {n: (opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]) for n, p in params if p in opt.state}
