"""Train the EFC classifier on FER+ with the low-resolution protocol.

Every training face is degraded to a resolution drawn from --resolutions: with
probability 1 - --realistic by the clean protocol (48x48 -> RxR -> input size,
Pillow antialiased bilinear, as at evaluation), otherwise by a random camera
(degrade.py: sampling kernel, defocus/motion blur, gamma/contrast, sensor
noise, JPEG at the native size). Then flipped, shifted, rotated/scaled, jittered and
partly erased. Targets: the FER+ vote distributions (soft), majority labels (hard) or
majority labels smoothed towards the class's mean vote distribution (PDLS, seed 003).
--logit-adjust trains with the class prior added to the logits (Menon et al. 2021),
so the exported logits are balanced across classes. --teacher distils a trained model
that sees the same face clean at 48 px (same flip, shift, rotation and erasing) into
the student that sees it degraded (Hinton et al. 2015: loss = (1 - w) * CE(target) +
w * T^2 * KL(teacher_T || student_T)). --consistency C adds C * T^2 * KL(model_T(clean) ||
model_T(degraded)): the model itself, in eval mode and without gradient, on the clean
48 px view teaches its degraded view, so that a camera's damage changes the prediction
less (a consistency term, as in AugMix or UDA). Checkpoints every epoch (checkpoint.py: last.pt
while the run is in progress, best.pt alone once it is done); --resume continues a run.
--device runs the network on a GPU when one is there; the
data, augmentation and random draws stay on the CPU, so a run draws the same faces and
augmentations on either and a checkpoint resumes on either. --time-limit leaves at an
epoch boundary before a time slot ends (a lent GPU machine's 10-minute command).
--arch picks the network: efc (seed 000, the default), or a seed option of issue 15
(models/seeds.py): efc_rvn (crop voting, seed 002), efc_sr (SR pyramid, seed 003).

    python training/train.py --out training/runs/efc_all --epochs 40
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint, data, degrade
from .augment import augment
from .defaults import (
    ARCHS,
    BEST,
    DATA,
    EMOTIONS,
    LAST,
    MONITOR_RESOLUTIONS,
    SELECT_RESOLUTIONS,
    TRAIN_RESOLUTIONS,
)
from .evaluation import (
    accuracy_by_resolution,
    mean_class_accuracy,
    predict,
    robust_valid,
)
from .models.arch import arch_of, build
from .objectives import build_targets, distillation


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--input-size", type=int, default=32)
    p.add_argument(
        "--arch",
        choices=ARCHS,
        default="efc",
        help="efc (seed 000), efc_rvn (crop voting, seed 002), efc_sr (SR pyramid, seed 003), "
        "efc_wide (every width doubled: the larger teacher): training/lowres_fer_training/models/seeds.py",
    )
    p.add_argument("--resolutions", type=lambda s: tuple(int(v) for v in s.split(",")), default=TRAIN_RESOLUTIONS)
    p.add_argument("--select", type=lambda s: tuple(int(v) for v in s.split(",")), default=SELECT_RESOLUTIONS)
    p.add_argument("--init", type=Path, help="start from this checkpoint's weights (fine-tuning an expert)")
    p.add_argument("--labels", choices=("soft", "hard", "pdls"), default="soft")
    p.add_argument("--pdls-alpha", type=float, default=0.9, help="weight of the one-hot label in PDLS")
    p.add_argument("--logit-adjust", type=float, default=0.0, help="tau of training-time logit adjustment (0: off)")
    p.add_argument("--teacher", type=Path, help="checkpoint of a model to distil from (sees the clean 48 px face)")
    p.add_argument("--distill-weight", type=float, default=0.5, help="w: share of the distillation term in the loss")
    p.add_argument("--distill-temp", type=float, default=2.0, help="T: softmax temperature of the distillation term")
    p.add_argument(
        "--consistency",
        type=float,
        default=0.0,
        help="C: weight of the clean/degraded consistency term, C * T^2 * KL(model(clean) || model(degraded)) (0: off)",
    )
    p.add_argument("--realistic", type=float, default=0.5, help="share of faces degraded by a random camera")
    p.add_argument(
        "--camera",
        choices=("default", "harsh"),
        default="default",
        help="the random camera's ranges: harsh draws more nearest sampling and stronger JPEG (training/lowres_fer_training/degrade.py)",
    )
    p.add_argument("--affine", type=float, default=10.0, help="max rotation in degrees (scale +-1/100 of it per degree)")
    p.add_argument("--erase", type=float, default=0.25, help="probability of erasing a random rectangle")
    p.add_argument("--robust-every", type=int, default=5, help="Valid robustness at 10 px every N epochs (0: never)")
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
    p.add_argument("--time-limit", type=float, default=0, help="leave before an epoch would end after S seconds (0: off)")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda, cuda:1, ...")
    return p.parse_args(argv)


class Batcher:
    """Training inputs for a batch: the cached clean protocol for most faces, a random
    camera (training/lowres_fer_training/degrade.py) for a share `realistic` of them."""

    def __init__(
        self, clean: np.ndarray, originals: np.ndarray, resolutions, size: int, realistic: float, seed: int, harsh: bool = False
    ):
        self.clean, self.originals, self.resolutions = clean, originals, resolutions
        self.size, self.realistic, self.harsh = size, realistic, harsh
        self.rng = np.random.default_rng(seed)

    def __call__(self, idx: np.ndarray, ridx: np.ndarray) -> np.ndarray:
        out = self.clean[ridx, idx]
        if self.realistic > 0:
            for j in np.flatnonzero(self.rng.random(len(idx)) < self.realistic):
                spec = degrade.random_spec(self.rng, self.harsh)
                out[j] = degrade.apply(self.originals[idx[j]], self.resolutions[ridx[j]], self.size, spec, self.rng)
        return out


def clean_views(args, images: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Every training face clean at 48 px, [N, S, S] uint8: the view the teacher and the
    consistency term see. The cached 48 px protocol in `train` when 48 is a training resolution."""
    if 48 in args.resolutions:
        return train[args.resolutions.index(48)]
    return data.degrade_all(images, 48, args.input_size)


