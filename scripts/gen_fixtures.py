#!/usr/bin/python3
"""Writes the PyTorch fixtures that tests/test_ops.c and tests/test_models.c
check weft against (DESIGN.md section 8).

    /usr/bin/python3 scripts/gen_fixtures.py [OUT_DIR]        (default tests/fixtures)
    make fixtures
    WEFT_OPS_ONLY=1 /usr/bin/python3 scripts/gen_fixtures.py  (the ops_* fixtures only)

Needs Debian's python3-torch and python3-numpy, and Fashion-MNIST in
/usr/share/datasets/fashion-mnist (or $WEFT_FMNIST_DIR). Deterministic: the
same torch version writes the same bytes. safetensors is written here by hand
(the package is not in Debian): 8-byte little-endian header length, a JSON
header padded with spaces to a multiple of 8, then the raw little-endian bytes.

ops_<case>.safetensors — one op case each (the rows of the table in
tests/test_ops.c; the C table and OP_CASES below must list the same cases):
    in0, in1, ..    F32  the op's float inputs, in the op's input order
                         (embbag, embedding: the table only; bce: the logits only)
    labels          I32  (xent only; -1 is ignored)
    mask            F32  (where only) 0/1 of x's trailing dims; also the bf16
                         case's (weft keeps a constant mask an f32 state)
    ids             I32  (embbag only) (B,F) or (B,F,L); (embedding) any shape
    targets         F32  (bce only) in [0,1], multiples of 1/16; bf16.targets BF16
    r               F32  the upstream gradient: the loss is sum(y * r)
                         (xent, bce: the loss is the op's own output, no r)
    y               F32  the output
    grad0..         F32  d loss / d in_i
    bf16.in0.., bf16.r   BF16 the same inputs rounded to bf16 (nearest even)
    bf16.y, bf16.grad0.. BF16 PyTorch in fp32 from the bf16 inputs, rounded
                         once to bf16 (weft's contract: fp32 inside the unit,
                         the output rounded once)
    running_mean, running_var F32, eval.y F32 (batchnorm only): the running
                         statistics after the one training forward (from 0
                         and 1), and the eval-mode output from them; the
                         same with bf16. (running stats F32, bf16.eval.y BF16)
    metadata: op, act, bias, stride, pad, k, and where a case has them axis,
    axis2, start, len, eps, momentum, heads, causal, pos_back, pos_ahead,
    alpha, beta, ta, tb (the C test checks them against its table row)
  fp32 references are computed in float64, so the tests measure weft's error
  alone. Inputs are chosen away from non-differentiable points: relu
  pre-activations have |z| >= KINK_MARGIN (also after bf16 rounding) and
  max-pool inputs are distinct multiples of 1/64, so the finite differences of
  the C test (step 1e-3) never cross a kink or change a window's winner.

model_<mlp|cnn>.safetensors — the zoo's model on 4 Fashion-MNIST images:
    images F32 (4,1,28,28) pixel/255; labels I32 (4)
    init.<param>    F32 (16)  the first 16 initial values (see below)
    logits F32 (4,10); loss F32 ()
    grad.<param>    F32       the full gradient (tensors of at most
                              FULL_GRAD_MAX elements), or, for larger ones,
    grad.<param>.idx I32 (GRAD_SAMPLES) and grad.<param>.val F32: a sorted
                              random sample of flat indices and their values,
    grad.<param>.norms F32 (2) [sum |g|, sqrt(sum g^2)] of the whole tensor
    sgd.losses F32 (3)   torch.optim.SGD(lr 0.05, momentum 0.9): loss k is
                         computed before update k, on the same batch
    adamw.losses F32 (3) torch.optim.AdamW(lr 1e-3, betas (0.9, 0.999),
                         eps 1e-8, weight_decay 0.01) (mlp only)
    bf16.logits F32, bf16.loss F32   fp32 forward from bf16-rounded params
                         and images (no rounding inside)
    bf16.emul.logits F32, bf16.emul.loss F32, bf16.emul.grad.<param>...
                         the same, but with every op's output and every
                         backward node's output rounded to bf16, as weft's
                         bf16 policy does (fp32 inside each op, one rounding
                         on the way out); gradients stored as grad.* above
  Initial parameters are not stored (the CNN's fc1 alone is 1.6 MB): they
  come from a tiny generator that the C test reproduces bit for bit —
  U(-bound, bound), bound = 1/sqrt(fan_in) as PyTorch's nn.Linear/nn.Conv2d,
  from splitmix64 over the element index, keyed by MODEL_SEED ^ FNV-1a(name):
    z = key + (i+1) * 0x9E3779B97F4A7C15
    z = (z ^ z>>30) * 0xBF58476D1CE4E5B9; z = (z ^ z>>27) * 0x94D049BB133111EB
    z ^= z>>31;  u = (z >> 40) * 2^-24;  value = (2u - 1) * bound   (float32)
  init.<param> lets the test prove the two generators agree.

model_gpt.safetensors — a tiny weft_model_build_gpt (GPT_CFG: vocab 13, 2
layers, 2 heads, d_model 8, ctx 6, batch 2; tied embeddings) on fixed ids:
    tokens I32 (2,6); positions I32 (2,6) 0..5; targets I32 (12)
    init.<param>    F32 (<= 16) as above
    logits F32 (12,13); loss F32 ()  cross-entropy, mean over the 12 tokens
    grad.<param>    F32  every gradient in full; the tied wte.weight's is the
                         sum of its embedding and output-projection parts
    adamw.losses F32 (3) AdamW as above
    bf16.logits, bf16.loss, bf16.emul.*   as above; the rounded twin also
                         keeps attention's P in bf16 for the backward, and
                         rounds each parameter's gradient (bf16 in weft)
    metadata: vocab, layers, heads, d_model, ctx, batch (the C test checks them)
  Initial values: the generator above with value = center + U(-bound, bound)
  (center added last, in float32, only when not 0): wte, wpe bound 0.5;
  layer norm weights center 1 bound 0.2, biases bound 0.1; linear weights
  and biases bound 1/sqrt(fan_in).

model_<lstm|bert|dlrm|resnet>.safetensors — lstm-lm, bert-tiny, dlrm-small
and resnet at small sizes (LSTM_CFG, BERT_CFG, DLRM_CFG, RESNET_CFG, also
in the metadata): the gpt fixture's tensors, both optimizers' losses, and
dlrm's lazily updated table, resnet's running statistics and eval-mode
logits after the steps (the comment above gen_net lists them).
"""
import os
import sys

