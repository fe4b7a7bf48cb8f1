"""The model fixtures of gen_fixtures.py (its docstring documents them): mlp, cnn,
gpt, lstm-lm, bert-tiny, dlrm-small and resnet against PyTorch."""
from fixture_util import *  # noqa: F401,F403 (the writer, rounding, seeds)

MASK64 = (1 << 64) - 1

def fnv1a64(s):
    h = 1469598103934665603
    for ch in s.encode():
        h = ((h ^ ch) * 1099511628211) & MASK64
    return h


def gen_param(name, shape, fan_in):
    """The initial values of parameter `name` (see the module docstring)."""
    return gen_uniform(name, shape, np.float32(1.0) / np.sqrt(np.float32(fan_in)))


def gen_uniform(name, shape, bound, center=0.0):
    """center + U(-bound, bound) from the keyed splitmix64 (the docstring);
    float32 throughout, the center added last and only when it is not 0."""
    n = int(np.prod(shape))
    key = np.uint64((MODEL_SEED ^ fnv1a64(name)) & MASK64)
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = key + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    v = ((np.float32(2.0) * u - np.float32(1.0)) * np.float32(bound)).astype(np.float32)
    if center != 0.0:
        v = (np.float32(center) + v).astype(np.float32)
    return v.reshape(shape)


# (name, shape, fan_in) in the order weft's zoo declares them.
MODEL_PARAMS = {
    "mlp": [("fc1.weight", (256, 784), 784), ("fc1.bias", (256,), 784),
            ("fc2.weight", (256, 256), 256), ("fc2.bias", (256,), 256),
            ("fc3.weight", (10, 256), 256), ("fc3.bias", (10,), 256)],
    "cnn": [("conv1.weight", (32, 1, 3, 3), 9), ("conv1.bias", (32,), 9),
            ("conv2.weight", (64, 32, 3, 3), 288), ("conv2.bias", (64,), 288),
            ("fc1.weight", (128, 3136), 3136), ("fc1.bias", (128,), 3136),
            ("fc2.weight", (10, 128), 128), ("fc2.bias", (10,), 128)],
}


class _RoundBoth(torch.autograd.Function):
    """bf16 rounding of a value and of the gradient that comes back to it."""
    @staticmethod
    def forward(ctx, x):
        return bf16_round(x)

    @staticmethod
    def backward(ctx, g):
        return bf16_round(g)


class _RoundGrad(torch.autograd.Function):
    """Identity forward; the gradient leaving this point is rounded to bf16."""
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return bf16_round(g)


def ident(t):
    return t


def model_forward(kind, p, x, rnd=ident, gr=ident):
    """The zoo's model as functions of a parameter dict. rnd() is applied to
    every op's output and gr() to every input of a linear/conv and to the
    logits before the loss: identities for fp32, bf16 rounding (of values and
    of the gradients leaving each backward node) to emulate weft's bf16."""
    def lin(h, n, relu):
        z = F.linear(gr(h), gr(p[n + ".weight"]), gr(p[n + ".bias"]))
        return rnd(torch.relu(z) if relu else z)

    def conv(h, n):
        return rnd(torch.relu(F.conv2d(gr(h), gr(p[n + ".weight"]), gr(p[n + ".bias"]), padding=1)))

    if kind == "mlp":
        h = x.reshape(x.shape[0], 784)
        h = lin(h, "fc1", True)
        h = lin(h, "fc2", True)
        return gr(lin(h, "fc3", False))
    h = rnd(F.max_pool2d(conv(x, "conv1"), 2, 2))
    h = rnd(F.max_pool2d(conv(h, "conv2"), 2, 2))
    h = h.reshape(h.shape[0], 64 * 7 * 7)
    h = lin(h, "fc1", True)
    return gr(lin(h, "fc2", False))


def add_grads(tensors, prefix, params, p, gen):
    """grad.<name> in full, or sampled with the norms of the whole (see the docstring)."""
    for name, _, _ in params:
        g = p[name].grad.reshape(-1)
        if g.numel() <= FULL_GRAD_MAX:
            tensors.append((f"{prefix}grad.{name}", f32(p[name].grad)))
        else:
            idx = torch.sort(torch.randperm(g.numel(), generator=gen)[:GRAD_SAMPLES]).values
            tensors.append((f"{prefix}grad.{name}.idx", idx.to(torch.int32).numpy()))
            tensors.append((f"{prefix}grad.{name}.val", f32(g[idx])))
            norms = torch.stack([g.abs().sum(), g.pow(2).sum().sqrt()])
            tensors.append((f"{prefix}grad.{name}.norms", f32(norms)))