def load_teacher(args, device: torch.device):
    """The teacher model in eval mode, or None."""
    if args.teacher is None:
        return None
    state = checkpoint.load_weights(args.teacher)  # best.pt, or an unfinished run's best epoch
    config = state.get("config", {})
    if config.get("input_size", 32) != args.input_size:
        raise SystemExit(f"{args.teacher}: input size {config.get('input_size')} differs from --input-size {args.input_size}")
    teacher = build(arch_of(config), num_classes=len(EMOTIONS))
    teacher.load_state_dict(state["model"])
    teacher.to(device).eval()
    for param in teacher.parameters():
        param.requires_grad_(False)
    return teacher


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def restore(state: dict, out: Path, arch: str, model, opt, sched, gen: torch.Generator, rng: np.random.Generator):
    """Load the resume state of the run in `out` (checkpoint.resume_state) into the run's
    objects; returns the epoch to start at, the best selection score and the best epoch's
    record (None for an old-format run whose best.pt is missing)."""
    resumed_arch = arch_of(state.get("config", {}))
    if resumed_arch != arch:
        raise SystemExit(f"{out / LAST} is a {resumed_arch} run; resume it with --arch {resumed_arch}")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])  # moves its moments to the parameters' device
    sched.load_state_dict(state["sched"])
    gen.set_state(state["gen"])
    torch.set_rng_state(state["torch_rng"])
    if "np_rng" in state:
        rng.bit_generator.state = state["np_rng"]
    return state["epoch"] + 1, state["best"], state["best_state"]


