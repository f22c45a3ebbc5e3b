"""Output folders as src/train/checkpoint.ts and src/util/atomic.ts write them, so TypeScript reads, resumes and
cleans up after them: OUT/checkpoint = model/ (a Hugging Face folder, F32) + optimizer.safetensors (m.NAME, v.NAME
flat F32, metadata step) + trainer_state.json, swapped in as a whole through `.NAME.PID.T.tmp[.old]` siblings;
OUT/model the same way; with LoRA adapter/ (a PEFT folder) instead of model/, and OUT/adapter. Only rank 0 calls these. Not here: gathering sharded (FSDP) state.
"""
import json
import os
import shutil
import time

from . import lora, safetensors


def _b36(n):
    digits, s = "0123456789abcdefghijklmnopqrstuvwxyz", ""
    while True:
        n, r = divmod(n, 36)
        s = digits[r] + s
        if n == 0:
            return s


def _temp_name(path):
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.{_b36(int(time.time() * 1000))}.tmp")


def write_dir_atomic(path, fill):
    """fill(tmp) writes the folder's contents into a fresh sibling, which then replaces path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = _temp_name(path)
    os.mkdir(tmp)
    try:
        fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.exists(path):
        old = _temp_name(path) + ".old"
        os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, path)


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def fill_model(folder, weights, config_text, dtype, carry):
    """A Hugging Face folder: config.json (text from TypeScript), model.safetensors, the carried tokenizer files."""
    os.makedirs(folder, exist_ok=True)
    write_text(os.path.join(folder, "config.json"), config_text)
    safetensors.write_file(os.path.join(folder, "model.safetensors"), weights, dtype)
    for f in carry:
        shutil.copyfile(f, os.path.join(folder, os.path.basename(f)))


def save_model(path, weights, config_text, dtype, carry):
    write_dir_atomic(path, lambda tmp: fill_model(tmp, weights, config_text, dtype, carry))


def save_adapter(path, tensors, config_text, dtype):
    write_dir_atomic(path, lambda tmp: lora.fill_adapter(tmp, tensors, config_text, dtype))


def save_checkpoint(path, weights, config_text, carry, moments, step, state, adapter_config=None):
    """moments: name -> (m, v); state: {step, totalSteps, fingerprint}. With adapter_config (LoRA) the weights are
    the adapter's, saved as adapter/ (a PEFT folder, F32) instead of model/, as src/train/checkpoint.ts does."""

    def fill(tmp):
        if adapter_config is not None:
            lora.fill_adapter(os.path.join(tmp, "adapter"), weights, adapter_config, "F32")
        else:
            fill_model(os.path.join(tmp, "model"), weights, config_text, "F32", carry)
        flat = {}
        for name, (m, v) in moments.items():
            flat[f"m.{name}"], flat[f"v.{name}"] = m.reshape(-1), v.reshape(-1)
        safetensors.write_file(os.path.join(tmp, "optimizer.safetensors"), flat, "F32", {"step": str(step)})
        write_text(os.path.join(tmp, "trainer_state.json"), json.dumps(state, indent=2) + "\n")

    write_dir_atomic(path, fill)


def load_moments(path):
    """name -> (m, v) flat float32 tensors of an optimizer.safetensors."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: optimizer state missing")
    t, _ = safetensors.read_file(path)
    return {k[2:]: (t[k], t.get("v." + k[2:])) for k in t if k.startswith("m.")}


def append_durable(path, line):
    with open(path, "a") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())

