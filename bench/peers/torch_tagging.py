"""Peer: bert-tiny trained by PyTorch for universal POS tagging on the same Brown data as weft.

The same model and recipe as `weft train --model bert-tiny`: vocabulary 8192 (8178 words + 14
unknown-word classes, written by build/bench_brown_tags), 2 pre-LN blocks, 2 heads, d 128, FFN 512,
128 tokens, bidirectional with weft's linear position bias on the attention scores (head 0 subtracts
1*(i-j) for earlier keys j and 8*(j-i) for later ones, head 1 the mirror: ALiBi, Press et al. 2022,
one slope per direction), linear head to 12 tags; embeddings N(0, 0.02^2), dropout 0.1 on the
embeddings and each residual branch; AdamW lr 2e-3, weight decay 0.01, cosine to 0 over the run
(warm-up optional), batch 32 random windows of the training token stream; validation accuracy
over every validation token (consecutive windows, the last one short).
  /usr/bin/python3 torch_tagging.py --train T.bin --val V.bin --steps 2550 --warmup 100 --json"""
import argparse, json, math, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--train", required=True)
p.add_argument("--val", required=True)
p.add_argument("--steps", type=int, default=255)
p.add_argument("--warmup", type=int, default=0)
p.add_argument("--lr", type=float, default=2e-3)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--json", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
DROP = 0.1
POS_SLOPES = ((1.0, 8.0), (8.0, 1.0))   # per head: keys before, keys after the query


def pos_bias(T, H):
    d = (torch.arange(T)[None, :] - torch.arange(T)[:, None]).float()   # j - i
    return torch.stack([torch.where(d < 0, -d * POS_SLOPES[h % 2][0], d * POS_SLOPES[h % 2][1]) for h in range(H)])

class Block(nn.Module):
    def __init__(s, d, h, ffn):
        super().__init__(); s.h = h
        s.ln1, s.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        s.qkv, s.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        s.fc1, s.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
    def forward(s, x):
        B, T, D = x.shape
        q, k, v = s.qkv(s.ln1(x)).split(D, 2)
        q, k, v = (t.view(B, T, s.h, D // s.h).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / (D // s.h) ** 0.5 - pos_bias(T, s.h)
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + F.dropout(s.proj(y), DROP, s.training)
        return x + F.dropout(s.fc2(F.gelu(s.fc1(s.ln2(x)))), DROP, s.training)

class BERT(nn.Module):
    def __init__(s, V=8192, L=2, H=2, D=128, FF=512, T=128, tags=12):
        super().__init__(); s.wte, s.wpe = nn.Embedding(V, D), nn.Embedding(T, D)
        nn.init.normal_(s.wte.weight, std=0.02); nn.init.normal_(s.wpe.weight, std=0.02)
        s.blocks = nn.ModuleList(Block(D, H, FF) for _ in range(L)); s.lnf = nn.LayerNorm(D); s.head = nn.Linear(D, tags)
    def forward(s, idx):
        x = F.dropout(s.wte(idx) + s.wpe(torch.arange(idx.shape[1])), DROP, s.training)
        for b in s.blocks: x = b(x)
        return s.head(s.lnf(x))

def load(path):
    a = np.fromfile(path, dtype=np.int32).reshape(2, -1).astype(np.int64)
    return torch.from_numpy(a[0]), torch.from_numpy(a[1])

trw, trt = load(a.train); vaw, vat = load(a.val)
B, T = 32, 128
net = BERT(); opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=0.01)
t0 = time.perf_counter()
for st in range(1, a.steps + 1):
    lr = a.lr * st / a.warmup if st <= a.warmup else \
        a.lr * 0.5 * (1 + math.cos(math.pi * (st - 1 - a.warmup) / max(1, a.steps - a.warmup)))
    for g in opt.param_groups: g["lr"] = lr
    off = torch.randint(0, len(trw) - T + 1, (B,))
    x = torch.stack([trw[o:o + T] for o in off]); y = torch.stack([trt[o:o + T] for o in off])
    loss = F.cross_entropy(net(x).reshape(-1, 12), y.reshape(-1))
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
train_s = time.perf_counter() - t0
net.eval(); correct = 0
with torch.no_grad():
    for o in range(0, len(vaw), T):
        correct += int((net(vaw[None, o:o + T])[0].argmax(-1) == vat[o:o + T]).sum())
out = {"peer": "pytorch-" + torch.__version__, "model": "bert-tiny", "steps": a.steps, "train_loss": float(loss),
       "test_acc": correct / len(vaw), "train_s": train_s}
print(json.dumps(out) if a.json else f"pytorch bert-tiny: validation accuracy {100 * correct / len(vaw):.2f}% after {a.steps} steps")
