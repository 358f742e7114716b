"""Run folders: safetensors checkpoints, hashes, refusal of pickles with code, atomic writes, the run lock."""

import os
import pickle

import pytest
import torch

from emubench.checkpoint import (
    RunLock,
    load_checkpoint,
    load_weights,
    read_manifest,
    save_checkpoint,
    verified_checkpoints,
    write_manifest,
)
from emubench.errors import EmubenchError
from emubench.io import atomic_path, save_npy


def _state(step):
    return {
        "w": torch.arange(6.0).reshape(2, 3) + step,
        "opt": {"state": {0: {"step": torch.tensor(step)}}, "lr": 0.1},
        "rng": torch.ByteTensor([1, 2, 3]),
        "step": step,
    }


def test_roundtrip_nested_state(tmp_path):
    manifest = {"model": "x"}
    write_manifest(tmp_path, manifest)
    save_checkpoint(tmp_path, manifest, "step-1", _state(1), {"step": 1})
    got = load_checkpoint(tmp_path, read_manifest(tmp_path))
    assert torch.equal(got["w"], _state(1)["w"])
    assert got["opt"]["state"][0]["step"].item() == 1 and got["opt"]["lr"] == 0.1
    assert got["step"] == 1


def test_corrupt_checkpoint_is_refused_naming_last_good(tmp_path):
    manifest = {"model": "x"}
    save_checkpoint(tmp_path, manifest, "step-1", _state(1), {"step": 1})
    save_checkpoint(tmp_path, manifest, "step-2", _state(2), {"step": 2})
    path = tmp_path / "checkpoints" / "step-2.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated on disk
    with pytest.raises(
        EmubenchError,
        match=r"step-2.safetensors: checkpoint is missing, truncated or corrupt.*last good checkpoint: 'step-1'",
    ):
        load_checkpoint(tmp_path, manifest)
    assert verified_checkpoints(tmp_path, manifest) == ["step-1"]
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one flipped bit
    with pytest.raises(EmubenchError, match="hash mismatch"):
        load_checkpoint(tmp_path, manifest, "step-2")


def test_manifest_paths_cannot_escape_run_folder(tmp_path):
    manifest = {
        "model": "x",
        "checkpoints": {"evil": {"file": "../../etc/passwd", "sha256": "0", "step": 1}},
        "latest": "evil",
    }
    with pytest.raises(EmubenchError, match="escapes the run folder"):
        load_checkpoint(tmp_path, manifest)


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {_Payload.marker}",))


def test_pickle_with_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "payload-ran"
    _Payload.marker = marker
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"weight": _Payload()}, f)
    with pytest.raises(EmubenchError, match="refused"):
        load_weights(evil)
    assert not marker.exists(), "the pickle's payload ran"
    good = tmp_path / "good.pt"
    torch.save({"weight": torch.ones(2)}, good)
    assert torch.equal(load_weights(good)["weight"], torch.ones(2))


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "maps.npy"
    save_npy(target, torch.zeros(3, 8, 8).numpy())
    before = target.read_bytes()
    with pytest.raises(OSError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError(28, "No space left on device")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["maps.npy"]  # no temporary left behind


def test_run_lock_refuses_second_writer(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(EmubenchError, match="another process is writing"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released
        pass
