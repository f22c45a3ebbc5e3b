"""Our launcher (torchrun's elastic agent is not needed and crashes on some installs): starts one process per
local rank with MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE/LOCAL_RANK set, each writing its output to
DIR/rank-K.log and, when it fails, one line to DIR/rank-K.error. When a rank fails, the others are killed (they
would wait in a collective) and the first failure is printed as one line on stdout: "rank K: MESSAGE". The
launcher and its ranks die with their parent (PR_SET_PDEATHSIG), so a killed `sso` leaves no rank writing.
"""
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time


def die_with_parent():
    """Linux: SIGKILL this process when its parent dies (elsewhere a no-op)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(plan_path):
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(1)
    with open(plan_path) as f:
        plan = json.load(f)
    d, t = plan["dir"], plan["torch"]
    nproc, nnodes, node = t["nproc"], t["nnodes"], t["nodeRank"]
    world = nproc * nnodes
    port = t["masterPort"] or free_port()
    procs = {}
    for local in range(nproc):
        rank = node * nproc + local
        env = dict(os.environ, MASTER_ADDR=t["masterAddr"], MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(local), LOCAL_WORLD_SIZE=str(nproc))
        for f in (f"rank-{rank}.error",):
            if os.path.exists(os.path.join(d, f)):
                os.remove(os.path.join(d, f))
        log = open(os.path.join(d, f"rank-{rank}.log"), "w")
        procs[rank] = subprocess.Popen([sys.executable, "-m", "sso_torch", "rank", plan_path], env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    failed = None
    while procs:
        for rank, p in list(procs.items()):
            rc = p.poll()
            if rc is None:
                continue
            del procs[rank]
            if rc != 0 and failed is None:
                failed = (rank, rc)
                for q in procs.values():
                    q.kill()
        time.sleep(0.02)
    if failed is None:
        return 0
    rank, rc = failed
    err = os.path.join(d, f"rank-{rank}.error")
    if os.path.exists(err):
        with open(err) as f:
            msg = f.read().strip().split("\n")[0]
    else:
        how = f"was killed by {signal.Signals(-rc).name}" if rc < 0 else f"exited with code {rc}"
        msg = f"the process {how} (see {os.path.join(d, f'rank-{rank}.log')})"
    print(f"rank {rank}: {msg}", flush=True)
    return 1
