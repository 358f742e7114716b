"""A trained model and trainer written against the pre-1.0 docs: the manifest written by hand (no
manifest_version), checkpoints through emubench.checkpoint.save_checkpoint/load_checkpoint and RunLock. Plugins
like it must keep working unchanged."""

import numpy as np
import torch

from emubench import hookimpl
from emubench.checkpoint import RunLock, load_checkpoint, save_checkpoint, write_manifest


class LegacyMeanMap:
    name = "legacy-mean-map"
    description = "the training maps' mean map plus white noise (a pre-1.0 style trained model)"

    def __init__(self, mean, sigma):
        self.mean, self.sigma = mean, sigma

    @classmethod
    def from_run(cls, run_dir, manifest, *, checkpoint=None, device="cpu"):
        state = load_checkpoint(run_dir, manifest, checkpoint)
        return cls(state["mean"].numpy(), float(state["sigma"]))

    def sample(self, n, *, seed, device="cpu"):
        rng = np.random.default_rng([seed, 99])
        return (self.mean + self.sigma * rng.standard_normal((n, *self.mean.shape))).astype(np.float32)


class LegacyTrainer:
    name = "legacy-trainer"
    description = "trains legacy-mean-map"
    models = ("legacy-mean-map",)
    presets = {"default": {}}
    default_preset = "default"

    def make_config(self, preset, overrides):
        return {"seed": 0, **overrides}

    def train(self, *, model, splits, mapset, split_seed, config, out, resume, device, quiet):
        maps = splits["train"].head(len(splits["train"]))
        with RunLock(out):
            manifest = {
                "model": model,
                "dataset": {
                    "name": mapset.name,
                    "options": mapset.meta.get("options", {}),
                    "hash": mapset.content_hash(),
                    "split_seed": split_seed,
                },
            }
            write_manifest(out, manifest)
            state = {"mean": torch.from_numpy(maps.mean(0)), "sigma": float(maps.std())}
            save_checkpoint(out, manifest, "final", state, {"step": 1})
        return out


@hookimpl
def register_models(register):
    register(LegacyMeanMap)


@hookimpl
def register_trainers(register):
    register(LegacyTrainer)
