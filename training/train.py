"""Train the EFC classifier on FER+ with the low-resolution protocol.

Every training face is degraded to a resolution drawn from --resolutions (48x48 ->
RxR -> input size, Pillow antialiased bilinear, as at evaluation), then flipped,
shifted and jittered. Checkpoints every epoch; --resume continues a run.

    python training/train.py --out training/runs/efc_all --epochs 40
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import efc
import ferplus
import numpy as np
import torch
import torch.nn.functional as F

TRAIN_RESOLUTIONS = (48, 32, 24, 20, 15, 12, 10, 8, 6, 5)
# The best epoch is the one with the best mean Valid accuracy at these resolutions.
SELECT_RESOLUTIONS = (20, 10, 5)
# Checked every epoch on Valid (a subset of the protocol's resolutions keeps epochs short).
MONITOR_RESOLUTIONS = (48, 20, 10, 5)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared/data/ferplus.tar.gz")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--input-size", type=int, default=32)
    p.add_argument("--resolutions", type=lambda s: tuple(int(v) for v in s.split(",")), default=TRAIN_RESOLUTIONS)
    p.add_argument("--select", type=lambda s: tuple(int(v) for v in s.split(",")), default=SELECT_RESOLUTIONS)
    p.add_argument("--init", type=Path, help="start from this checkpoint's weights (fine-tuning an expert)")
    p.add_argument("--labels", choices=("soft", "hard"), default="soft")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--subset", type=int, default=0, help="use only the first N training images (smoke test)")
    p.add_argument("--train-on-valid", action="store_true", help="add Valid to training (as the paper does)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--stop-after", type=int, default=0, help="leave after N epochs of this invocation (resume later)")
    return p.parse_args(argv)


def degraded_cache(root: Path, split: str, images: np.ndarray, resolutions, size: int, tag: str) -> np.ndarray:
    """[len(resolutions), N, size, size] uint8, cached on disk (degrading is the slow part)."""
    cache = ferplus.default_cache() / "ferplus_degraded"
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for r in resolutions:
        path = cache / f"{split}{tag}_s{size}_r{r}.npy"
        if path.exists():
            arr = np.load(path)
        else:
            arr = ferplus.degrade_all(images, r, size)
            # Write then rename: parallel runs (experts) may fill the same cache.
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, arr)
            os.replace(tmp, path)
        out.append(arr)
    return np.stack(out)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """x: [B, 1, S, S] in [0, 1]. Flip, shift by up to S/16 px, brightness/contrast."""
    b, _, s, _ = x.shape
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = max(1, s // 16)
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(s)[None, :])[:, None, :, None].expand(b, 1, s, s + 2 * pad)
    x = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(s)[None, :])[:, None, None, :].expand(b, 1, s, s)
    x = x.gather(3, cols)
    contrast = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.4
    bright = (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.2
    mean = x.mean(dim=(2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + bright).clamp(0, 1)


@torch.no_grad()
def accuracy_by_resolution(model, data: np.ndarray, labels: np.ndarray, resolutions) -> dict[int, float]:
    model.eval()
    keep = labels >= 0
    result = {}
    for i, r in enumerate(resolutions):
        x = torch.from_numpy(data[i][keep]).float().div_(255).unsqueeze(1)
        pred = torch.cat([model(chunk, logits=True).argmax(1) for chunk in x.split(1024)])
        result[r] = float((pred.numpy() == labels[keep]).mean())
    model.train()
    return result


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    root = ferplus.extract(args.data)

    names, votes = ferplus.read_votes(root, "train")
    if args.train_on_valid:
        vnames, vvotes = ferplus.read_votes(root, "valid")
    if args.subset:
        names, votes = names[: args.subset], votes[: args.subset]
    tag = f"_n{args.subset}" if args.subset else ""
    images = ferplus.load_images(root, "train", names)
    train = degraded_cache(root, "train", images, args.resolutions, args.input_size, tag)
    if args.train_on_valid:
        vimages = ferplus.load_images(root, "valid", vnames)
        train = np.concatenate([train, degraded_cache(root, "valid", vimages, args.resolutions, args.input_size, "")], 1)
        votes = np.concatenate([votes, vvotes])
    if args.labels == "soft":
        targets = ferplus.soft_targets(votes)
        keep = (targets.sum(1) > 0) & (ferplus.plurality_labels(votes) >= 0)
    else:
        hard = ferplus.majority_labels(votes)
        keep = hard >= 0
        targets = np.eye(len(ferplus.EMOTIONS), dtype=np.float32)[np.maximum(hard, 0)]
    train, targets = train[:, keep], torch.from_numpy(targets[keep])
    n = train.shape[1]

    vnames_eval, vvotes_eval = ferplus.read_votes(root, "valid")
    valid_images = ferplus.load_images(root, "valid", vnames_eval)
    monitor = tuple(sorted(set(MONITOR_RESOLUTIONS) | set(args.select), reverse=True))
    valid = degraded_cache(root, "valid", valid_images, monitor, args.input_size, "")
    valid_labels = ferplus.majority_labels(vvotes_eval)

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = efc.EFC(num_classes=len(ferplus.EMOTIONS))
    if args.init:
        model.load_state_dict(torch.load(args.init, weights_only=False, map_location="cpu")["model"])
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = max(1, n // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.1
    )
    start_epoch, best = 0, -1.0
    last_path = args.out / "last.pt"
    if args.resume and last_path.exists():
        state = torch.load(last_path, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, best = state["epoch"] + 1, state["best"]
        print(f"resumed at epoch {start_epoch}, best {best:.4f}", flush=True)

    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    log = open(args.out / "log.jsonl", "a")  # noqa: SIM115 (appended to across the whole loop)
    res_count = len(args.resolutions)
    for epoch in range(start_epoch, args.epochs):
        t0 = time.time()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * args.batch : (step + 1) * args.batch]
            ridx = torch.randint(0, res_count, (len(idx),), generator=gen)
            x = torch.from_numpy(train[ridx.numpy(), idx.numpy()]).float().div_(255).unsqueeze(1)
            x = augment(x, gen)
            logp = F.log_softmax(model(x, logits=True), dim=1)
            loss = -(targets[idx] * logp).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        acc = accuracy_by_resolution(model, valid, valid_labels, monitor)
        score = float(np.mean([acc[r] for r in args.select]))
        entry = {
            "epoch": epoch,
            "loss": total / steps_per_epoch,
            "valid_majority": acc,
            "select_score": score,
            "seconds": time.time() - t0,
        }
        print(json.dumps(entry), flush=True)
        log.write(json.dumps(entry) + "\n")
        log.flush()
        if score > best:
            best = score
            torch.save({"model": model.state_dict(), "epoch": epoch, "valid": acc, "config": config}, args.out / "best.pt")
        torch.save(
            {
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "gen": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "epoch": epoch,
                "best": best,
            },
            last_path,
        )
        if args.stop_after and epoch + 1 - start_epoch >= args.stop_after:
            break
    log.close()


if __name__ == "__main__":
    main()
