"""Safetensors in and out without the safetensors package: a u64 little-endian header length, a JSON header
(name -> dtype, shape, data_offsets; optional __metadata__), then the raw little-endian bytes. Reads F32, BF16 and
F16 (widened to float32) from one file or a sharded folder (model.safetensors.index.json); writes F32 or BF16
(round to nearest even, as src/model/dtype.ts) with names sorted and the header padded to 8 bytes, as
src/model/safetensors.ts does. Not here: which tensors a model has.
"""
import json
import os
import struct

import torch

_READ = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
_SIZE = {"F32": 4, "BF16": 2, "F16": 2}


def read_file(path):
    """name -> float32 tensor, and the metadata dict."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8 : 8 + n])
    except ValueError as e:
        raise ValueError(f"{path}: unreadable safetensors header ({e})") from None
    meta = header.pop("__metadata__", {}) or {}
    out, base = {}, 8 + n
    for name, e in header.items():
        if e["dtype"] not in _READ:
            raise ValueError(f"{path}: tensor {name} has dtype {e['dtype']} (supported: F32, BF16, F16)")
        a, b = e["data_offsets"]
        raw = bytearray(data[base + a : base + b])
        t = torch.frombuffer(raw, dtype=_READ[e["dtype"]]) if raw else torch.empty(0, dtype=_READ[e["dtype"]])
        out[name] = t.reshape(e["shape"]).float()
    return out, meta


def read_folder(folder):
    """Every tensor of a model folder: model.safetensors, or the shards named by model.safetensors.index.json."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for name in files:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: missing weights file")
        tensors.update(read_file(path)[0])
    return tensors


def write_file(path, tensors, dtype="F32", metadata=None):
    """Writes name -> tensor (any float dtype) as one file in dtype F32 or BF16; durable (fsynced)."""
    names = sorted(tensors)
    parts = ['"__metadata__":' + json.dumps({"format": "pt", **(metadata or {})}, separators=(",", ":"))]
    blobs, offset = [], 0
    for name in names:
        t = tensors[name].detach().to("cpu").contiguous()
        if dtype == "F32":
            b = t.float().numpy().tobytes()
        elif dtype == "BF16":
            b = t.float().to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        else:
            raise ValueError(f"{path}: cannot write dtype {dtype}")
        entry = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        parts.append(json.dumps(name) + ":" + json.dumps(entry, separators=(",", ":")))
        offset += len(b)
        blobs.append(b)
    h = ("{" + ",".join(parts) + "}").encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
