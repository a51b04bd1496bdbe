#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Trains the transformer demo: a small character-level encoder-decoder transformer that turns
human-written dates ("3rd of May 1998", "sun 05/03/98", ...) into ISO 8601 ("1998-05-03"), the
task of the GRU date demo (the same data generator: examples/date_demo/train.py). Exports the
weights as .npy files (float32) and a PyTorch reference run on a few committed inputs
(reference.txt: greedy and beam-4 translations, per-layer, per-head cross-attention), for
examples/transformer_demo.cpp and tests/test_transformer_demo.cpp.

Run (CPU, one thread: 4 epochs, about 9 CPU minutes; needs Debian's python3-torch and python3-numpy):
    /usr/bin/python3 examples/transformer_demo/train.py

The model (post-norm, as nn.Transformer's default norm_first=False; ReLU; no dropout):
    x      = embed(token) * sqrt(D) + PE(position)            (sinusoidal PE, D = 64)
    encoder layer (x2):  x = LN(x + SelfAttn(x))                 key padding hides padded characters
                         x = LN(x + W2 . relu(W1 . x + b1) + b2)
    decoder layer (x2):  y = LN(y + SelfAttn(y))                 causal
                         y = LN(y + CrossAttn(y, memory))        key padding
                         y = LN(y + FF(y))
    logits = y . W_out + b_out
Every attention is an nn.MultiheadAttention with 4 heads (head width 16): its in_proj_weight,
in_proj_bias, out_proj.weight and out_proj.bias are exported as they are (torch layout; C++ loads
them with attn::MultiHeadParams::from_torch). Linear and embedding weights are exported in attn's
Keras layout (in x out, applied as x . W; biases 1-D).

Decoding (here and in C++): the decoder is re-run over the whole prefix at every step (no cache).
Greedy: argmax. Beam search (width K = 4), written out so that C++ can match it exactly:
    live = [(<s>, score 0)]; finished = []
    each step: candidates = every live hypothesis x every token, score + log_softmax(logits)
               (scores summed in float64), ordered by score descending, ties by (beam, token);
               a candidate ending in </s> among the first K finishes; the first K others are the
               next live beam (their parents give the reorder); stop once K have finished or after
               MAX_OUTPUT steps (live hypotheses then count as finished);
    result:    finished ordered by score descending (ties: order of finishing); no length
               normalisation (every ISO date has 11 tokens with </s>).
"""

import importlib.util
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "weights")
SEED = 2017

# The GRU demo's data generator and alphabets, imported from its script (not copied).
_spec = importlib.util.spec_from_file_location("date_demo_train",
                                               os.path.join(HERE, "..", "date_demo", "train.py"))
dates = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dates)
SOURCE_CHARS, TARGET_CHARS, BOS, EOS = dates.SOURCE_CHARS, dates.TARGET_CHARS, dates.BOS, dates.EOS
MAX_OUTPUT = dates.MAX_OUTPUT

D_MODEL, HEADS, FF, ENC_LAYERS, DEC_LAYERS = 64, 4, 128, 2, 2
BEAM = 4
MAX_POSITIONS = 64

# The GRU demo's reference inputs and one more (upper case, ordinal day).
REFERENCE_INPUTS = dates.REFERENCE_INPUTS + ["JULY 20TH, 1969"]


def positional_encoding(length, d):
    """Sinusoidal PE (Vaswani et al.): pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(...),
    computed in float64 and rounded to float32 (as the C++ side does)."""
    pos = np.arange(length, dtype=np.float64)[:, None]
    i = np.arange(0, d, 2, dtype=np.float64)[None, :]
    angle = pos / np.power(10000.0, i / d)
    pe = np.zeros((length, d))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return torch.tensor(pe, dtype=torch.float32)


class EncoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(D_MODEL, HEADS, batch_first=True)
        self.norm1 = nn.LayerNorm(D_MODEL)
        self.ff1 = nn.Linear(D_MODEL, FF)
        self.ff2 = nn.Linear(FF, D_MODEL)
        self.norm2 = nn.LayerNorm(D_MODEL)

    def forward(self, x, pad):
        a, _ = self.self_attn(x, x, x, key_padding_mask=pad, need_weights=False)
        x = self.norm1(x + a)
        return self.norm2(x + self.ff2(F.relu(self.ff1(x))))


class DecoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(D_MODEL, HEADS, batch_first=True)
        self.norm1 = nn.LayerNorm(D_MODEL)
        self.cross_attn = nn.MultiheadAttention(D_MODEL, HEADS, batch_first=True)
        self.norm2 = nn.LayerNorm(D_MODEL)
        self.ff1 = nn.Linear(D_MODEL, FF)
        self.ff2 = nn.Linear(FF, D_MODEL)
        self.norm3 = nn.LayerNorm(D_MODEL)

    def forward(self, y, memory, pad, causal, need_weights=False):
        a, _ = self.self_attn(y, y, y, attn_mask=causal, need_weights=False)
        y = self.norm1(y + a)
        a, w = self.cross_attn(y, memory, memory, key_padding_mask=pad, need_weights=need_weights,
                               average_attn_weights=False)
        y = self.norm2(y + a)
        return self.norm3(y + self.ff2(F.relu(self.ff1(y)))), w


class DateTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.src_embed = nn.Embedding(len(SOURCE_CHARS) + 2, D_MODEL)
        self.tgt_embed = nn.Embedding(len(TARGET_CHARS) + 2, D_MODEL)
        self.encoder = nn.ModuleList([EncoderLayer() for _ in range(ENC_LAYERS)])
        self.decoder = nn.ModuleList([DecoderLayer() for _ in range(DEC_LAYERS)])
        self.out = nn.Linear(D_MODEL, len(TARGET_CHARS) + 2)
        self.register_buffer("pe", positional_encoding(MAX_POSITIONS, D_MODEL))
        # Embeddings of std 1/sqrt(D): scaled by sqrt(D) they are of the size of the positional
        # encoding (torch's default N(0, 1) times sqrt(D) would drown the positions).
        nn.init.normal_(self.src_embed.weight, std=D_MODEL ** -0.5)
        nn.init.normal_(self.tgt_embed.weight, std=D_MODEL ** -0.5)

    def encode(self, src, lengths):
        pad = torch.arange(src.shape[1])[None, :] >= lengths[:, None]
        x = self.src_embed(src) * math.sqrt(D_MODEL) + self.pe[:src.shape[1]]
        for layer in self.encoder:
            x = layer(x, pad)
        return x, pad

    def decode(self, y_in, memory, pad, need_weights=False):
        """Logits (B x T x V) and, when asked, the cross-attention of every layer (B x h x T x T_in)."""
        t = y_in.shape[1]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        y = self.tgt_embed(y_in) * math.sqrt(D_MODEL) + self.pe[:t]
        weights = []
        for layer in self.decoder:
            y, w = layer(y, memory, pad, causal, need_weights)
            weights.append(w)
        return self.out(y), weights

    def forward(self, src, lengths, tgt):
        memory, pad = self.encode(src, lengths)
        y_in = torch.cat([torch.full((tgt.shape[0], 1), BOS, dtype=torch.long), tgt[:, :-1]], dim=1)
        return self.decode(y_in, memory, pad)[0]

    @torch.no_grad()
    def greedy(self, src, lengths, max_len=MAX_OUTPUT):
        """Greedy ids (B x T_out); the decoder re-runs over the prefix at each step."""
        memory, pad = self.encode(src, lengths)
        y = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
        done = torch.zeros(src.shape[0], dtype=torch.bool)
        for _ in range(max_len):
            logits, _ = self.decode(y, memory, pad)
            nxt = logits[:, -1].argmax(dim=1)
            y = torch.cat([y, nxt[:, None]], dim=1)
            done = done | (nxt == EOS)
            if bool(done.all()):
                break
        return y[:, 1:]


batchify = dates.batchify


def accuracy(model, pairs):
    model.eval()
    correct = 0
    for i in range(0, len(pairs), 500):
        chunk = pairs[i:i + 500]
        src, lengths, _ = batchify(chunk)
        ids = model.greedy(src, lengths)
        for row, (_, iso) in zip(ids.tolist(), chunk):
            correct += dates.decode_target(row) == iso
    model.train()
    return correct / len(pairs)


# --------------------------------------------------------------------------------------------------
# Reference decoding: one input at a time (batch 1, no padding), float32.


@torch.no_grad()
def greedy_reference(model, text):
    """Greedy ids (</s> included), the logits of each step (T_out x V) and the cross-attention of
    each step: L x h x T_out x T_in (row t = step t's query, taken from the run of step t)."""
    src, lengths, _ = batchify([(text, "")])
    memory, pad = model.encode(src, lengths)
    y = [BOS]
    logits_rows, rows = [], []
    for _ in range(MAX_OUTPUT):
        logits, weights = model.decode(torch.tensor([y]), memory, pad, need_weights=True)
        logits_rows.append(logits[0, -1].numpy())
        rows.append(np.stack([w[0, :, -1, :].numpy() for w in weights]))  # L x h x T_in
        y.append(int(logits[0, -1].argmax()))
        if y[-1] == EOS:
            break
    return y[1:], np.stack(logits_rows), np.stack(rows, axis=2)


@torch.no_grad()
def beam_reference(model, text, k=BEAM):
    """The beam search of the module docstring: [(score, ids with </s>)], best first."""
    src, lengths, _ = batchify([(text, "")])
    memory, pad = model.encode(src, lengths)
    live = [([BOS], 0.0)]
    finished = []
    for _ in range(MAX_OUTPUT):
        y = torch.tensor([ids for ids, _ in live])
        logits, _ = model.decode(y, memory.expand(len(live), -1, -1), pad.expand(len(live), -1))
        logp = torch.log_softmax(logits[:, -1], dim=1).numpy().astype(np.float64)
        vocab = logp.shape[1]
        candidates = [(live[b][1] + logp[b, v], b, v) for b in range(len(live)) for v in range(vocab)]
        order = sorted(range(len(candidates)), key=lambda i: (-candidates[i][0], i))
        new_live = []
        for rank, i in enumerate(order):
            score, b, v = candidates[i]
            if v == EOS:
                if rank < k:
                    finished.append((score, live[b][0][1:] + [EOS]))
            elif len(new_live) < k:
                new_live.append((live[b][0] + [v], score))
            if rank >= k - 1 and len(new_live) == k:
                break
        live = new_live
        if len(finished) >= k:
            break
    else:
        finished.extend((score, ids[1:]) for ids, score in live)
    order = sorted(range(len(finished)), key=lambda i: (-finished[i][0], i))
    return [finished[i] for i in order[:k]]


@torch.no_grad()
def forced_cross_attention(model, text, ids):
    """Cross-attention of a hypothesis (ids with </s>) by teacher forcing: L x h x T_out x T_in.
    Row t depends only on the prefix, so it equals what the step-by-step decode recorded."""
    src, lengths, _ = batchify([(text, "")])
    memory, pad = model.encode(src, lengths)
    _, weights = model.decode(torch.tensor([[BOS] + ids[:-1]]), memory, pad, need_weights=True)
    return np.stack([w[0].numpy() for w in weights])


def export(model, test_accuracy, train_seconds):
    os.makedirs(WEIGHTS, exist_ok=True)
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    total = 0

    def save(name, array):
        nonlocal total
        array = np.ascontiguousarray(array, dtype=np.float32)
        total += array.nbytes
        np.save(os.path.join(WEIGHTS, name + ".npy"), array)

    save("src_embed", sd["src_embed.weight"])
    save("tgt_embed", sd["tgt_embed.weight"])
    for kind, layers, attentions, norms in (("enc", ENC_LAYERS, ("self_attn",), 2),
                                            ("dec", DEC_LAYERS, ("self_attn", "cross_attn"), 3)):
        for l in range(layers):
            p = "%s%d_" % (kind, l)
            s = "encoder.%d." % l if kind == "enc" else "decoder.%d." % l
            for a in attentions:
                save(p + a + "_in_proj_weight", sd[s + a + ".in_proj_weight"])
                save(p + a + "_in_proj_bias", sd[s + a + ".in_proj_bias"])
                save(p + a + "_out_proj_weight", sd[s + a + ".out_proj.weight"])
                save(p + a + "_out_proj_bias", sd[s + a + ".out_proj.bias"])
            for n in range(1, norms + 1):
                save(p + "norm%d_weight" % n, sd[s + "norm%d.weight" % n])
                save(p + "norm%d_bias" % n, sd[s + "norm%d.bias" % n])
            save(p + "ff1_w", sd[s + "ff1.weight"].T)
            save(p + "ff1_b", sd[s + "ff1.bias"])
            save(p + "ff2_w", sd[s + "ff2.weight"].T)
            save(p + "ff2_b", sd[s + "ff2.bias"])
    save("out_w", sd["out.weight"].T)
    save("out_b", sd["out.bias"])
    dates.write_alphabets(WEIGHTS)
    with open(os.path.join(WEIGHTS, "config.txt"), "w") as f:
        f.write("d_model %d\nheads %d\nff %d\nencoder_layers %d\ndecoder_layers %d\n"
                % (D_MODEL, HEADS, FF, ENC_LAYERS, DEC_LAYERS))
    print("weights: %d bytes of float32 values" % total)

    model.eval()
    lines = ["# transformer demo reference run: PyTorch %s, float32, one input at a time (no padding)."
             % torch.__version__,
             "# Written by examples/transformer_demo/train.py; read by tests/test_transformer_demo.cpp.",
             "# held-out exact-match accuracy %.4f (greedy, 2000 dates); training %.0f s"
             % (test_accuracy, train_seconds),
             "# cross L h T_out T_in: then L*h*T_out rows (layer, then head, then step) of T_in weights",
             "model layers %d %d heads %d d_model %d beam %d" % (ENC_LAYERS, DEC_LAYERS, HEADS, D_MODEL, BEAM),
             "inputs %d" % len(REFERENCE_INPUTS)]

    def matrix_lines(name, m):
        lines.append("%s %s" % (name, " ".join(str(s) for s in m.shape)))
        lines.extend(" ".join("%.9g" % x for x in row) for row in m.reshape(-1, m.shape[-1]))

    for text in REFERENCE_INPUTS:
        ids, logits, cross = greedy_reference(model, text)
        lines.append("input " + text)
        lines.append("greedy " + dates.decode_target(ids))
        matrix_lines("logits", logits)
        matrix_lines("cross", cross)
        hyps = beam_reference(model, text)
        lines.append("beam %d" % len(hyps))
        for score, hyp in hyps:
            lines.append("hyp %.17g %s" % (score, dates.decode_target(hyp)))
            matrix_lines("cross", forced_cross_attention(model, text, hyp))
        lines.append("end")
        print("  %-30s -> greedy %s   beam %s" % (text, dates.decode_target(ids),
                                                  " | ".join("%s (%.4f)" % (dates.decode_target(h), s)
                                                             for s, h in hyps)))
    lines.append("end-of-reference")
    with open(os.path.join(HERE, "reference.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def length_batches(pairs, batch, rng):
    """Batches of similar source length (less padding), in random order."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), rng.random()))
    batches = [[pairs[i] for i in order[j:j + batch]] for j in range(0, len(order), batch)]
    rng.shuffle(batches)
    return batches


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    train = dates.make_dataset(40000, rng)
    test = dates.make_dataset(2000, rng)
    model = DateTransformer()
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    batch = 128
    steps = epochs * ((len(train) + batch - 1) // batch)
    warmup = 100
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))))
    start = time.time()
    step = 0
    for epoch in range(epochs):
        total = 0.0
        for chunk in length_batches(train, batch, rng):
            src, lengths, tgt = batchify(chunk)
            logits = model(src, lengths, tgt)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            total += float(loss) * src.shape[0]
            if step % 50 == 0:
                print("  step %d/%d  loss %.4f  (%.0f s)" % (step, steps, float(loss), time.time() - start),
                      flush=True)
        acc = accuracy(model, test[:500])
        print("epoch %d  loss %.4f  held-out exact match (500 dates) %.4f  (%.0f s)"
              % (epoch + 1, total / len(train), acc, time.time() - start), flush=True)
    seconds = time.time() - start
    acc = accuracy(model, test)
    print("training %.0f s; final held-out exact-match accuracy: %.4f (%d dates)" % (seconds, acc, len(test)))
    export(model, acc, seconds)


if __name__ == "__main__":
    main()