import torch

from fixture_util import *  # noqa: F401,F403 (the writer, rounding, seeds)
from fixture_models import gen_model, gen_gpt, gen_lstm, gen_bert, gen_dlrm, gen_resnet, load_fmnist
from fixture_models import attention_ref  # the gpt/bert fixtures' attention, shared by the op case

# ---- op cases ----------------------------------------------------------------------
# Each: name, op, attrs, shapes of the float inputs, extra generation hints.
OP_CASES = [
    dict(name="linear_bias", op="linear", bias=1, act=0, shapes=[(5, 7), (6, 7), (6,)]),
    dict(name="linear_nobias", op="linear", bias=0, act=0, shapes=[(5, 7), (6, 7)]),
    dict(name="linear_relu", op="linear", bias=1, act=1, shapes=[(5, 7), (6, 7), (6,)]),
    dict(name="add", op="add", shapes=[(4, 9), (4, 9)]),
    dict(name="relu", op="relu", shapes=[(5, 7)]),
    dict(name="gelu", op="gelu", shapes=[(5, 7)]),
    dict(name="conv_s1p1_relu", op="conv2d", bias=1, act=1, stride=1, pad=1,
         shapes=[(2, 3, 7, 6), (4, 3, 3, 3), (4,)]),
    dict(name="conv_s2p0", op="conv2d", bias=1, act=0, stride=2, pad=0,
         shapes=[(2, 3, 7, 6), (4, 3, 3, 3), (4,)]),
    dict(name="conv_s2p1_nobias", op="conv2d", bias=0, act=0, stride=2, pad=1,
         shapes=[(2, 3, 7, 6), (4, 3, 3, 3)]),
    dict(name="maxpool_k2s2", op="maxpool", k=2, stride=2, shapes=[(2, 3, 7, 6)]),
    dict(name="maxpool_k3s2", op="maxpool", k=3, stride=2, shapes=[(2, 3, 7, 6)]),
    dict(name="reshape", op="reshape", out_shape=(6, 7), shapes=[(2, 3, 7)]),
    dict(name="xent", op="xent", shapes=[(5, 7)]),
    # Appended after the first cases so that theirs keep their bytes (one generator).
    dict(name="sigmoid", op="sigmoid", scale=3, shapes=[(5, 7)]),
    dict(name="tanh", op="tanh", scale=3, shapes=[(5, 7)]),
    dict(name="softmax", op="softmax", scale=3, shapes=[(5, 7)]),
    dict(name="transpose", op="transpose", axis=1, axis2=2, shapes=[(2, 3, 4, 5)]),
    dict(name="concat3_axis1", op="concat", axis=1, shapes=[(2, 3, 4), (2, 2, 4), (2, 1, 4)]),
    dict(name="concat2_axis2", op="concat", axis=2, shapes=[(3, 2, 4), (3, 2, 3)]),
    dict(name="split_axis1", op="split", axis=1, start=2, len=3, shapes=[(3, 7, 4)]),
    dict(name="split_last", op="split", axis=2, start=3, len=2, shapes=[(3, 4, 5)]),
    dict(name="bce", op="bce", scale=3, shapes=[(11,)]),
    dict(name="xent_ignore", op="xent", ignore=(1, 4), shapes=[(6, 7)]),
    # ids (B,F,L) / (B,F) drawn from the first V-3 rows (the last 3 untouched),
    # with repeats inside a bag and across bags
    dict(name="embbag", op="embbag", ids=(3, 2, 3), shapes=[(10, 4)]),
    dict(name="embbag_2d", op="embbag", ids=(4, 3), shapes=[(9, 5)]),
    dict(name="dot_interact", op="dot_interact", shapes=[(3, 4), (3, 3, 4)]),
    dict(name="batchnorm_4d", op="batchnorm", eps=1e-5, momentum=0.1, shapes=[(4, 3, 3, 2), (3,), (3,)]),
    dict(name="batchnorm_2d", op="batchnorm", eps=1e-5, momentum=0.1, shapes=[(6, 4), (4,), (4,)]),
    dict(name="avgpool", op="avgpool", shapes=[(2, 3, 4, 5)]),
    dict(name="lstm", op="lstm", shapes=[(4, 2, 3), (20, 3), (20, 5), (20,), (20,)]),
    # the sequence ops. embedding: ids of any shape, drawn as embbag's (the last
    # 3 rows and others untouched, repeats); its table gradient is dense (V,D)
    dict(name="embedding", op="embedding", ids=(2, 3, 2), shapes=[(11, 5)]),
    dict(name="layernorm", op="layernorm", eps=1e-5, shapes=[(6, 7), (7,), (7,)]),
    dict(name="attention_causal", op="attention", heads=2, causal=1, scale=2, shapes=[(2, 5, 24)]),
    dict(name="attention_bidir", op="attention", heads=3, causal=0, scale=2, shapes=[(2, 4, 18)]),
    dict(name="attention_posbias", op="attention", heads=2, causal=0, pos_back=0.5, pos_ahead=2.0, scale=2,
         shapes=[(2, 6, 12)]),
    # the general math of imported (ONNX) models: a second operand of the
    # first's trailing dims is broadcast over its leading ones
    dict(name="mul", op="mul", shapes=[(4, 9), (4, 9)]),
    dict(name="mul_bcast", op="mul", shapes=[(2, 3, 4), (3, 4)]),
    dict(name="add_bcast", op="add", shapes=[(3, 5, 4), (4,)]),
    dict(name="scale", op="scale", alpha=-1.5, beta=0.25, shapes=[(5, 7)]),
    # matmul: ta/tb mean the operand is stored with its last two axes swapped
    dict(name="matmul_nn", op="matmul", ta=0, tb=0, shapes=[(2, 3, 4), (2, 4, 5)]),
    dict(name="matmul_tn", op="matmul", ta=1, tb=0, shapes=[(2, 4, 3), (2, 4, 5)]),
    dict(name="matmul_nt", op="matmul", ta=0, tb=1, shapes=[(2, 3, 4), (2, 5, 4)]),
    dict(name="matmul_tt", op="matmul", ta=1, tb=1, shapes=[(2, 4, 3), (2, 5, 4)]),
    dict(name="matmul_2d", op="matmul", ta=0, tb=0, shapes=[(3, 4), (4, 5)]),
    # a 2-D operand is shared by every batch of the other (its gradient sums them)
    dict(name="matmul_shared", op="matmul", ta=0, tb=0, shapes=[(2, 3, 4), (4, 5)]),
    dict(name="matmul_shared_tt", op="matmul", ta=1, tb=1, shapes=[(2, 2, 4, 3), (5, 4)]),
    dict(name="matmul_shared_a", op="matmul", ta=0, tb=0, shapes=[(3, 4), (2, 4, 5)]),
    dict(name="erf", op="erf", scale=2, shapes=[(5, 7)]),
    # where: y = mask != 0 ? x : fill; mask (F32, never bf16: a constant state)
    # of x's trailing dims, about 60% ones and at least one per row. A -inf
    # fill is followed by a softmax over the last dim (an attention mask), so
    # that y and the finite differences are finite.
    dict(name="where", op="where", alpha=-2.5, mask=(4, 5), shapes=[(3, 4, 5)]),
    dict(name="where_softmax", op="where", alpha=float("-inf"), mask=(3, 6), scale=3, shapes=[(2, 3, 6)]),
    dict(name="sum_lead", op="sum_lead", axis=2, shapes=[(2, 3, 4, 5)]),
]
# attributes beyond act/bias/stride/pad/k, written to the metadata only by the
# cases that have them (the C test reads an absent one as 0)
OP_EXTRA_META = ("axis", "axis2", "start", "len", "eps", "momentum", "heads", "causal", "pos_back", "pos_ahead",
                 "alpha", "beta", "ta", "tb")