def load_fmnist(data_dir):
    with gzip.open(os.path.join(data_dir, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(data_dir, "train-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return x, y


def train_losses(kind, init, x, y, make_opt, steps=3):
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in init.items()}
    opt = make_opt(list(p.values()))
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model_forward(kind, p, x), y)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    return np.array(losses, dtype=np.float32)


def gen_model(kind, images, labels, sample_idx, gen, out_dir):
    params = MODEL_PARAMS[kind]
    init = {name: gen_param(name, shape, fan) for name, shape, fan in params}
    x64 = torch.tensor(images, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.long)
    tensors = [("images", images.astype(np.float32)), ("labels", labels.astype(np.int32))]
    for name, _, _ in params:
        tensors.append((f"init.{name}", init[name].reshape(-1)[:16].copy()))

    # fp32 forward/backward, reference in float64 from the fp32 values.
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in init.items()}
    logits = model_forward(kind, p, x64)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    tensors += [("logits", f32(logits)), ("loss", f32(loss))]
    add_grads(tensors, "", params, p, gen)

    sgd = train_losses(kind, init, x64, y, lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9,
                                                                       weight_decay=0.0))
    tensors.append(("sgd.losses", sgd))
    if kind == "mlp":
        adamw = train_losses(kind, init, x64, y, lambda ps: torch.optim.AdamW(
            ps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01))
        tensors.append(("adamw.losses", adamw))

    # bf16: params and images rounded to bf16, computed in fp32 ("bf16."), and
    # the same with every op's output and every backward node's output rounded
    # to bf16 as weft's bf16 policy does ("bf16.emul.").
    xb = bf16_round(torch.tensor(images))
    pb = {k: bf16_round(torch.tensor(v)) for k, v in init.items()}
    with torch.no_grad():
        lb = model_forward(kind, pb, xb)
    pe = {k: bf16_round(torch.tensor(v)).requires_grad_(True) for k, v in init.items()}
    le = model_forward(kind, pe, xb, rnd=_RoundBoth.apply, gr=_RoundGrad.apply)
    se = F.cross_entropy(le, y)
    se.backward()
    tensors += [("bf16.logits", f32(lb)), ("bf16.loss", f32(F.cross_entropy(lb, y))),
                ("bf16.emul.logits", f32(le)), ("bf16.emul.loss", f32(se))]
    add_grads(tensors, "bf16.emul.", params, pe, gen)
    meta = {"model": kind, "batch": BATCH, "model_seed": MODEL_SEED, "train_indices":
            ",".join(str(i) for i in sample_idx), "generator": "scripts/gen_fixtures.py",
            "torch": torch.__version__}
    path = os.path.join(out_dir, f"model_{kind}.safetensors")
    write_safetensors(path, tensors, meta)
    print(f"{path}: loss {loss.item():.6f}, sgd {sgd.tolist()}")
    return path


# ---- the gpt fixture ---------------------------------------------------------------
# A tiny GPT built by weft_model_build_gpt (src/models/gpt.c), the shape of
# the peer's torch_models.py GPT: token + position embeddings, pre-LN blocks
# (LN -> fused qkv -> causal multi-head attention -> proj, residual; LN ->
# fc1 -> GELU (erf) -> fc2, residual), final LN, logits = lnf(x) wte^T (tied,
# no bias). Loss: cross-entropy, mean over the B*T tokens.

GPT_CFG = dict(vocab=13, layers=2, heads=2, d_model=8, ctx=6, batch=2)
# Fixed ids: repeats (token 3 three times, 7 twice) make the embedding
# gradient accumulate; rows 4, 6, 8, 10 are never inputs, so their wte
# gradient is the output projection's alone.
GPT_TOKENS = [[3, 7, 7, 1, 12, 0], [5, 3, 9, 3, 2, 11]]
GPT_TARGETS = [[7, 7, 1, 12, 0, 4], [3, 9, 3, 2, 11, 6]]
GPT_EMBED_BOUND = 0.5     # wte, wpe: U(-0.5, 0.5), so the tied logits stay moderate
GPT_LN_W_BOUND = 0.2      # layer norm weights: 1 + U(-0.2, 0.2)
GPT_LN_B_BOUND = 0.1      # layer norm biases: U(-0.1, 0.1)


def gpt_params(cfg):
    """(name, shape, center, bound) in the order weft_model_build_gpt declares
    them. Linear layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and
    bias, as PyTorch's nn.Linear."""
    V, L, D, T = cfg["vocab"], cfg["layers"], cfg["d_model"], cfg["ctx"]
    FF, NC = cfg.get("ffn") or 4 * D, cfg.get("classes", 0)   # bert: its FFN width, its head

    def lin_bound(fan_in):
        return np.float32(1.0) / np.sqrt(np.float32(fan_in))

    def ln(n):
        return [(n + ".weight", (D,), 1.0, np.float32(GPT_LN_W_BOUND)),
                (n + ".bias", (D,), 0.0, np.float32(GPT_LN_B_BOUND))]

    def lin(n, i, o):
        return [(n + ".weight", (o, i), 0.0, lin_bound(i)), (n + ".bias", (o,), 0.0, lin_bound(i))]

    ps = [("wte.weight", (V, D), 0.0, np.float32(GPT_EMBED_BOUND)),
          ("wpe.weight", (T, D), 0.0, np.float32(GPT_EMBED_BOUND))]
    for l in range(L):
        b = f"blocks.{l}."
        ps += ln(b + "ln1") + lin(b + "qkv", D, 3 * D) + lin(b + "proj", D, D)
        ps += ln(b + "ln2") + lin(b + "fc1", D, FF) + lin(b + "fc2", FF, D)
    return ps + ln("lnf") + (lin("head", D, NC) if NC else [])


