#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Trains the date demo: a character-level GRU encoder-decoder with Bahdanau attention that turns
human-written dates ("3rd of May 1998", "sun 05/03/98", "May 3, 1998", ...) into ISO 8601
("1998-05-03"), then exports the weights as .npy files, a PyTorch reference run of a few inputs
(reference.txt) and the alphabets, for examples/date_demo.cpp and tests/test_date_demo.cpp.

Run (CPU, one thread, a few minutes; needs Debian's python3-torch and python3-numpy):
    /usr/bin/python3 examples/date_demo/train.py

The model follows TF's AttentionWrapper step order, which attn::AttentionLoop implements:
    encoder   bidirectional GRU over source characters; memory = [forward, backward] outputs (T_in x 64)
    bridge    h_0 = tanh([h_forward_last, h_backward_first] . W_bridge + b_bridge)
    step t    cell_input = [embed(y_{t-1}), attention_{t-1}]       (attention_{-1} = 0)
              h_t = GRUCell(cell_input, h_{t-1})                    (PyTorch r, z, n gates)
              e_j = v . tanh(h_t . Wq + memory_j . Wk)              (Bahdanau, TF/attn convention)
              a = softmax(e); context = a . memory
              attention_t = [h_t, context] . W_att                  (attention layer, no bias)
              logits_t = attention_t . W_out + b_out
Weights are stored in the Keras layout used by attn (in x out, applied as x . W; biases 1-D).
"""

import datetime
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
SEED = 1998

# Alphabets. Source: index 0 = padding, 1 = unknown character, then SOURCE_CHARS.
SOURCE_CHARS = " ,./-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Target: 0 = <s>, 1 = </s>, then TARGET_CHARS.
TARGET_CHARS = "0123456789-"
BOS, EOS = 0, 1
MAX_OUTPUT = 12

EMBED_SRC, ENC_HIDDEN, DEC_HIDDEN, EMBED_TGT, UNITS, ATTENTION = 16, 32, 64, 16, 32, 64

REFERENCE_INPUTS = [
    "3rd of May 1998",
    "sun 05/03/98",
    "May 3, 1998",
    "1998-05-03",
    "Saturday, December 31, 2016",
    "14.07.1989",
    "feb 29 2024",
    "1st of january 2000",
    "10 SEP 63",
]

# --------------------------------------------------------------------------------------------------
# Data


def ordinal(d):
    if 11 <= d % 100 <= 13:
        return "%dth" % d
    return "%d%s" % (d, {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th"))


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def render(date, rng):
    """One human-written form of `date` (2-digit years: 50-99 -> 19xx, 00-49 -> 20xx)."""
    y, m, d = date.year, date.month, date.day
    month, mon = MONTHS[m - 1], MONTHS[m - 1][:3]
    day, dy = DAYS[date.weekday()], DAYS[date.weekday()][:3]
    yy = "%02d" % (y % 100)
    forms = [
        lambda: "%s of %s %d" % (ordinal(d), month, y),
        lambda: "%s %d, %d" % (month, d, y),
        lambda: "%d %s %d" % (d, month, y),
        lambda: "%s %02d/%02d/%s" % (dy, m, d, yy),
        lambda: "%02d/%02d/%d" % (m, d, y),
        lambda: "%d-%02d-%02d" % (y, m, d),
        lambda: "%02d.%02d.%d" % (d, m, y),
        lambda: "%s, %s %d, %d" % (day, month, d, y),
        lambda: "%s %d %d" % (mon, d, y),
        lambda: "%02d %s %s" % (d, mon, yy),
        lambda: "%s %d %s %d" % (day, d, month, y),
        lambda: "%s %s, %d" % (month, ordinal(d), y),
        lambda: "%d/%02d/%02d" % (y, m, d),
        lambda: "%s %s %d" % (ordinal(d), mon, y),
        lambda: "%s %d %s" % (mon, d, yy),
    ]
    text = rng.choice(forms)()
    case = rng.random()
    if case < 0.35:
        text = text.lower()
    elif case < 0.45:
        text = text.upper()
    return text


def random_date(rng):
    start = datetime.date(1950, 1, 1).toordinal()
    end = datetime.date(2049, 12, 31).toordinal()
    return datetime.date.fromordinal(rng.randint(start, end))


def encode_source(text):
    return [SOURCE_CHARS.index(c) + 2 if c in SOURCE_CHARS else 1 for c in text]


def encode_target(iso):
    return [TARGET_CHARS.index(c) + 2 for c in iso] + [EOS]


def decode_target(ids):
    out = []
    for i in ids:
        if i == EOS:
            break
        out.append(TARGET_CHARS[i - 2] if i >= 2 else "?")
    return "".join(out)


def make_dataset(n, rng):
    pairs = []
    for _ in range(n):
        date = random_date(rng)
        pairs.append((render(date, rng), date.isoformat()))
    return pairs


def batchify(pairs):
    src = [encode_source(s) for s, _ in pairs]
    tgt = [encode_target(t) for _, t in pairs]
    lengths = torch.tensor([len(s) for s in src])
    src_pad = torch.zeros(len(src), int(lengths.max()), dtype=torch.long)
    for i, s in enumerate(src):
        src_pad[i, :len(s)] = torch.tensor(s)
    return src_pad, lengths, torch.tensor(tgt)


# --------------------------------------------------------------------------------------------------
# Model


class DateModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.src_embed = nn.Embedding(len(SOURCE_CHARS) + 2, EMBED_SRC)
        self.encoder = nn.GRU(EMBED_SRC, ENC_HIDDEN, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * ENC_HIDDEN, DEC_HIDDEN)
        self.tgt_embed = nn.Embedding(len(TARGET_CHARS) + 2, EMBED_TGT)
        self.cell = nn.GRUCell(EMBED_TGT + ATTENTION, DEC_HIDDEN)
        self.wq = nn.Linear(DEC_HIDDEN, UNITS, bias=False)
        self.wk = nn.Linear(2 * ENC_HIDDEN, UNITS, bias=False)
        self.v = nn.Parameter(torch.empty(UNITS).uniform_(-0.3, 0.3))
        self.att_layer = nn.Linear(DEC_HIDDEN + 2 * ENC_HIDDEN, ATTENTION, bias=False)
        self.out = nn.Linear(ATTENTION, len(TARGET_CHARS) + 2)

    def encode(self, src, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.src_embed(src), lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, h_n = self.encoder(packed)
        memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        h0 = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=1)))
        mask = torch.arange(src.shape[1])[None, :] < lengths[:, None]
        return memory, self.wk(memory), mask, h0

    def step(self, y_prev, h, attention, memory, keys, mask):
        cell_input = torch.cat([self.tgt_embed(y_prev), attention], dim=1)
        h = self.cell(cell_input, h)
        e = torch.tanh(self.wq(h)[:, None, :] + keys) @ self.v
        e = e.masked_fill(~mask, float("-inf"))
        a = torch.softmax(e, dim=1)
        context = torch.bmm(a[:, None, :], memory)[:, 0, :]
        attention = self.att_layer(torch.cat([h, context], dim=1))
        return self.out(attention), h, attention, a

    def forward(self, src, lengths, tgt):
        memory, keys, mask, h = self.encode(src, lengths)
        attention = torch.zeros(src.shape[0], ATTENTION)
        y_prev = torch.full((src.shape[0],), BOS, dtype=torch.long)
        logits = []
        for t in range(tgt.shape[1]):
            lt, h, attention, _ = self.step(y_prev, h, attention, memory, keys, mask)
            logits.append(lt)
            y_prev = tgt[:, t]
        return torch.stack(logits, dim=1)

    @torch.no_grad()
    def greedy(self, src, lengths, max_len=MAX_OUTPUT):
        memory, keys, mask, h = self.encode(src, lengths)
        b = src.shape[0]
        attention = torch.zeros(b, ATTENTION)
        y_prev = torch.full((b,), BOS, dtype=torch.long)
        ids, alignments, logits = [], [], []
        done = torch.zeros(b, dtype=torch.bool)
        for _ in range(max_len):
            lt, h, attention, a = self.step(y_prev, h, attention, memory, keys, mask)
            y_prev = lt.argmax(dim=1)
            ids.append(y_prev)
            alignments.append(a)
            logits.append(lt)
            done = done | (y_prev == EOS)
            if bool(done.all()):
                break
        return torch.stack(ids, 1), torch.stack(alignments, 1), torch.stack(logits, 1)


def accuracy(model, pairs):
    model.eval()
    correct = 0
    for i in range(0, len(pairs), 500):
        chunk = pairs[i:i + 500]
        src, lengths, _ = batchify(chunk)
        ids, _, _ = model.greedy(src, lengths)
        for row, (_, iso) in zip(ids.tolist(), chunk):
            correct += decode_target(row) == iso
    model.train()
    return correct / len(pairs)


# --------------------------------------------------------------------------------------------------
# Export


def year_span(text, year):
    """[first, last) of the year's characters in `text`: the 4-digit year, else the last 2-digit one."""
    i = text.find(str(year))
    if i >= 0:
        return i, i + 4
    i = text.rfind("%02d" % (year % 100))
    return i, i + 2


def write_alphabets(directory):
    """alphabets.txt in `directory`: the character tables the C++ demos read (alphabets.hpp)."""
    with open(os.path.join(directory, "alphabets.txt"), "w") as f:
        f.write("# line 2: source characters (ids 2.. in order; 0 = padding, 1 = unknown)\n")
        f.write(SOURCE_CHARS + "\n")
        f.write("# line 4: target characters (ids 2.. in order; 0 = <s>, 1 = </s>)\n")
        f.write(TARGET_CHARS + "\n")


def export(model, test_accuracy):
    os.makedirs(WEIGHTS, exist_ok=True)
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}

    def save(name, array):
        np.save(os.path.join(WEIGHTS, name + ".npy"), np.ascontiguousarray(array, dtype=np.float32))

    save("src_embed", sd["src_embed.weight"])
    for direction, suffix in (("fw", ""), ("bw", "_reverse")):
        save("enc_%s_w_ih" % direction, sd["encoder.weight_ih_l0" + suffix].T)
        save("enc_%s_w_hh" % direction, sd["encoder.weight_hh_l0" + suffix].T)
        save("enc_%s_b_ih" % direction, sd["encoder.bias_ih_l0" + suffix])
        save("enc_%s_b_hh" % direction, sd["encoder.bias_hh_l0" + suffix])
    save("bridge_w", sd["bridge.weight"].T)
    save("bridge_b", sd["bridge.bias"])
    save("tgt_embed", sd["tgt_embed.weight"])
    save("dec_w_ih", sd["cell.weight_ih"].T)
    save("dec_w_hh", sd["cell.weight_hh"].T)
    save("dec_b_ih", sd["cell.bias_ih"])
    save("dec_b_hh", sd["cell.bias_hh"])
    save("att_wq", sd["wq.weight"].T)
    save("att_wk", sd["wk.weight"].T)
    save("att_v", sd["v"])
    save("att_layer", sd["att_layer.weight"].T)
    save("out_w", sd["out.weight"].T)
    save("out_b", sd["out.bias"])
    write_alphabets(WEIGHTS)

    # Reference run: each input alone (batch 1, no padding), float32, greedy.
    model.eval()
    lines = ["# date demo reference run: PyTorch %s float32 greedy decoding, one input at a time." % torch.__version__,
             "# Written by examples/date_demo/train.py; read by tests/test_date_demo.cpp.",
             "# held-out exact-match accuracy %.4f" % test_accuracy,
             "inputs %d" % len(REFERENCE_INPUTS)]
    shares = []
    for text in REFERENCE_INPUTS:
        src, lengths, _ = batchify([(text, "")])
        ids, a, logits = model.greedy(src, lengths)
        out = decode_target(ids[0].tolist())
        a = a[0].numpy()
        logits = logits[0].numpy()
        lines.append("input " + text)
        lines.append("output " + out)
        for name, m in (("alignments", a), ("logits", logits)):
            lines.append("%s %d %d" % (name, m.shape[0], m.shape[1]))
            lines.extend(" ".join("%.9g" % x for x in row) for row in m)
        lines.append("end")
        if len(out) == 10:
            year = int(out[:4])
            first, last = year_span(text, year)
            share = a[:4, first:last].sum() / 4.0
            shares.append(share)
            print("  %-30s -> %s   year-digit mass on source year characters: %.3f" % (text, out, share))
        else:
            print("  %-30s -> %s" % (text, out))
    lines.append("end-of-reference")
    with open(os.path.join(HERE, "reference.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("mean year-digit mass on the source year: %.3f" % float(np.mean(shares)))


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    train = make_dataset(40000, rng)
    test = make_dataset(2000, rng)
    model = DateModel()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    batch = 128
    start = time.time()
    for epoch in range(epochs):
        rng.shuffle(train)
        total = 0.0
        for i in range(0, len(train), batch):
            src, lengths, tgt = batchify(train[i:i + batch])
            logits = model(src, lengths, tgt)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += float(loss) * src.shape[0]
        sched.step()
        acc = accuracy(model, test)
        print("epoch %d  loss %.4f  held-out exact match %.4f  (%.0f s)" % (epoch + 1, total / len(train), acc,
                                                                          time.time() - start), flush=True)
    acc = accuracy(model, test)
    print("final held-out exact-match accuracy: %.4f (%d dates)" % (acc, len(test)))
    export(model, acc)


if __name__ == "__main__":
    main()