def op_forward(c, ins, labels):
    op = c["op"]
    if op == "linear":
        z = F.linear(ins[0], ins[1], ins[2] if c["bias"] else None)
        return z, (torch.relu(z) if c["act"] == 1 else z)
    if op == "add":
        return None, ins[0] + ins[1]
    if op == "relu":
        return ins[0], torch.relu(ins[0])
    if op == "gelu":
        return None, F.gelu(ins[0])  # the exact erf form
    if op == "conv2d":
        z = F.conv2d(ins[0], ins[1], ins[2] if c["bias"] else None, stride=c["stride"], padding=c["pad"])
        return z, (torch.relu(z) if c["act"] == 1 else z)
    if op == "maxpool":
        return None, F.max_pool2d(ins[0], c["k"], c["stride"])
    if op == "reshape":
        return None, ins[0].reshape(c["out_shape"])
    if op == "xent":
        return None, F.cross_entropy(ins[0], labels, reduction="mean", ignore_index=-1)
    # (labels: xent's labels, embbag's and embedding's ids, bce's float targets)
    if op == "sigmoid":
        return None, torch.sigmoid(ins[0])
    if op == "tanh":
        return None, torch.tanh(ins[0])
    if op == "softmax":
        return None, torch.softmax(ins[0], -1)
    if op == "transpose":
        return None, ins[0].transpose(c["axis"], c["axis2"]).contiguous()
    if op == "concat":
        return None, torch.cat(ins, c["axis"])
    if op == "split":
        return None, ins[0].narrow(c["axis"], c["start"], c["len"]).contiguous()
    if op == "bce":
        return None, F.binary_cross_entropy_with_logits(ins[0], labels.to(ins[0].dtype), reduction="mean")
    if op == "embbag":
        rows = ins[0][labels.long()]
        return None, rows.sum(-2) if labels.dim() == 3 else rows
    if op == "dot_interact":
        return None, dot_interact_ref(ins[0], ins[1])
    if op == "batchnorm":
        return None, F.batch_norm(ins[0], None, None, ins[1], ins[2], training=True, eps=c["eps"])
    if op == "avgpool":
        return None, ins[0].mean((2, 3))
    if op == "lstm":
        return None, lstm_ref(*ins)
    if op == "embedding":
        return None, F.embedding(labels.long(), ins[0])
    if op == "layernorm":
        return None, F.layer_norm(ins[0], ins[0].shape[-1:], ins[1], ins[2], c["eps"])
    if op == "attention":
        return None, attention_ref(ins[0], c["heads"], bool(c["causal"]), (c.get("pos_back", 0.0), c.get("pos_ahead", 0.0)))
    if op == "mul":
        return None, ins[0] * ins[1]
    if op == "scale":
        return None, ins[0] * c["alpha"] + c["beta"]
    if op == "matmul":
        a = ins[0].transpose(-1, -2) if c["ta"] else ins[0]
        b = ins[1].transpose(-1, -2) if c["tb"] else ins[1]
        return None, torch.matmul(a, b)
    if op == "erf":
        return None, torch.erf(ins[0])
    if op == "where":  # (labels: the mask)
        y = torch.where(labels != 0, ins[0], torch.full_like(ins[0], c["alpha"]))
        return None, torch.softmax(y, -1) if c["alpha"] == float("-inf") else y
    if op == "sum_lead":
        return None, ins[0].sum(tuple(range(c["axis"])))
    raise ValueError(op)