def pos_bias(T, H, back, ahead):
    """(H,T,T) linear position bias weft subtracts from attention scores:
    even heads back*(i-j) on earlier keys j, ahead*(j-i) on later ones; odd
    heads mirrored (weft_g_attention_pos). Zero when both slopes are 0."""
    d = (torch.arange(T)[None, :] - torch.arange(T)[:, None]).float()   # j - i
    out = torch.zeros(H, T, T)
    for h in range(H):
        b, a = (ahead, back) if h % 2 else (back, ahead)
        out[h] = torch.where(d < 0, -d * b, d * a)
    return out


def attention_ref(qkv, H, causal=True, slopes=(0.0, 0.0)):
    """torch_models.py's Block attention on a (B,T,3D) qkv (bert: not causal,
    with weft's position bias of slopes (back, ahead))."""
    B, T, D3 = qkv.shape
    D = D3 // 3
    q, k, v = qkv.split(D, 2)
    q, k, v = (t.view(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))
    att = (q @ k.transpose(-2, -1)) / (D // H) ** 0.5
    if any(slopes):
        att = att - pos_bias(T, H, *slopes)
    if causal:
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)


class _AttentionBf16(torch.autograd.Function):
    """Attention as weft's bf16 policy runs it: the forward in fp32 (P fp32
    inside the op), P stored rounded to bf16 for the backward, which computes
    dv = P^T dy, dP = dy v^T, dS = P (dP - rowsum(P dP)) / sqrt(Dh),
    dq = dS k, dk = dS^T q in fp32 from that rounded P."""
    @staticmethod
    def forward(ctx, qkv, H, causal, slopes=(0.0, 0.0)):
        B, T, D3 = qkv.shape
        D = D3 // 3
        q, k, v = (t.reshape(B, T, H, D // H).transpose(1, 2) for t in qkv.split(D, 2))
        s = (q @ k.transpose(-2, -1)) * (1.0 / (D // H) ** 0.5)
        if any(slopes):
            s = s - pos_bias(T, H, *slopes)
        if causal:
            s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        P = s.softmax(-1)
        ctx.save_for_backward(q, k, v, bf16_round(P))
        ctx.H = H
        return (P @ v).transpose(1, 2).reshape(B, T, D)

    @staticmethod
    def backward(ctx, dy):
        q, k, v, P = ctx.saved_tensors
        B, H, T, Dh = q.shape
        dyh = dy.reshape(B, T, H, Dh).transpose(1, 2)
        dv = P.transpose(-2, -1) @ dyh
        dP = dyh @ v.transpose(-2, -1)
        dS = P * (dP - (P * dP).sum(-1, keepdim=True)) * (1.0 / Dh ** 0.5)
        dq, dk = dS @ k, dS.transpose(-2, -1) @ q
        merge = [t.transpose(1, 2).reshape(B, T, H * Dh) for t in (dq, dk, dv)]
        return torch.cat(merge, 2), None, None, None


def gpt_forward(cfg, p, tok, pos, rnd=ident, gr=ident, attn=attention_ref):
    """logits (B*T, V) of weft's graph; rnd/gr as in model_forward (rnd on
    every op's output, gr on every input of a linear, layer norm and
    attention and on the embedding tables). bert (cfg bidirectional, ffn,
    classes): attention not causal, logits from a linear head (B*T, classes)."""
    B, T = tok.shape
    D, H = cfg["d_model"], cfg["heads"]
    causal = not cfg.get("bidirectional", False)
    slopes = (cfg.get("pos_back", 0.0), cfg.get("pos_ahead", 0.0))

    def lin(h, n):
        return rnd(F.linear(gr(h), gr(p[n + ".weight"]), gr(p[n + ".bias"])))

    def ln(h, n):
        return rnd(F.layer_norm(gr(h), (D,), gr(p[n + ".weight"]), gr(p[n + ".bias"]), 1e-5))

    x = rnd(F.embedding(tok, gr(p["wte.weight"])) + F.embedding(pos, gr(p["wpe.weight"])))
    x = x.reshape(B * T, D)
    for l in range(cfg["layers"]):
        b = f"blocks.{l}."
        h = lin(ln(x, b + "ln1"), b + "qkv").reshape(B, T, 3 * D)
        h = rnd(attn(gr(h), H, causal, slopes)).reshape(B * T, D)
        x = rnd(x + lin(h, b + "proj"))
        h = rnd(F.gelu(gr(lin(ln(x, b + "ln2"), b + "fc1"))))
        x = rnd(x + lin(h, b + "fc2"))
    x = ln(x, "lnf")
    if cfg.get("classes"):
        return gr(lin(x, "head"))
    return gr(rnd(F.linear(gr(x), gr(p["wte.weight"]))))


def gen_gpt(out_dir):
    cfg = GPT_CFG
    B, T = cfg["batch"], cfg["ctx"]
    params = gpt_params(cfg)
    init = {name: gen_uniform(name, shape, bound, center) for name, shape, center, bound in params}
    tok = torch.tensor(GPT_TOKENS, dtype=torch.long)
    pos = torch.arange(T).repeat(B, 1)
    y = torch.tensor(GPT_TARGETS, dtype=torch.long).reshape(-1)
    assert tok.shape == (B, T) and int(tok.max()) < cfg["vocab"] and int(y.max()) < cfg["vocab"]
    tensors = [("tokens", tok.to(torch.int32).numpy()), ("positions", pos.to(torch.int32).numpy()),
               ("targets", y.to(torch.int32).numpy())]
    for name, _, _, _ in params:
        tensors.append((f"init.{name}", init[name].reshape(-1)[:16].copy()))

    def fresh(dtype=torch.float64):
        return {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in init.items()}

    # fp32: reference in float64 from the fp32 values. The tied wte's
    # gradient is autograd's sum of its two uses (embedding, output projection).
    p = fresh()
    logits = gpt_forward(cfg, p, tok, pos)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    tensors += [("logits", f32(logits)), ("loss", f32(loss))]
    for name, _, _, _ in params:
        tensors.append((f"grad.{name}", f32(p[name].grad)))

    # Three AdamW steps on the same batch; loss k before update k.
    p = fresh()
    opt = torch.optim.AdamW(list(p.values()), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        l = F.cross_entropy(gpt_forward(cfg, p, tok, pos), y)
        l.backward()
        losses.append(l.item())
        opt.step()
    adamw = np.array(losses, dtype=np.float32)
    tensors.append(("adamw.losses", adamw))

    # bf16 (as the image models): fp32 from the bf16-rounded params, and the
    # twin that rounds every op's output and every backward node's output,
    # with attention's P kept in bf16 for the backward. Every gradient of a
    # bf16 parameter is bf16 in weft (the tied wte's: the rounded sum of two
    # rounded contributions), so the twin's are rounded once at the end.
    pb = {k: bf16_round(torch.tensor(v)) for k, v in init.items()}
    with torch.no_grad():
        lb = gpt_forward(cfg, pb, tok, pos)
    pe = {k: bf16_round(torch.tensor(v)).requires_grad_(True) for k, v in init.items()}
    le = gpt_forward(cfg, pe, tok, pos, rnd=_RoundBoth.apply, gr=_RoundGrad.apply, attn=_AttentionBf16.apply)
    se = F.cross_entropy(le, y)
    se.backward()
    tensors += [("bf16.logits", f32(lb)), ("bf16.loss", f32(F.cross_entropy(lb, y))),
                ("bf16.emul.logits", f32(le)), ("bf16.emul.loss", f32(se))]
    for name, _, _, _ in params:
        tensors.append((f"bf16.emul.grad.{name}", f32(bf16_round(pe[name].grad))))
    meta = dict(model="gpt", model_seed=MODEL_SEED, generator="scripts/gen_fixtures.py",
                torch=torch.__version__, **cfg)
    path = os.path.join(out_dir, "model_gpt.safetensors")
    write_safetensors(path, tensors, meta)
    print(f"{path}: loss {loss.item():.6f}, |logits| max {logits.abs().max().item():.3f}, adamw {adamw.tolist()}")
    return path


# ---- the lstm-lm, bert-tiny, dlrm-small and resnet fixtures ------------------------
# Small sizes of the presets' builders (src/models/nets.c, gpt.c), as the C
# test builds them (the metadata says which). One driver (gen_net) writes
# the same tensors as the gpt fixture, and both optimizers' three steps:
#   <inputs>, init.<param>, logits, loss, grad.<param> (full, or sampled as
#   the image models'), sgd.losses, adamw.losses, bf16.logits, bf16.loss,
#   bf16.emul.logits, bf16.emul.loss, bf16.emul.grad.<param>
# and where a model has them:
#   steps.sparse I32 (3,B,26)  dlrm: the ids of steps 1..3 (step 1's are
#                    "sparse"): different rows each step, so the lazy update
#                    of the table (below) shows
#   <opt>.final.<name> F32     after the three steps: dlrm's table and its
#                    optimizer state (emb.weight.momentum / .exp_avg /
#                    .exp_avg_sq), resnet's running statistics
#                    (<bn>.running_mean / .running_var)
#   <opt>.eval.logits F32      resnet: an eval-mode forward after the steps
# Initial values: the generator above, U(-bound, bound); embedding tables
# (emb.weight) bound 0.5 as the gpt's; batch norm weights 1 + U(-0.2, 0.2)
# and biases U(-0.1, 0.1) as the gpt's layer norms (the builders start
# them at 1 and 0: random values exercise their gradients); LSTM weights and
# biases U(-1/sqrt(H), 1/sqrt(H)) as nn.LSTM; linear and conv layers
# 1/sqrt(fan_in) as nn.Linear/nn.Conv2d.

LSTM_CFG = dict(vocab=11, layers=2, d_model=16, ctx=6, batch=3, embed=128)
BERT_CFG = dict(vocab=13, layers=2, heads=2, d_model=8, ctx=5, bidirectional=1, ffn=12, classes=12, batch=2,
                pos_back=0.5, pos_ahead=4.0)
DLRM_CFG = dict(d_model=4, rows=7, tables=26, dense=13, batch=4)
RESNET_CFG = dict(layers=8, d_model=4, batch=BATCH)
EMBED_BOUND = 0.5    # lstm's and dlrm's emb.weight, as GPT_EMBED_BOUND
SGD_HP = dict(lr=0.05, momentum=0.9, weight_decay=0.0)
ADAMW_HP = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)


def lin_p(n, i, o):
    b = np.float32(1.0) / np.sqrt(np.float32(i))
    return [(n + ".weight", (o, i), 0.0, b), (n + ".bias", (o,), 0.0, b)]


def lstm_params(cfg):
    V, L, H, E = cfg["vocab"], cfg["layers"], cfg["d_model"], cfg["embed"]
    b = np.float32(1.0) / np.sqrt(np.float32(H))
    ps = [("emb.weight", (V, E), 0.0, np.float32(EMBED_BOUND))]
    for l in range(L):
        ps += [(f"lstm.weight_ih_l{l}", (4 * H, H if l else E), 0.0, b), (f"lstm.weight_hh_l{l}", (4 * H, H), 0.0, b),
               (f"lstm.bias_ih_l{l}", (4 * H,), 0.0, b), (f"lstm.bias_hh_l{l}", (4 * H,), 0.0, b)]
    return ps + lin_p("out", H, V)


class _LstmBf16(torch.autograd.Function):
    """One LSTM layer (x (T,B,I) time-major, zero initial state) as weft's
    bf16 policy runs it (src/kernels/rnn.c): the forward in fp32 over the
    whole sequence (h and c fp32 inside the op), the activated gates, the
    cell states and y stored rounded to bf16; the backward in fp32 from
    those rounded values: dA of each step from the gates, c and tanh(c),
    dh of the previous step dA W_hh, then dx = dA W_ih, dW_ih = dA^T x,
    dW_hh = dA[1:]^T y[:-1], db = column sums of dA (both biases)."""
    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        T, B, _ = x.shape
        H = w_hh.shape[1]
        h, c = x.new_zeros(B, H), x.new_zeros(B, H)
        ys, gs, cs = [], [], []
        for t in range(T):
            a = (x[t] @ w_ih.t() + h @ w_hh.t()) + b_ih + b_hh
            i, f, g, o = a.chunk(4, 1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            ys.append(h)
            gs.append(torch.cat([i, f, g, o], 1))
            cs.append(c)
        y = torch.stack(ys)
        ctx.save_for_backward(x, w_ih, w_hh, bf16_round(torch.stack(gs)), bf16_round(torch.stack(cs)), bf16_round(y))
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w_ih, w_hh, G, C, Y = ctx.saved_tensors
        T, B, I = x.shape
        H = w_hh.shape[1]
        dh, dc = x.new_zeros(B, H), x.new_zeros(B, H)
        da = x.new_zeros(T, B, 4 * H)
        for t in reversed(range(T)):
            i, f, g, o = G[t].chunk(4, 1)
            cp = C[t - 1] if t else x.new_zeros(B, H)
            tc = torch.tanh(C[t])
            dht = dh + dy[t]
            dct = dht * o * (1.0 - tc * tc) + dc
            da[t] = torch.cat([dct * g * i * (1.0 - i), dct * cp * f * (1.0 - f), dct * i * (1.0 - g * g),
                               dht * tc * o * (1.0 - o)], 1)
            dc = dct * f
            dh = da[t] @ w_hh
        dx = (da.reshape(T * B, 4 * H) @ w_ih).reshape(T, B, I)
        dw_ih = da.reshape(T * B, 4 * H).t() @ x.reshape(T * B, I)
        dw_hh = da[1:].reshape(-1, 4 * H).t() @ Y[:-1].reshape(-1, H)
        db = da.sum((0, 1))
        return dx, dw_ih, dw_hh, db, db


def lstm_forward(cfg, p, inp, rnd=ident, gr=ident, bf16=False, **_):
    """logits (B*T, V): embedding, time-major LSTM layers, linear."""
    tok = inp["tokens"]
    B, T = tok.shape
    h = rnd(F.embedding(tok, gr(p["emb.weight"]))).transpose(0, 1)
    for l in range(cfg["layers"]):
        w = [gr(p[f"lstm.{n}_l{l}"]) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h = rnd(_LstmBf16.apply(gr(h), *w) if bf16 else lstm_ref(h, *w))
    h = h.transpose(0, 1).reshape(B * T, cfg["d_model"])
    return gr(rnd(F.linear(gr(h), gr(p["out.weight"]), gr(p["out.bias"]))))


def bert_forward(cfg, p, inp, rnd=ident, gr=ident, bf16=False, **_):
    return gpt_forward(cfg, p, inp["tokens"], inp["positions"], rnd, gr,
                       _AttentionBf16.apply if bf16 else attention_ref)


def dlrm_params(cfg):
    D, NT, ND = cfg["d_model"], cfg["tables"], cfg["dense"]
    ps = lin_p("bot.0", ND, 512) + lin_p("bot.2", 512, 256) + lin_p("bot.4", 256, 64) + lin_p("bot.6", 64, D)
    ps.append(("emb.weight", (NT * cfg["rows"], D), 0.0, np.float32(EMBED_BOUND)))
    return ps + lin_p("top.0", D + (NT + 1) * NT // 2, 512) + lin_p("top.2", 512, 256) + lin_p("top.4", 256, 1)


def dlrm_forward(cfg, p, inp, rnd=ident, gr=ident, **_):
    """click logits (B): bottom MLP, one row of each table (global ids),
    dot interaction in weft's order (dot_interact_ref), top MLP."""
    def lin(h, n, relu):
        z = F.linear(gr(h), gr(p[n + ".weight"]), gr(p[n + ".bias"]))
        return rnd(torch.relu(z) if relu else z)

    x = inp["dense"]
    for n in ("bot.0", "bot.2", "bot.4", "bot.6"):
        x = lin(x, n, True)
    e = rnd(F.embedding(inp["sparse"], gr(p["emb.weight"])))
    h = rnd(dot_interact_ref(gr(x), gr(e)))
    h = lin(lin(h, "top.0", True), "top.2", True)
    return gr(lin(h, "top.4", False).reshape(-1))


def resnet_blocks(cfg):
    """(name, cin, cout, k, stride, relu) of every conv + batch norm, in
    weft's order, and the stage structure: [(a, b, down or None)]."""
    w, nb = cfg["d_model"], (cfg["layers"] - 2) // 6
    units, blocks, cin = [("stem", 1, w, 3, 1, True)], [], w
    for st in range(3):
        cout = w << st
        for b in range(nb):
            s = 2 if st > 0 and b == 0 else 1
            n = f"layer{st + 1}.{b}."
            a, bb = (n + "a", cin, cout, 3, s, True), (n + "b", cout, cout, 3, 1, False)
            down = (n + "down", cin, cout, 1, s, False) if s != 1 or cin != cout else None
            units += [a, bb] + ([down] if down else [])
            blocks.append((a, bb, down))
            cin = cout
    return units, blocks, cin


def resnet_params(cfg):
    units, _, cin = resnet_blocks(cfg)
    ps = []
    for n, ci, co, k, _, _ in units:
        b = np.float32(1.0) / np.sqrt(np.float32(ci * k * k))
        ps += [(n + ".conv.weight", (co, ci, k, k), 0.0, b), (n + ".bn.weight", (co,), 1.0, np.float32(GPT_LN_W_BOUND)),
               (n + ".bn.bias", (co,), 0.0, np.float32(GPT_LN_B_BOUND))]
    return ps + lin_p("fc", cin, 10)


def resnet_stats(cfg):
    return [u[0] + ".bn." + s for u in resnet_blocks(cfg)[0] for s in ("running_mean", "running_var")]


def resnet_forward(cfg, p, inp, rnd=ident, gr=ident, bufs=None, train=True, **_):
    """logits (B,10). Batch norm in training mode (batch statistics; the
    running statistics in bufs, when given, updated as PyTorch does:
    momentum 0.1, unbiased variance), or in eval mode from bufs."""
    def unit(h, u):
        n, _, _, k, s, relu = u
        z = rnd(F.conv2d(gr(h), gr(p[n + ".conv.weight"]), None, stride=s, padding=k // 2))
        rm = bufs[n + ".bn.running_mean"] if bufs is not None else None
        rv = bufs[n + ".bn.running_var"] if bufs is not None else None
        y = rnd(F.batch_norm(gr(z), rm, rv, gr(p[n + ".bn.weight"]), gr(p[n + ".bn.bias"]), training=train,
                             momentum=0.1, eps=1e-5))
        return rnd(torch.relu(y)) if relu else y

    units, blocks, cin = resnet_blocks(cfg)
    x = unit(inp["images"], units[0])
    for a, b, down in blocks:
        h = unit(unit(x, a), b)
        x = rnd(torch.relu(rnd(h + (unit(x, down) if down else x))))
    x = rnd(x.mean((2, 3)))
    return gr(rnd(F.linear(gr(x), gr(p["fc.weight"]), gr(p["fc.bias"]))))


def net_loss(kind, logits, inp):
    if kind == "dlrm":
        return F.binary_cross_entropy_with_logits(logits, inp["clicks"])
    return F.cross_entropy(logits, inp["labels" if kind == "resnet" else "targets"], ignore_index=-1)


def torch_inputs(arrays, dtype, bf16=False):
    """The fixture's arrays as tensors: ids long, floats in dtype (rounded
    to bf16 first for the bf16 references)."""
    out = {}
    for k, a in arrays.items():
        if a.dtype == np.int32:
            out[k] = torch.tensor(a, dtype=torch.long)
        else:
            t = torch.tensor(a)
            out[k] = (bf16_round(t) if bf16 else t).to(dtype)
    return out


def lazy_update(kind, w, grad, rows, st, t):
    """The table's lazy update (weft's sparse update, like
    torch.optim.SparseAdam): only the rows the step's ids touch move, and
    only their state; the others, and their state, are left alone.
    SGD: m = momentum m + g (m starts 0, so m = g on a row's first update);
    w -= lr m. AdamW: PyTorch's AdamW on the rows, its bias corrections
    from the step's number t (global, as SparseAdam's)."""
    g = grad[rows]
    if kind == "sgd":
        st["momentum"][rows] = SGD_HP["momentum"] * st["momentum"][rows] + g
        w[rows] -= SGD_HP["lr"] * st["momentum"][rows]
        return
    lr, (b1, b2), eps, wd = ADAMW_HP["lr"], ADAMW_HP["betas"], ADAMW_HP["eps"], ADAMW_HP["weight_decay"]
    w[rows] *= 1.0 - lr * wd
    st["exp_avg"][rows] = st["exp_avg"][rows].lerp(g, 1.0 - b1)
    st["exp_avg_sq"][rows] = st["exp_avg_sq"][rows] * b2 + (1.0 - b2) * g * g
    bc1, bc2 = 1.0 - b1 ** t, 1.0 - b2 ** t
    denom = st["exp_avg_sq"][rows].sqrt() / bc2 ** 0.5 + eps
    w[rows] -= (lr / bc1) * st["exp_avg"][rows] / denom


def net_steps(kind, cfg, fwd, init, step_inputs, opt_kind, lazy, stats, lazy_mode=True):
    """Three steps of SGD or AdamW (loss k before update k) on step_inputs[k],
    in float64; the parameters named in lazy get lazy_update (dense
    PyTorch updates when lazy_mode is False: the script's check that the
    fixture tells the two apart). Returns the losses, the final tensors
    {name: tensor} of the lazy tables and their state and of the running
    statistics, and the eval-mode logits after the steps (models with
    running statistics)."""
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in init.items()}
    lz = [n for n in p if n in lazy and lazy_mode]
    dense = [q for n, q in p.items() if n not in lz]
    opt = (torch.optim.SGD(dense, **SGD_HP) if opt_kind == "sgd" else torch.optim.AdamW(dense, **ADAMW_HP))
    names = ("momentum",) if opt_kind == "sgd" else ("exp_avg", "exp_avg_sq")
    state = {n: {s: torch.zeros_like(p[n]) for s in names} for n in lz}
    bufs = None
    if stats:
        bufs = {}
        for s in stats:
            c = p[s.rsplit(".", 1)[0] + ".weight"].shape[0]
            bufs[s] = torch.ones(c, dtype=torch.float64) if s.endswith("var") else torch.zeros(c, dtype=torch.float64)
    losses = []
    for k in range(3):
        inp = torch_inputs(step_inputs[k], torch.float64)
        opt.zero_grad()
        for n in lz:
            p[n].grad = None
        loss = net_loss(kind, fwd(cfg, p, inp, bufs=bufs), inp)
        loss.backward()
        losses.append(loss.item())
        opt.step()
        with torch.no_grad():
            for n in lz:
                lazy_update(opt_kind, p[n], p[n].grad, torch.unique(inp[lazy[n]]), state[n], k + 1)
    final = {n: p[n].detach() for n in lazy}
    for n in lazy:
        torch_names = {"momentum": "momentum_buffer"}   # PyTorch's state for the dense update
        final.update({f"{n}.{s}": state[n][s] if n in lz else opt.state[p[n]][torch_names.get(s, s)]
                      for s in names})
    ev = None
    if bufs is not None:
        final.update(bufs)
        with torch.no_grad():
            ev = fwd(cfg, p, torch_inputs(step_inputs[2], torch.float64), bufs=bufs, train=False)
    return np.array(losses, dtype=np.float32), final, ev


def gen_net(kind, cfg, params, fwd, arrays, out_dir, gen, steps=None, lazy=None, stats=()):
    """The fixture model_<kind>.safetensors (see the section's comment).
    arrays: the model's inputs (I32 ids, F32 values) by the names the test
    feeds; steps: the three steps' inputs (default: arrays each time);
    lazy: {table param: the ids input that selects its rows}."""
    lazy = lazy or {}
    steps = steps or [arrays] * 3
    init = {name: gen_uniform(name, shape, bound, center) for name, shape, center, bound in params}
    names3 = [(n, None, None) for n, _, _, _ in params]
    tensors = list(arrays.items())
    for k in arrays:   # inputs that change from step to step
        if any(not np.array_equal(s[k], arrays[k]) for s in steps):
            tensors.append((f"steps.{k}", np.stack([s[k] for s in steps])))
    for name, _, _, _ in params:
        tensors.append((f"init.{name}", init[name].reshape(-1)[:16].copy()))

    def fresh(dtype=torch.float64, bf16=False):
        return {k: (bf16_round(torch.tensor(v)) if bf16 else torch.tensor(v, dtype=dtype)).requires_grad_(True)
                for k, v in init.items()}

    # fp32: the reference in float64 from the fp32 values (batch norm: batch statistics).
    x64 = torch_inputs(arrays, torch.float64)
    p = fresh()
    logits = fwd(cfg, p, x64)
    loss = net_loss(kind, logits, x64)
    loss.backward()
    tensors += [("logits", f32(logits)), ("loss", f32(loss))]
    add_grads(tensors, "", names3, p, gen)

    for opt_kind in ("sgd", "adamw"):
        losses, final, ev = net_steps(kind, cfg, fwd, init, steps, opt_kind, lazy, stats)
        tensors.append((f"{opt_kind}.losses", losses))
        tensors += [(f"{opt_kind}.final.{n}", f32(t)) for n, t in final.items()]
        if ev is not None:
            tensors.append((f"{opt_kind}.eval.logits", f32(ev)))
        if lazy:  # the fixture must tell the lazy update from a dense one
            dl, dfinal, _ = net_steps(kind, cfg, fwd, init, steps, opt_kind, lazy, stats, lazy_mode=False)
            moved = {n: (dfinal[n] - t).abs().max().item() / t.abs().max().item() for n, t in final.items()}
            print(f"  {kind} {opt_kind}: a dense update instead of the lazy one: losses {dl.tolist()}, "
                  f"not {losses.tolist()}; final " + ", ".join(f"{n} {e:.2e}" for n, e in moved.items()))
            assert min(moved.values()) > 4e-4   # each at least 4x the C test's TOL_F32

    # bf16, as the gpt's: fp32 from bf16-rounded params and inputs, and the
    # rounded twin (every op's and backward node's output rounded; weft's
    # stored bf16 intermediates, attention's P and the LSTM's gates, cell
    # states and outputs, rounded for the backward); each gradient rounded
    # once at the end (bf16 in weft).
    xb = torch_inputs(arrays, torch.float32, bf16=True)
    pb = {k: bf16_round(torch.tensor(v)) for k, v in init.items()}
    with torch.no_grad():
        lb = fwd(cfg, pb, xb)
    pe = fresh(bf16=True)
    le = fwd(cfg, pe, xb, rnd=_RoundBoth.apply, gr=_RoundGrad.apply, bf16=True)
    se = net_loss(kind, le, xb)
    se.backward()
    for q in pe.values():
        q.grad = bf16_round(q.grad)
    tensors += [("bf16.logits", f32(lb)), ("bf16.loss", f32(net_loss(kind, lb, xb))),
                ("bf16.emul.logits", f32(le)), ("bf16.emul.loss", f32(se))]
    add_grads(tensors, "bf16.emul.", names3, pe, gen)
    meta = dict(model=kind, model_seed=MODEL_SEED, generator="scripts/gen_fixtures.py", torch=torch.__version__, **cfg)
    path = os.path.join(out_dir, f"model_{kind}.safetensors")
    write_safetensors(path, tensors, meta)
    print(f"{path}: loss {loss.item():.6f}, |logits| max {logits.abs().max().item():.3f}, "
          f"bf16 {se.item():.6f}")
    return path


def gen_lstm(out_dir):
    cfg = LSTM_CFG
    gen = torch.Generator().manual_seed(MODEL_SEED + 1)
    B, T, V = cfg["batch"], cfg["ctx"], cfg["vocab"]
    tok = torch.randint(0, V, (B, T), generator=gen)
    y = torch.randint(0, V, (B * T,), generator=gen)
    params = lstm_params(cfg)
    # the functional reference is torch.nn.LSTM with the same weights
    init = {name: torch.tensor(gen_uniform(name, shape, bound, center)).double()
            for name, shape, center, bound in params}
    ref = torch.nn.LSTM(cfg["embed"], cfg["d_model"], cfg["layers"], batch_first=True).double()
    with torch.no_grad():
        for name, t in ref.named_parameters():
            t.copy_(init["lstm." + name])
        x = F.embedding(tok, init["emb.weight"])
        want = F.linear(ref(x)[0].reshape(B * T, -1), init["out.weight"], init["out.bias"])
        got = lstm_forward(cfg, init, {"tokens": tok})
        assert torch.allclose(got, want, rtol=0, atol=1e-12)
    arrays = {"tokens": tok.to(torch.int32).numpy(), "targets": y.to(torch.int32).numpy()}
    return gen_net("lstm", cfg, params, lstm_forward, arrays, out_dir, gen)


def gen_bert(out_dir):
    cfg = BERT_CFG
    gen = torch.Generator().manual_seed(MODEL_SEED + 2)
    B, T = cfg["batch"], cfg["ctx"]
    tok = torch.randint(0, cfg["vocab"], (B, T), generator=gen)
    y = torch.randint(0, cfg["classes"], (B * T,), generator=gen)
    y[2] = y[7] = -1   # ignored (padding): the mean is over the other 8
    arrays = {"tokens": tok.to(torch.int32).numpy(), "positions": torch.arange(T).repeat(B, 1).to(torch.int32).numpy(),
              "targets": y.to(torch.int32).numpy()}
    return gen_net("bert", cfg, gpt_params(cfg), bert_forward, arrays, out_dir, gen)


def gen_dlrm(out_dir):
    cfg = DLRM_CFG
    gen = torch.Generator().manual_seed(MODEL_SEED + 3)
    B, NT, R = cfg["batch"], cfg["tables"], cfg["rows"]

    def ids():   # table t's row of each sample, numbered globally: t*rows + id
        return (torch.randint(0, R, (B, NT), generator=gen) + torch.arange(NT) * R).to(torch.int32).numpy()

    dense = (torch.rand(B, cfg["dense"], generator=gen, dtype=torch.float64) * 2 - 1).float().numpy()
    clicks = np.array([1, 0, 0, 1], dtype=np.float32)[:B]
    arrays = {"dense": dense, "sparse": ids(), "clicks": clicks}
    steps = [arrays, dict(arrays, sparse=ids()), dict(arrays, sparse=ids())]
    return gen_net("dlrm", cfg, dlrm_params(cfg), dlrm_forward, arrays, out_dir, gen, steps=steps,
                   lazy={"emb.weight": "sparse"})


def gen_resnet(images, labels, out_dir):
    cfg = RESNET_CFG
    gen = torch.Generator().manual_seed(MODEL_SEED + 4)
    arrays = {"images": images.astype(np.float32), "labels": labels.astype(np.int32)}
    return gen_net("resnet", cfg, resnet_params(cfg), resnet_forward, arrays, out_dir, gen, stats=resnet_stats(cfg))
