"""The FSDP path of the torch trainer (train.torch.fsdp, CUDA only): one FSDP unit per decoder layer with
use_orig_params (so LoRA's frozen base and trainable adapters can share a unit, and parameter names stay
Hugging Face's), and resumable through our checkpoint format: the full state — weights and AdamW moments by
name — is gathered to rank 0 (CPU) for checkpoint.py, and a checkpoint's full moments are loaded back into the
shards. Uses torch.distributed.checkpoint.state_dict (torch >= 2.2); an older torch is refused in one line.
With precision bf16 the parameters stay FP32 here (FSDP flattens one dtype per unit) and autocast computes in
BF16; sharding divides their memory. Unverified on this project's CPU machine: tools/gpu-check.sh runs it.
"""
import functools


class FsdpError(ValueError):
    pass


def _api():
    try:
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
            get_optimizer_state_dict,
            set_optimizer_state_dict,
        )
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy
    except Exception as e:  # noqa: BLE001 - ImportError, or e.g. Python 3.11 + torch 1.13's dataclass error
        raise FsdpError(f"train.torch.fsdp: needs torch >= 2.2 with torch.distributed.fsdp and torch.distributed.checkpoint.state_dict ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); use DDP (fsdp false)") from None
    return FSDP, transformer_auto_wrap_policy, StateDictOptions, get_model_state_dict, get_optimizer_state_dict, set_optimizer_state_dict


def wrap(module, device):
    FSDP, policy, *_ = _api()
    layer_cls = {type(module.model.layers[0])}
    return FSDP(module, auto_wrap_policy=functools.partial(policy, transformer_layer_cls=layer_cls), use_orig_params=True, device_id=device)


def clean(name):
    """A wrapped module's parameter name as the unwrapped module has it."""
    return name.replace("_fsdp_wrapped_module.", "").replace("_checkpoint_wrapped_module.", "")


def trainable_params(wrapped, trainable):
    """[(name, parameter)] of the wrapped module's trainable parameters (what the optimizer holds)."""
    return [(clean(n), p) for n, p in wrapped.named_parameters() if clean(n) in trainable]


def load_moments(wrapped, opt, params, moments, start, shapes, source):
    """Loads full (unsharded) moments name -> (m, v) into the sharded optimizer state."""
    *_, StateDictOptions, _g, _o, set_optimizer_state_dict = _api()
    import torch

    state = {}
    for name, _ in params:
        if name not in moments:
            raise FsdpError(f"{source}: no moments for {name}")
        m, v = moments[name]
        state[name] = {"step": torch.tensor(float(start)), "exp_avg": m.view(shapes[name]), "exp_avg_sq": v.view(shapes[name])}
    groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [n for n, _ in params]} for g in opt.param_groups]
    set_optimizer_state_dict(wrapped, opt, {"state": state, "param_groups": groups}, options=StateDictOptions(full_state_dict=True))


def gather(wrapped, opt, names):
    """(weights, moments) of the named parameters, full and on CPU on rank 0 (empty elsewhere); a collective."""
    *_, StateDictOptions, get_model_state_dict, get_optimizer_state_dict, _s = _api()
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    model_sd = get_model_state_dict(wrapped, options=options)
    optim_sd = get_optimizer_state_dict(wrapped, opt, options=options)
    weights = {clean(k): v.float() for k, v in model_sd.items() if clean(k) in names}
    moments = {clean(k): (s["exp_avg"].float(), s["exp_avg_sq"].float()) for k, s in optim_sd.get("state", {}).items()}
    return weights, moments