def main(argv=None):
    started = time.time()
    args = parse_args(argv)
    if args.resume and checkpoint.is_finished(args.out):
        print(f"{args.out}: finished ({BEST}, no {LAST}): nothing to resume", flush=True)
        return
    device = pick_device(args.device)
    torch.backends.cudnn.benchmark = True  # fixed input shapes: cuDNN's fastest kernels (no effect on the CPU)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    root = data.extract(args.data)

    names, votes = data.read_votes(root, "train")
    if args.subset:
        names, votes = names[: args.subset], votes[: args.subset]
    tag = f"_n{args.subset}" if args.subset else ""
    images = data.load_images(root, "train", names)
    train = data.degraded_cache(root, "train", images, args.resolutions, args.input_size, tag)
    if args.train_on_valid:
        vnames, vvotes = data.read_votes(root, "valid")
        vimages = data.load_images(root, "valid", vnames)
        train = np.concatenate([train, data.degraded_cache(root, "valid", vimages, args.resolutions, args.input_size, "")], 1)
        images = np.concatenate([images, vimages])
        votes = np.concatenate([votes, vvotes])
    targets, keep = build_targets(votes, args.labels, args.pdls_alpha)
    train, images, targets = train[:, keep], images[keep], torch.from_numpy(targets[keep])
    teacher = load_teacher(args, device)
    clean_48 = clean_views(args, images, train) if teacher is not None or args.consistency else None
    n = train.shape[1]
    # Class prior of the training targets, for logit adjustment.
    log_prior = torch.log(targets.mean(0).clamp_min(1e-4)).to(device)
    targets = targets.to(device)  # once: a step gathers its batch's rows on the device

    vnames_eval, vvotes_eval = data.read_votes(root, "valid")
    valid_images = data.load_images(root, "valid", vnames_eval)
    monitor = tuple(sorted(set(MONITOR_RESOLUTIONS) | set(args.select), reverse=True))
    valid = data.degraded_cache(root, "valid", valid_images, monitor, args.input_size, "")
    valid_labels = data.majority_labels(vvotes_eval)
    valid_keep = valid_labels >= 0
    robust = robust_valid(valid_images[valid_keep], 10, args.input_size) if args.robust_every else {}

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    batcher = Batcher(train, images, args.resolutions, args.input_size, args.realistic, args.seed, args.camera == "harsh")
    model = build(args.arch, num_classes=len(EMOTIONS))
    if args.init:
        model.load_state_dict(checkpoint.load_weights(args.init)["model"])
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = max(1, n // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.1
    )
    start_epoch, best, best_state = 0, -1.0, None
    if args.resume:
        state = checkpoint.resume_state(args.out)
        if state is not None:
            start_epoch, best, best_state = restore(state, args.out, args.arch, model, opt, sched, gen, batcher.rng)
            print(f"resumed at epoch {start_epoch}, best {best:.4f}", flush=True)

    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    print(f"training on {device}", flush=True)
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    log = open(args.out / "log.jsonl", "a")  # noqa: SIM115 (appended to across the whole loop)
    res_count = len(args.resolutions)
    longest = 0.0  # the longest epoch of this invocation, for --time-limit
    done = 0  # epochs done by this invocation
    for epoch in range(start_epoch, args.epochs):
        if args.time_limit and time.time() - started + longest > args.time_limit:
            print(f"time limit: leaving before epoch {epoch} (resume with --resume)", flush=True)
            break
        t0 = time.time()
        order = torch.randperm(n, generator=gen)
        total = torch.zeros((), device=device)  # summed on the device: no sync per step, the GPU runs ahead
        for step in range(steps_per_epoch):
            idx = order[step * args.batch : (step + 1) * args.batch]
            ridx = torch.randint(0, res_count, (len(idx),), generator=gen)
            x = torch.from_numpy(batcher(idx.numpy(), ridx.numpy())).float().div_(255).unsqueeze(1)
            if clean_48 is not None:  # one augmentation for both views: stacked as channels
                clean = torch.from_numpy(clean_48[idx.numpy()]).float().div_(255).unsqueeze(1)
                x, clean = augment(torch.cat([x, clean], 1), gen, args.affine, args.erase).to(device).split(1, 1)
            else:
                x = augment(x, gen, args.affine, args.erase).to(device)
            target = targets[idx.to(device)]
            if hasattr(model, "training_logits"):  # efc_rvn: every crop learns the face's target
                logits = model.training_logits(x)
                target = target[:, None]
            else:
                logits = model(x, logits=True)
            if args.logit_adjust:
                logits = logits + args.logit_adjust * log_prior
            loss = -(target * F.log_softmax(logits, dim=-1)).sum(-1).mean()
            if teacher is not None:
                loss = (1 - args.distill_weight) * loss + args.distill_weight * distillation(
                    teacher, clean, logits, args.distill_temp
                )
            if args.consistency:
                # The model as its own teacher: eval mode (running statistics, no dropout), so the
                # clean view neither moves the batch-norm statistics nor draws dropout masks.
                model.eval()
                loss = loss + args.consistency * distillation(model, clean, logits, args.distill_temp)
                model.train()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach()
        acc = accuracy_by_resolution(model, valid, valid_labels, monitor)
        score = float(np.mean([acc[r] for r in args.select]))
        i20 = monitor.index(20) if 20 in monitor else len(monitor) - 1
        entry = {
            "epoch": epoch,
            "loss": total.item() / steps_per_epoch,
            "valid_majority": acc,
            "valid_mean_class_20": mean_class_accuracy(predict(model, valid[i20][valid_keep]), valid_labels[valid_keep]),
            "select_score": score,
            "seconds": time.time() - t0,
            "device": device.type,
        }
        if robust and ((epoch + 1) % args.robust_every == 0 or epoch + 1 == args.epochs):
            labels = valid_labels[valid_keep]
            entry["valid_robust_10"] = {k: float((predict(model, v) == labels).mean()) for k, v in robust.items()}
        print(json.dumps(entry), flush=True)
        log.write(json.dumps(entry) + "\n")
        log.flush()
        if score > best:
            best, best_state = score, checkpoint.best_entry(model, epoch, acc, config)
        checkpoint.save_progress(
            args.out,
            {
                "model": checkpoint.on_cpu(model.state_dict()),
                "opt": checkpoint.on_cpu(opt.state_dict()),
                "sched": sched.state_dict(),
                "gen": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "np_rng": batcher.rng.bit_generator.state,
                "epoch": epoch,
                "best": best,
                "best_state": best_state,
                "config": config,
            },
        )
        longest = max(longest, time.time() - t0)
        done += 1
        if args.stop_after and epoch + 1 - start_epoch >= args.stop_after:
            break
    log.close()
    if start_epoch + done >= args.epochs:  # every epoch done: best.pt alone (checkpoint.py)
        checkpoint.finish(args.out)


if __name__ == "__main__":
    main()
