"""Train the resolution recognition network (RRN, seed paper 001): a small EFC that
predicts which resolution bin (routing.py) a face crop effectively has,
from its pixels alone, so routing works where the box size lies (blurred or
upscaled faces). Arg-max of its output picks the expert.

    python training/train_rrn.py --out training/runs/rrn_s32 --epochs 4
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import data, routing
from .augment import augment
from .defaults import BEST, DATA, TRAIN_RESOLUTIONS
from .models.rrn import build


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--input-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--subset", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    root = data.extract(args.data)
    resolutions = TRAIN_RESOLUTIONS
    labels_of_res = torch.tensor([routing.bin_of(r) for r in resolutions])

    names, _ = data.read_votes(root, "train")
    if args.subset:
        names = names[: args.subset]
    tag = f"_n{args.subset}" if args.subset else ""
    images = data.load_images(root, "train", names)
    faces = data.degraded_cache(root, "train", images, resolutions, args.input_size, tag)
    vnames, _ = data.read_votes(root, "valid")
    vimages = data.load_images(root, "valid", vnames)
    valid = data.degraded_cache(root, "valid", vimages, resolutions, args.input_size, "")
    n = faces.shape[1]

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = build()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = max(1, n // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps, pct_start=0.1)
    log = open(args.out / "log.jsonl", "a")  # noqa: SIM115 (appended to across the whole loop)
    for epoch in range(args.epochs):
        t0 = time.time()
        order = torch.randperm(n, generator=gen)
        for step in range(steps):
            idx = order[step * args.batch : (step + 1) * args.batch]
            ridx = torch.randint(0, len(resolutions), (len(idx),), generator=gen)
            x = torch.from_numpy(faces[ridx.numpy(), idx.numpy()]).float().div_(255).unsqueeze(1)
            loss = F.cross_entropy(model(augment(x, gen), logits=True), labels_of_res[ridx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        confusion = np.zeros((len(routing.BINS), len(routing.BINS)), dtype=np.int64)
        with torch.no_grad():
            for ri, r in enumerate(resolutions):
                x = torch.from_numpy(valid[ri]).float().div_(255).unsqueeze(1)
                pred = torch.cat([model(c, logits=True).argmax(1) for c in x.split(1024)]).numpy()
                np.add.at(confusion, (routing.bin_of(r), pred), 1)
        model.train()
        entry = {
            "epoch": epoch,
            "valid_bin_accuracy": float(np.trace(confusion) / confusion.sum()),
            "confusion": confusion.tolist(),
            "seconds": time.time() - t0,
        }
        print(json.dumps(entry), flush=True)
        log.write(json.dumps(entry) + "\n")
        # One file, rewritten every epoch (the last epoch is kept; the run is short and not resumed).
        torch.save({"model": model.state_dict(), "epoch": epoch, "kind": "rrn"}, args.out / BEST)
    log.close()


if __name__ == "__main__":
    main()
