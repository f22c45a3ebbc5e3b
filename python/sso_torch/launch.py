"""Our launcher (torchrun's elastic agent is not needed and crashes on some installs): starts one process per
local rank with MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE/LOCAL_RANK set, each writing its output to
DIR/rank-K.log and, when it fails, one line to DIR/rank-K.error. When a rank fails, the others are killed (they
would wait in a collective) and the first failure is printed as one line on stdout: "rank K: MESSAGE".

No hangs: on node 0 the launcher itself hosts the rendezvous store (a TCPStore bound before any rank starts, on
port 0 = a port the kernel picks, so two runs on one machine cannot collide), and the ranks join it as clients.
A start-up watchdog: a rank that has not written DIR/rank-K.ready (after init_process_group) within
train.torch.startupTimeout seconds stops every rank, as does a rank that exits early; the line names the rank
(one that never wrote DIR/rank-K.joining, i.e. never reached the rendezvous, before those waiting in it),
the rendezvous address and port and the last line of the rank's log. The ranks share one process group, killed
as a whole; the launcher and its ranks die with their parent (PR_SET_PDEATHSIG), so a killed `sso` leaves no
rank writing. One node: gloo is held to the loopback interface (GLOO_SOCKET_IFNAME) unless the caller set it.
"""
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time

from .plan import load_plan


def die_with_parent():
    """Linux: SIGKILL this process when its parent dies (elsewhere a no-op)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def last_log_line(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            lines = [l.strip() for l in f.read().decode("utf8", "replace").split("\n") if l.strip()]
    except OSError:
        return "no log"
    return f"last log line: {lines[-1]}" if lines else "its log is empty"


def host_store(addr, port, world):
    """Node 0: the TCPStore the ranks rendezvous on, bound now (port 0 = the kernel's choice); (store, port)."""
    from datetime import timedelta

    import torch.distributed as dist

    try:
        store = dist.TCPStore(addr, port, world, True, timedelta(seconds=60), wait_for_workers=False)
    except RuntimeError as e:
        raise SystemExit(f"launcher: cannot listen on {addr}:{port} for the rendezvous ({str(e).splitlines()[0]})") from None
    return store, store.port


def loopback_interface():
    names = {n for _, n in socket.if_nameindex()} if hasattr(socket, "if_nameindex") else set()
    return next((n for n in ("lo", "lo0") if n in names), None)


def main(plan_path):
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(1)
    plan = load_plan(plan_path)
    d, t = plan["dir"], plan["torch"]
    nproc, nnodes, node = t["nproc"], t["nnodes"], t["nodeRank"]
    world, limit = nproc * nnodes, t["startupTimeout"]
    addr, port, store = t["masterAddr"], t["masterPort"], None
    if (world > 1 or t["fsdp"]) and node == 0:  # FSDP needs a process group even at world size 1
        store, port = host_store(addr, port, world)  # held until every rank is gone
    extra = {}
    lo = loopback_interface()
    if nnodes == 1 and lo and "GLOO_SOCKET_IFNAME" not in os.environ:
        extra["GLOO_SOCKET_IFNAME"] = lo
    procs, group = {}, [0]

    def spawn_setup():
        die_with_parent()
        os.setpgid(0, group[0])  # the first rank leads a new group; the others join it

    def stop_all():
        if group[0]:
            try:
                os.killpg(group[0], signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in procs.values():
            p.kill()

    def on_term(signum, _frame):
        stop_all()
        for p in procs.values():
            p.wait()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    started = time.monotonic()
    for local in range(nproc):
        rank = node * nproc + local
        env = dict(os.environ, MASTER_ADDR=addr, MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(local), LOCAL_WORLD_SIZE=str(nproc), **extra)
        for f in (f"rank-{rank}.error", f"rank-{rank}.joining", f"rank-{rank}.ready"):
            if os.path.exists(os.path.join(d, f)):
                os.remove(os.path.join(d, f))
        with open(os.path.join(d, f"rank-{rank}.log"), "w") as log:
            procs[rank] = subprocess.Popen([sys.executable, "-m", "sso_torch", "rank", plan_path], env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=spawn_setup)
        if not group[0]:
            group[0] = procs[rank].pid
    failed, waiting = None, set(procs)
    while procs:
        for rank in [r for r in waiting if os.path.exists(os.path.join(d, f"rank-{r}.ready"))]:
            waiting.discard(rank)
        for rank, p in list(procs.items()):
            rc = p.poll()
            if rc is None:
                continue
            del procs[rank]
            if rc != 0 and failed is None:
                failed = (rank, f"exited before init_process_group (code {rc})" if rank in waiting and world > 1 else None, rc)
                stop_all()
        if failed is None and waiting and world > 1 and time.monotonic() - started > limit:
            # The culprit is a rank that never reached the rendezvous; those inside it wait for that one.
            absent = sorted(r for r in waiting if not os.path.exists(os.path.join(d, f"rank-{r}.joining")))
            rank = (absent or sorted(waiting))[0]
            what = "did not reach" if absent else "did not pass"
            failed = (rank, f"{what} init_process_group within {limit:g} s (train.torch.startupTimeout)", None)
            stop_all()
        time.sleep(0.02)
    del store
    if failed is None:
        return 0
    rank, early, rc = failed
    log = os.path.join(d, f"rank-{rank}.log")
    err = os.path.join(d, f"rank-{rank}.error")
    where = f"; rendezvous {addr}:{port}" if world > 1 else ""
    if os.path.exists(err):
        with open(err) as f:
            msg = f.read().strip().split("\n")[0]
        if early is not None:
            msg = f"{msg} (before init_process_group{where})"
    elif early is not None:
        msg = f"{early}{where}; {last_log_line(log)} ({log})"
    else:
        how = f"was killed by {signal.Signals(-rc).name}" if rc < 0 else f"exited with code {rc}"
        msg = f"the process {how}; {last_log_line(log)} ({log})"
    print(f"rank {rank}: {msg}", flush=True)
    return 1
