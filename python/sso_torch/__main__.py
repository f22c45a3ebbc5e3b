"""Entry points: `python3 -m sso_torch launch PLAN.json` (start the ranks, launch.py), `rank PLAN.json` (one rank,
train.py; its failure as one line in DIR/rank-K.error), `check-plan PLAN.json` (plan.py's check alone; needs no
torch), `objective IN.json` (objective.py on {config, batches}, printing {loss, parts, grads} per batch as JSON),
`gpu-check [--small]` (gpucheck.py, for tools/gpu-check.sh), `version` (the torch version).
"""
import json
import os
import sys
import traceback


def main(argv):
    cmd = argv[0] if argv else ""
    if cmd == "version":
        import torch

        print(torch.__version__)
        return 0
    if cmd == "objective":
        from .objective import sso_objective

        with open(argv[1]) as f:
            spec = json.load(f)
        out = []
        for batch in spec["batches"]:
            loss, parts, grads = sso_objective(batch, spec["config"])
            out.append({"loss": loss, "parts": parts, "grads": grads})
        json.dump(out, sys.stdout)
        return 0
    if cmd == "launch":
        from .launch import main as launch
        from .plan import PlanError

        try:
            return launch(argv[1])
        except PlanError as e:
            print(f"launcher: {e}", flush=True)
            return 1
    if cmd == "gpu-check":
        from .gpucheck import main as gpu_check

        return gpu_check(argv[1:])
    if cmd == "check-plan":
        from .plan import PlanError, load_plan

        try:
            load_plan(argv[1])
        except PlanError as e:
            print(e, file=sys.stderr)
            return 1
        return 0
    if cmd == "rank":
        from .launch import die_with_parent

        die_with_parent()
        try:
            from .train import run

            run(argv[1])
            return 0
        except BaseException as e:  # noqa: BLE001 - every failure becomes the rank's one line
            traceback.print_exc()
            with open(argv[1]) as f:
                d = json.load(f)["dir"]
            msg = str(e).strip().split("\n")[0] or type(e).__name__
            if not isinstance(e, (ValueError, FileNotFoundError)) and type(e).__name__ != "StepError":
                msg = f"{type(e).__name__}: {msg}"
            with open(os.path.join(d, f"rank-{os.environ.get('RANK', '0')}.error"), "w") as f:
                f.write(msg + "\n")
            return 1
    print(f"usage: python3 -m sso_torch launch|rank|check-plan PLAN.json | objective IN.json | version (got {cmd!r})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
