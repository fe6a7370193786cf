"""Train the EFC classifier on FER+ with the low-resolution protocol.

Every training face is degraded to a resolution drawn from --resolutions: with
probability 1 - --realistic by the clean protocol (48x48 -> RxR -> input size,
Pillow antialiased bilinear, as at evaluation), otherwise by a random camera
(training/degrade.py: sampling kernel, defocus/motion blur, gamma/contrast, sensor
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
less (a consistency term, as in AugMix or UDA). Checkpoints every epoch;
--resume continues a run. --device runs the network on a GPU when one is there; the
data, augmentation and random draws stay on the CPU, so a run draws the same faces and
augmentations on either and a checkpoint resumes on either. --time-limit leaves at an
epoch boundary before a time slot ends (a lent GPU machine's 10-minute command).
--arch picks the network: efc (seed 000, the default), or a seed option of issue 15
(training/seeds.py): efc_rvn (crop voting, seed 002), efc_sr (SR pyramid, seed 003).

    python training/train.py --out training/runs/efc_all --epochs 40
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import degrade
import ferplus
import numpy as np
import seeds
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
    p.add_argument(
        "--arch",
        choices=seeds.ARCHS,
        default="efc",
        help="efc (seed 000), efc_rvn (crop voting, seed 002), efc_sr (SR pyramid, seed 003), "
        "efc_wide (every width doubled: the larger teacher): training/seeds.py",
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
        help="the random camera's ranges: harsh draws more nearest sampling and stronger JPEG (training/degrade.py)",
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


def augment(x: torch.Tensor, gen: torch.Generator, max_deg: float = 0.0, erase: float = 0.0) -> torch.Tensor:
    """x: [B, C, S, S] in [0, 1]. Flip, shift by up to S/16 px, rotate by up to max_deg
    and scale by up to max_deg/100, brightness/contrast, erase a rectangle with
    probability `erase`. One draw per face: its C channels (distillation's degraded and
    clean views) move alike, and the draws do not depend on C."""
    b, c, s, _ = x.shape
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if max_deg > 0:
        # Rotation, scale and shift in one resampling (replicated border).
        angle = (torch.rand(b, generator=gen) * 2 - 1) * max_deg * torch.pi / 180
        scale = 1 + (torch.rand(b, generator=gen) * 2 - 1) * max_deg / 100
        shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * (2.0 / 16)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    else:
        pad = max(1, s // 16)
        padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        rows = (dy[:, None] + torch.arange(s)[None, :])[:, None, :, None].expand(b, c, s, s + 2 * pad)
        x = padded.gather(2, rows)
        cols = (dx[:, None] + torch.arange(s)[None, :])[:, None, None, :].expand(b, c, s, s)
        x = x.gather(3, cols)
    contrast = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.4
    bright = (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.2
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + bright).clamp(0, 1)
    if erase > 0:
        # Occlusion (hands, hair, glasses): one rectangle of 1/16 to 1/4 of the face
        # filled with its mean grey.
        hit = torch.rand(b, generator=gen) < erase
        h = (torch.rand(b, generator=gen) * 0.25 + 0.25) * s
        w = (torch.rand(b, generator=gen) * 0.25 + 0.25) * s
        y0 = torch.rand(b, generator=gen) * (s - h)
        x0 = torch.rand(b, generator=gen) * (s - w)
        r = torch.arange(s)[None, :]
        in_y = (r >= y0[:, None]) & (r < (y0 + h)[:, None])
        in_x = (r >= x0[:, None]) & (r < (x0 + w)[:, None])
        box = (in_y[:, :, None] & in_x[:, None, :] & hit[:, None, None]).unsqueeze(1)
        x = torch.where(box, x.mean(dim=(2, 3), keepdim=True).expand_as(x), x)
    return x


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def on_cpu(state):
    """A state dict (nested dicts, lists) with its tensors on the CPU: checkpoints load on
    any machine, with or without a GPU."""
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {k: on_cpu(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(on_cpu(v) for v in state)
    return state


@torch.no_grad()
def predict(model, faces: np.ndarray) -> np.ndarray:
    """Arg-max class of [N, S, S] uint8 faces."""
    model.eval()
    device = model_device(model)
    x = torch.from_numpy(faces).float().div_(255).unsqueeze(1)
    pred = torch.cat([model(chunk.to(device), logits=True).argmax(1).cpu() for chunk in x.split(1024)]).numpy()
    model.train()
    return pred


def mean_class_accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    classes = [c for c in range(len(ferplus.EMOTIONS)) if (labels == c).any()]
    return float(np.mean([(pred[labels == c] == c).mean() for c in classes]))


def accuracy_by_resolution(model, data: np.ndarray, labels: np.ndarray, resolutions) -> dict[int, float]:
    keep = labels >= 0
    return {r: float((predict(model, data[i][keep]) == labels[keep]).mean()) for i, r in enumerate(resolutions)}


def pdls_prior(votes: np.ndarray) -> np.ndarray:
    """Seed 003, eq. 5: row k = the mean vote distribution of the training faces whose
    majority label is k (computed on this run's training set)."""
    hard = ferplus.majority_labels(votes)
    soft = ferplus.soft_targets(votes)
    k = len(ferplus.EMOTIONS)
    return np.stack([soft[hard == c].mean(0) if (hard == c).any() else np.eye(k)[c] for c in range(k)]).astype(np.float32)


def build_targets(votes: np.ndarray, labels: str, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(targets [N, 8], keep mask) for the chosen label rule."""
    eye = np.eye(len(ferplus.EMOTIONS), dtype=np.float32)
    if labels == "soft":
        targets = ferplus.soft_targets(votes)
        return targets, (targets.sum(1) > 0) & (ferplus.plurality_labels(votes) >= 0)
    hard = ferplus.majority_labels(votes)
    onehot = eye[np.maximum(hard, 0)]
    if labels == "pdls":
        onehot = alpha * onehot + (1 - alpha) * pdls_prior(votes)[np.maximum(hard, 0)]
    return onehot, hard >= 0


class Batcher:
    """Training inputs for a batch: the cached clean protocol for most faces, a random
    camera (training/degrade.py) for a share `realistic` of them."""

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
    return ferplus.degrade_all(images, 48, args.input_size)


def load_teacher(args, device: torch.device):
    """The teacher model in eval mode, or None."""
    if args.teacher is None:
        return None
    state = torch.load(args.teacher, weights_only=False, map_location="cpu")
    config = state.get("config", {})
    if config.get("input_size", 32) != args.input_size:
        raise SystemExit(f"{args.teacher}: input size {config.get('input_size')} differs from --input-size {args.input_size}")
    teacher = seeds.build(seeds.arch_of(config), num_classes=len(ferplus.EMOTIONS))
    teacher.load_state_dict(state["model"])
    teacher.to(device).eval()
    for param in teacher.parameters():
        param.requires_grad_(False)
    return teacher


def distillation(teacher, clean: torch.Tensor, logits: torch.Tensor, temp: float) -> torch.Tensor:
    """T^2 * KL(softmax(teacher/T) || softmax(student/T)), batch mean. With RVN's
    per-crop logits [B, K, C] every crop learns the teacher's distribution."""
    with torch.no_grad():
        soft = F.softmax(teacher(clean, logits=True) / temp, dim=-1)
    if logits.dim() == 3:
        soft = soft[:, None]
    log_student = F.log_softmax(logits / temp, dim=-1)
    return temp * temp * (soft * (soft.clamp_min(1e-8).log() - log_student)).sum(-1).mean()


def robust_valid(images: np.ndarray, resolution: int, size: int) -> dict[str, np.ndarray]:
    """Valid faces under each named degradation at one resolution (fixed noise seed)."""
    out = {}
    for name, spec in degrade.NAMED.items():
        rng = np.random.default_rng(1234)
        out[name] = np.stack([degrade.apply(im, resolution, size, spec, rng) for im in images])
    return out


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def main(argv=None):
    started = time.time()
    args = parse_args(argv)
    device = pick_device(args.device)
    torch.backends.cudnn.benchmark = True  # fixed input shapes: cuDNN's fastest kernels (no effect on the CPU)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    root = ferplus.extract(args.data)

    names, votes = ferplus.read_votes(root, "train")
    if args.subset:
        names, votes = names[: args.subset], votes[: args.subset]
    tag = f"_n{args.subset}" if args.subset else ""
    images = ferplus.load_images(root, "train", names)
    train = degraded_cache(root, "train", images, args.resolutions, args.input_size, tag)
    if args.train_on_valid:
        vnames, vvotes = ferplus.read_votes(root, "valid")
        vimages = ferplus.load_images(root, "valid", vnames)
        train = np.concatenate([train, degraded_cache(root, "valid", vimages, args.resolutions, args.input_size, "")], 1)
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

    vnames_eval, vvotes_eval = ferplus.read_votes(root, "valid")
    valid_images = ferplus.load_images(root, "valid", vnames_eval)
    monitor = tuple(sorted(set(MONITOR_RESOLUTIONS) | set(args.select), reverse=True))
    valid = degraded_cache(root, "valid", valid_images, monitor, args.input_size, "")
    valid_labels = ferplus.majority_labels(vvotes_eval)
    valid_keep = valid_labels >= 0
    robust = robust_valid(valid_images[valid_keep], 10, args.input_size) if args.robust_every else {}

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    batcher = Batcher(train, images, args.resolutions, args.input_size, args.realistic, args.seed, args.camera == "harsh")
    model = seeds.build(args.arch, num_classes=len(ferplus.EMOTIONS))
    if args.init:
        model.load_state_dict(torch.load(args.init, weights_only=False, map_location="cpu")["model"])
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = max(1, n // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.1
    )
    start_epoch, best = 0, -1.0
    last_path = args.out / "last.pt"
    if args.resume and last_path.exists():
        state = torch.load(last_path, weights_only=False, map_location="cpu")
        resumed_arch = seeds.arch_of(state.get("config", {}))
        if resumed_arch != args.arch:
            raise SystemExit(f"{last_path} is a {resumed_arch} run; resume it with --arch {resumed_arch}")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])  # moves its moments to the parameters' device
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        if "np_rng" in state:
            batcher.rng.bit_generator.state = state["np_rng"]
        start_epoch, best = state["epoch"] + 1, state["best"]
        print(f"resumed at epoch {start_epoch}, best {best:.4f}", flush=True)

    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    print(f"training on {device}", flush=True)
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    log = open(args.out / "log.jsonl", "a")  # noqa: SIM115 (appended to across the whole loop)
    res_count = len(args.resolutions)
    longest = 0.0  # the longest epoch of this invocation, for --time-limit
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
            best = score
            torch.save({"model": on_cpu(model.state_dict()), "epoch": epoch, "valid": acc, "config": config}, args.out / "best.pt")
        torch.save(
            {
                "model": on_cpu(model.state_dict()),
                "opt": on_cpu(opt.state_dict()),
                "sched": sched.state_dict(),
                "gen": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "np_rng": batcher.rng.bit_generator.state,
                "epoch": epoch,
                "best": best,
                "config": config,
            },
            last_path,
        )
        longest = max(longest, time.time() - t0)
        if args.stop_after and epoch + 1 - start_epoch >= args.stop_after:
            break
    log.close()


if __name__ == "__main__":
    main()
