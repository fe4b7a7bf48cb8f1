"""Peer: gpt-mini or lstm-lm trained by PyTorch on the same Brown-corpus bytes as weft.

The same recipe as `weft train --model gpt-mini` (lstm-lm): byte vocabulary, batch 16,
context 128 (64), AdamW (lr 1e-3 (2e-3), betas 0.9/0.999, eps 1e-8, weight decay 0),
cosine schedule to 0 over the run, random training windows of ctx+1 bytes;
validation = consecutive non-overlapping windows of the validation text from
its start, up to 2^17 tokens, mean of the per-batch mean losses, bits per
byte = loss / ln 2. The text files come from build/bench_brown_text.
  /usr/bin/python3 torch_lm_brown.py --model lstm-lm --train T.txt --val V.txt --steps 300 --json"""
import argparse, json, math, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--train", required=True)
p.add_argument("--val", required=True)
p.add_argument("--model", choices=["gpt-mini", "lstm-lm"], default="gpt-mini")
p.add_argument("--steps", type=int, default=300)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--ctx", type=int, default=0, help="default: gpt-mini 128, lstm-lm 64")
p.add_argument("--lr", type=float, default=0, help="default: gpt-mini 1e-3, lstm-lm 2e-3")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--json", action="store_true")
a = p.parse_args()
if not a.ctx: a.ctx = 128 if a.model == "gpt-mini" else 64
if not a.lr: a.lr = 1e-3 if a.model == "gpt-mini" else 2e-3
torch.set_num_threads(a.threads); torch.manual_seed(a.seed)

class Block(nn.Module):
    def __init__(s, d, h):
        super().__init__(); s.h = h
        s.ln1, s.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        s.qkv, s.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        s.fc1, s.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
    def forward(s, x):
        B, T, D = x.shape
        q, k, v = s.qkv(s.ln1(x)).split(D, 2)
        q, k, v = (t.view(B, T, s.h, D // s.h).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / (D // s.h) ** 0.5
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        x = x + s.proj((att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D))
        return x + s.fc2(F.gelu(s.fc1(s.ln2(x))))

class GPT(nn.Module):
    def __init__(s, V=256, L=4, H=4, D=256, T=128):
        super().__init__(); s.wte, s.wpe = nn.Embedding(V, D), nn.Embedding(T, D)
        s.blocks = nn.ModuleList(Block(D, H) for _ in range(L)); s.lnf = nn.LayerNorm(D)
    def forward(s, idx):
        x = s.wte(idx) + s.wpe(torch.arange(idx.shape[1]))
        for b in s.blocks: x = b(x)
        return s.lnf(x) @ s.wte.weight.t()

class LSTMLM(nn.Module):
    def __init__(s, V=256, E=128, H=512):
        super().__init__(); s.emb = nn.Embedding(V, E); s.lstm = nn.LSTM(E, H, 2, batch_first=True); s.out = nn.Linear(H, V)
    def forward(s, idx): return s.out(s.lstm(s.emb(idx))[0])

train = torch.from_numpy(np.fromfile(a.train, dtype=np.uint8).astype(np.int64))
val = torch.from_numpy(np.fromfile(a.val, dtype=np.uint8).astype(np.int64))
B, T = a.batch, a.ctx
net = GPT(T=T) if a.model == "gpt-mini" else LSTMLM()
opt = torch.optim.AdamW(net.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
t0 = time.perf_counter()
for step in range(1, a.steps + 1):
    for g in opt.param_groups:   # weft's cosine: full rate at step 1, towards 0 at the end
        g["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / a.steps))
    off = torch.randint(0, len(train) - T, (B,))
    x = torch.stack([train[o:o + T] for o in off]); y = torch.stack([train[o + 1:o + T + 1] for o in off])
    loss = F.cross_entropy(net(x).reshape(-1, 256), y.reshape(-1))
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
train_s = time.perf_counter() - t0
with torch.no_grad():
    windows = min((len(val) - 1) // T, (1 << 17) // T)
    losses = []
    for k in range(windows // B):
        offs = [(k * B + b) * T for b in range(B)]
        x = torch.stack([val[o:o + T] for o in offs]); y = torch.stack([val[o + 1:o + T + 1] for o in offs])
        losses.append(F.cross_entropy(net(x).reshape(-1, 256), y.reshape(-1)).item())
vl = sum(losses) / len(losses)
out = {"peer": "pytorch-" + torch.__version__, "model": a.model, "steps": a.steps, "batch": B,
       "train_loss": float(loss), "val_loss": vl, "val_bpb": vl / math.log(2), "train_s": train_s}
print(json.dumps(out) if a.json else f"pytorch {a.model}: val {vl / math.log(2):.4f} bits per byte after {a.steps} steps")