def distinct_grid(shape, gen):
    """Distinct multiples of 1/64 (exact in bf16 for |x| < 4), in random order."""
    n = int(np.prod(shape))
    v = (torch.arange(n, dtype=torch.float64) - n / 2) / 64.0
    return v[torch.randperm(n, generator=gen)].reshape(shape)


def make_inputs(c, gen):
    """Inputs in float64, resampled until every kink is at least KINK_MARGIN away."""
    for attempt in range(1000):
        if c["op"] == "maxpool":
            ins = [distinct_grid(c["shapes"][0], gen)]
        else:
            ins = [torch.rand(s, generator=gen, dtype=torch.float64) * 2 - 1 for s in c["shapes"]]
            if c["op"] == "xent":
                ins[0] = ins[0] * 3
            if "scale" in c:
                ins[0] = ins[0] * c["scale"]
            if c["op"] in ("batchnorm", "layernorm"):
                ins[1] = ins[1] * 0.5 + 1.0  # gamma in [0.5, 1.5]
        ins = [t.float().double() for t in ins]  # fp32-representable
        labels = None
        if c["op"] == "xent":
            m, ncls = c["shapes"][0]
            labels = torch.randint(0, ncls, (m,), generator=gen)
            for i in c.get("ignore", ()):
                labels[i] = -1
        if c["op"] == "bce":
            # soft targets k/16 (exact in bf16), and both hard ones
            labels = torch.randint(0, 17, c["shapes"][0], generator=gen).double() / 16
            labels[0], labels[1] = 0.0, 1.0
        if c["op"] == "where":
            labels = (torch.rand(c["mask"], generator=gen, dtype=torch.float64) < 0.6).double()
            rows = labels.view(-1, c["mask"][-1])
            rows[torch.arange(rows.shape[0]), torch.randint(0, rows.shape[1], (rows.shape[0],), generator=gen)] = 1.0
        if c["op"] in ("embbag", "embedding"):
            labels = torch.randint(0, c["shapes"][0][0] - 3, c["ids"], generator=gen)
            flat = labels.view(-1)
            flat[1] = flat[0]    # a repeat: in the same bag when L > 1
            flat[-1] = flat[0]   # and across bags
        z64, _ = op_forward(c, ins, labels)
        if z64 is None:
            return ins, labels
        zb, _ = op_forward(c, [bf16_round(t) for t in ins], labels)  # fp32 from bf16 inputs
        if z64.abs().min() >= KINK_MARGIN and zb.abs().min() >= KINK_MARGIN:
            return ins, labels
    raise RuntimeError(f"{c['name']}: no inputs away from the relu kink")


