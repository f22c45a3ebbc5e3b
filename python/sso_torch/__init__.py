"""sso_torch: the PyTorch trainer behind `sso train --trainer torch`.

TypeScript stays the orchestrator: it tokenises the records into a shard, computes the step plan (record order,
learning rates, fingerprint) and the resolved config, and starts `python3 -m sso_torch launch PLAN.json`, which
starts one process per rank on this node. Here: the model (model.py), safetensors in and out (safetensors.py),
the objective (objective.py, a port of src/sso/objective.ts), one rank's training loop (train.py) and the
launcher (launch.py). Needs Python >= 3.10 and torch >= 1.13; transformers is used when importable.
"""
