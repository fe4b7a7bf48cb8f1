"""Peer: data-parallel training throughput in PyTorch (Debian's python3-torch):
DistributedDataParallel over gloo on this machine, N processes of one thread
each, beside `weft train --backend mpi --data-parallel N` (bench/mpi_scale.sh).
The step's batch --batch is split over the processes (B/N each), as weft's
replicas split it. Inputs are random: speed does not depend on the data.
  /usr/bin/python3 torch_ddp.py --model cnn --procs 2 --batch 64 --steps 50 --json
--fail kill|hang --fail-at K: process 1 dies (or stops answering) before step
K; prints how long after that the job ended (gloo's timeout: --timeout),
or that it still ran --limit seconds after (then its processes are killed).
Models: cnn (weft's cnn preset: two 3x3 convolutions 32 and 64 wide, pools,
128 hidden; SGD lr 0.05 momentum 0.9) and gpt-mini (torch_models.py's GPT;
AdamW lr 1e-3; batch 16 of 128 tokens)."""
import argparse, datetime, json, os, signal, tempfile, time
import torch, torch.nn as nn, torch.nn.functional as F
import torch.distributed as dist, torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP
from torch_models import GPT


def build(model):
    if model == "cnn":
        net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
        return net, torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    net = GPT()
    return net, torch.optim.AdamW(net.parameters(), lr=1e-3)


def worker(rank, a, port):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=a.procs, timeout=datetime.timedelta(seconds=a.timeout))
    torch.manual_seed(0)
    net, opt = build(a.model)
    run = DDP(net) if a.procs > 1 else net
    b = a.batch // a.procs

    def step():
        opt.zero_grad(set_to_none=True)
        if a.model == "cnn":
            loss = F.cross_entropy(run(torch.randn(b, 1, 28, 28)), torch.randint(0, 10, (b,)))
        else:
            x = torch.randint(0, 256, (b, 129))
            loss = F.cross_entropy(run(x[:, :-1]).reshape(-1, 256), x[:, 1:].reshape(-1))
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    dist.barrier()
    t0 = time.perf_counter()
    for k in range(a.steps):
        if a.fail and rank == 1 and k == a.fail_at:
            with open(a.mark, "w") as f:
                f.write(repr(time.time()))
            os.kill(os.getpid(), signal.SIGKILL if a.fail == "kill" else signal.SIGSTOP)
        step()
    dist.barrier()
    dt = time.perf_counter() - t0
    if rank == 0:
        out = {"peer": "pytorch-" + torch.__version__ + " DDP gloo", "model": a.model, "procs": a.procs,
               "batch": a.batch, "steps": a.steps, "samples_per_s": a.steps * a.batch / dt,
               "ms_per_step": 1000 * dt / a.steps}
        print(json.dumps(out) if a.json else f"pytorch DDP {a.model} x{a.procs}: {out['samples_per_s']:.0f} samples/s")
    dist.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["cnn", "gpt-mini"], default="cnn")
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--port", type=int, default=29571)
    p.add_argument("--fail", choices=["kill", "hang"])
    p.add_argument("--fail-at", type=int, default=20)
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--limit", type=float, default=60, help="give up on a job this long after the failure")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if not a.fail:
        mp.spawn(worker, args=(a, a.port), nprocs=a.procs)
    else:   # process 0's end, timed from process 1's failure (torch's own join
        # would wait on a stopped process for ever, so the processes are watched here)
        a.mark = tempfile.mktemp(prefix="torch_ddp_fail")
        ctx = mp.start_processes(worker, args=(a, a.port), nprocs=a.procs, join=False)
        p0, ended, t = ctx.processes[0], None, None
        while ended is None:
            time.sleep(0.01)
            failed = os.path.exists(a.mark) and os.path.getsize(a.mark) > 0
            if p0.exitcode is not None:
                ended = f"process 0 exited with {p0.exitcode}"
            elif failed and time.time() - float(open(a.mark).read()) > a.limit:
                ended = f"process 0 still running {a.limit:.0f} s after the failure"
        if os.path.exists(a.mark):
            if ended.startswith("process 0 exited"):
                t = time.time() - float(open(a.mark).read())
            os.unlink(a.mark)
        for q in ctx.processes:
            if q.is_alive():
                os.kill(q.pid, signal.SIGKILL)
        out = {"peer": "pytorch-" + torch.__version__ + " DDP gloo", "fail": a.fail, "ended": ended,
               "seconds_to_end": t, "timeout": a.timeout}
        print(json.dumps(out) if a.json else f"pytorch DDP: process 1 {a.fail}: {ended} ({t} s)")