def bn_running(c, ins, pre, stat, out):
    """Batch norm's running statistics (from 0 and 1) after one training
    forward on ins, and the eval-mode output from them:
    <pre>running_mean, <pre>running_var F32 (f32 STATE in weft), <pre>eval.y
    (bf16: rounded once)."""
    C = ins[0].shape[1]
    rm, rv = ins[0].new_zeros(C), ins[0].new_ones(C)
    F.batch_norm(ins[0], rm, rv, ins[1], ins[2], training=True, momentum=c["momentum"], eps=c["eps"])
    ye = F.batch_norm(ins[0], rm, rv, ins[1], ins[2], training=False, eps=c["eps"])
    return [(pre + "running_mean", stat(rm)), (pre + "running_var", stat(rv)), (pre + "eval.y", out(ye))]


def gen_op_case(c, gen, out_dir):
    ins, labels = make_inputs(c, gen)
    tensors, meta = [], {"op": c["op"], "act": c.get("act", 0), "bias": c.get("bias", 0),
                         "stride": c.get("stride", 0), "pad": c.get("pad", 0), "k": c.get("k", 0),
                         "generator": "scripts/gen_fixtures.py", "torch": torch.__version__}
    meta.update({k: c[k] for k in OP_EXTRA_META if k in c})
    is_loss = c["op"] in ("xent", "bce")
    if c["op"] == "lstm":  # the step-by-step reference is torch.nn.LSTM
        ref = torch.nn.LSTM(c["shapes"][0][2], c["shapes"][2][1]).double()
        with torch.no_grad():
            for name, t in zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), ins[1:]):
                getattr(ref, name).copy_(t)
            assert torch.allclose(ref(ins[0])[0], lstm_ref(*ins), rtol=0, atol=1e-12)

    # fp32: reference in float64 from the fp32 inputs.
    xs = [t.clone().requires_grad_(True) for t in ins]
    _, y = op_forward(c, xs, labels)
    r = None if is_loss else (torch.rand(y.shape, generator=gen, dtype=torch.float64) * 2 - 1).float().double()
    loss = y if is_loss else (y * r).sum()
    grads = torch.autograd.grad(loss, xs)
    for i, t in enumerate(ins):
        tensors.append((f"in{i}", f32(t)))
    if labels is not None and c["op"] in ("bce", "where"):
        tensors.append(("targets" if c["op"] == "bce" else "mask", f32(labels)))
    elif labels is not None:
        tensors.append(("ids" if c["op"] in ("embbag", "embedding") else "labels",
                        labels.to(torch.int32).numpy()))
    if r is not None:
        tensors.append(("r", f32(r)))
    tensors.append(("y", f32(y.reshape(()) if is_loss else y)))
    for i, gr in enumerate(grads):
        tensors.append((f"grad{i}", f32(gr)))
    if c["op"] == "batchnorm":
        tensors += bn_running(c, ins, "", f32, f32)

    # bf16: inputs rounded to bf16; PyTorch in fp32 from them; outputs rounded once.
    xb = [bf16_round(t).requires_grad_(True) for t in ins]
    _, yb = op_forward(c, xb, labels)
    rb = None if is_loss else bf16_round(r)
    lb = yb if is_loss else (yb * rb).sum()
    gb = torch.autograd.grad(lb, xb)
    for i, t in enumerate(xb):
        tensors.append((f"bf16.in{i}", bf16_bits(t)))
    if labels is not None and c["op"] == "bce":
        tensors.append(("bf16.targets", bf16_bits(labels)))  # exact: multiples of 1/16
    if rb is not None:
        tensors.append(("bf16.r", bf16_bits(rb)))
    # the loss of xent stays fp32 in weft (a metric): stored as F32
    tensors.append(("bf16.y", f32(yb.reshape(())) if is_loss else bf16_bits(yb)))
    for i, gr in enumerate(gb):
        tensors.append((f"bf16.grad{i}", bf16_bits(gr)))
    if c["op"] == "batchnorm":
        tensors += bn_running(c, [t.detach() for t in xb], "bf16.", f32, bf16_bits)
    path = os.path.join(out_dir, f"ops_{c['name']}.safetensors")
    write_safetensors(path, tensors, meta)
    return path


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    if len(sys.argv) > 2 or out_dir in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if out_dir in ("-h", "--help") else 2)
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(OP_SEED)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(OP_SEED)
    for c in OP_CASES:
        print(gen_op_case(c, gen, out_dir))
    if os.environ.get("WEFT_OPS_ONLY"):  # WEFT_OPS_ONLY=1: the ops_* fixtures alone
        return
    data_dir = os.environ.get("WEFT_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
    xs, ys = load_fmnist(data_dir)
    mgen = torch.Generator().manual_seed(MODEL_SEED)
    idx = torch.randperm(xs.shape[0], generator=mgen)[:BATCH].tolist()
    images = (xs[idx].astype(np.float32) / np.float32(255.0)).astype(np.float32)
    labels = ys[idx].astype(np.int32)
    for kind in ("mlp", "cnn"):
        gen_model(kind, images, labels, idx, mgen, out_dir)
    gen_gpt(out_dir)
    gen_lstm(out_dir)
    gen_bert(out_dir)
    gen_dlrm(out_dir)
    gen_resnet(images, labels, out_dir)


if __name__ == "__main__":
    main()
