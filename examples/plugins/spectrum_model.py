"""An example trained model and its trainer: the mean 2-D power spectrum of the training maps, learned in
epochs over batches and saved in a run folder; sampling draws Gaussian fields with it."""

import time
from pathlib import Path

import numpy as np

from emubench import EmubenchError, RunFolder, TrainRequest, hookimpl


class MeanSpectrum:
    """Gaussian random fields with a 2-D power spectrum learned by ``mean-spectrum-trainer``."""

    name = "mean-spectrum"
    description = "Gaussian fields with the training maps' mean 2-D power spectrum, learned in epochs (an example)"

    def __init__(self, power2d: np.ndarray, mean: float):
        self.power2d, self.mean = power2d, mean

    @classmethod
    def from_run(cls, run_dir, manifest, *, checkpoint=None, device="cpu"):
        state = RunFolder.open(run_dir).load_checkpoint(checkpoint)  # hash-checked, never unpickled
        return cls(state["power2d"].numpy(), float(state["mean"]))

    def sample(self, n: int, *, seed: int, device: str = "cpu") -> np.ndarray:
        npix = self.power2d.shape[0]
        # A stream of its own: default_rng(seed) is the toy dataset's, and would redraw its very maps (which the
        # memorisation check catches).
        rng = np.random.default_rng([seed, 0x6D65616E])
        noise = np.fft.fft2(rng.standard_normal((n, npix, npix)))
        return (np.fft.ifft2(noise * np.sqrt(self.power2d)).real + self.mean).astype(np.float32)


class MeanSpectrumTrainer:
    """Averages |FFT|² of the training maps over batches; one checkpoint per epoch."""

    name = "mean-spectrum-trainer"
    description = "learns mean-spectrum's 2-D power spectrum (an example trainer)"
    models = ("mean-spectrum",)
    presets = {"quick": {"epochs": 2, "batch_size": 64, "seed": 0}}
    default_preset = "quick"

    def make_config(self, preset, overrides):
        if (preset or self.default_preset) not in self.presets:
            raise EmubenchError(f"unknown preset {preset!r} for mean-spectrum (known: {', '.join(self.presets)})")
        config = {**self.presets[preset or self.default_preset], **overrides}
        unknown = set(config) - {"epochs", "batch_size", "seed", "max_steps", "dataset"}
        if unknown:
            raise EmubenchError(f"unknown config key(s) {', '.join(sorted(unknown))}")
        return config

    def train(self, request: TrainRequest) -> Path:
        import torch  # checkpoints hold tensors

        model, mapset, config, out = request.model, request.mapset, request.config, request.out
        train = request.splits["train"]
        with RunFolder.lock_folder(out):
            if request.resume:
                run = RunFolder.open(out)
                run.check_data(mapset)  # refuses other data, naming both hashes
                state = run.load_checkpoint(run.latest)
                sums, count, first = state["sums"].numpy(), int(state["count"]), int(state["epoch"]) + 1
            else:
                run = RunFolder.create(
                    out,
                    model=model,
                    mapset=mapset,
                    split_seed=request.split_seed,
                    seed=config["seed"],
                    train_config=config,
                )
                sums, count, first = np.zeros((train.npix + 1, train.npix)), 0, 0
            for epoch in range(first, config["epochs"]):
                t0 = time.perf_counter()
                order = np.random.default_rng([config["seed"], epoch]).permutation(len(train))
                for start in range(0, len(train), config["batch_size"]):
                    batch = train.get(np.sort(order[start : start + config["batch_size"]])).astype(np.float64)
                    # row 0: sum of map means; rows 1..: sum of |FFT|² / npix² of mean-subtracted maps
                    sums[0, 0] += batch.mean((1, 2)).sum()
                    sums[1:] += (np.abs(np.fft.fft2(batch - batch.mean((1, 2), keepdims=True))) ** 2).sum(
                        0
                    ) / train.npix**2
                    count += len(batch)
                name = f"epoch-{epoch:03d}"
                state = {
                    "sums": torch.from_numpy(sums),
                    "count": count,
                    "epoch": epoch,
                    "power2d": torch.from_numpy(sums[1:] / count),
                    "mean": sums[0, 0] / count,
                }
                run.save_checkpoint(name, state, step=count, keep_last=2)
                run.set_best(name)
                run.append_log({"epoch": epoch, "step": count, "maps_per_s": len(train) / (time.perf_counter() - t0)})
                if not request.quiet:
                    print(f"[mean-spectrum] epoch {epoch}: {count} maps seen")
        return Path(out)


@hookimpl
def register_models(register):
    register(MeanSpectrum)


@hookimpl
def register_trainers(register):
    register(MeanSpectrumTrainer)
