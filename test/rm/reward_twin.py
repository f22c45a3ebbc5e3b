"""Rewards of a reward-model folder in PyTorch, as transformers' *ForSequenceClassification computes them: the
decoder (python/sso_torch's built-in module, float64), `score` = Linear(hidden, 1, bias=False) on every position,
then the pooled logit of each row of a right-padded batch at the rightmost token that is not pad_token_id
(transformers' `(token_indices * non_pad_mask).argmax(-1)`). An independent twin for test/rm/torch.test.ts.

usage: reward_twin.py FOLDER IDS.json  (a list of equal-length padded id rows) → JSON list of rewards on stdout
"""

import json
import sys

import torch

from sso_torch import safetensors
from sso_torch.model import CausalLM


def main(folder, ids_path):
    with open(f"{folder}/config.json") as f:
        c = json.load(f)
    tensors = safetensors.read_folder(folder)
    module = CausalLM({**c, "tie_word_embeddings": False}).double()
    module.lm_head = torch.nn.Linear(c["hidden_size"], c.get("num_labels", 1), bias=False).double()
    state = module.state_dict()
    with torch.no_grad():
        for k, v in state.items():
            src = "score.weight" if k == "lm_head.weight" else k
            if "inv_freq" not in k:
                v.copy_(tensors[src].double())
    with open(ids_path) as f:
        ids = torch.tensor(json.load(f), dtype=torch.long)
    with torch.no_grad():
        logits = module(ids)  # (B, T, 1)
    non_pad_mask = (ids != c["pad_token_id"]).to(torch.int32)
    token_indices = torch.arange(ids.shape[-1], dtype=torch.int32)
    last_non_pad_token = (token_indices * non_pad_mask).argmax(-1)
    pooled = logits[torch.arange(ids.shape[0]), last_non_pad_token, 0]
    print(json.dumps(pooled.tolist()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
