"""Training-free baseline emulators: each with a known strength and a known flaw the metrics must reveal."""


def generator(seed: int, model: str, device="cpu"):
    """A torch generator for ``model``'s sample ``seed``, never the stream a dataset's own seed starts.

    A dataset generator seeded with 0 and a baseline sampled with seed 0 would otherwise draw the same white
    noise, and a baseline with the dataset's parent grid would reproduce its maps (the memorisation check
    caught exactly that)."""
    import zlib

    import numpy as np
    import torch

    derived = int(np.random.SeedSequence([int(seed), zlib.crc32(model.encode())]).generate_state(1)[0]) + 2**33
    return torch.Generator(device=device).manual_seed(derived)
