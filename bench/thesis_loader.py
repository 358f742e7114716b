"""A faithful port of the thesis's data loading (Appendix A, lines 20-50): for every sample it scans the file
lengths, reopens the .npy file with np.load(mmap_mode='r'), copies one map into a new tensor; batches come from a
torch DataLoader with shuffle=True. Kept only as the baseline of the loader benchmark.

(The thesis's listing indents ``cumulative_length += length`` under ``break``, which would map every index to
the first file; the port adds it outside the ``if`` as clearly intended.)
"""

import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class CosmoDataset(Dataset):
    def __init__(self, data_dir, dataset_files):
        self.data_dir = data_dir
        self.dataset_files = dataset_files
        self.data_lengths = []
        self.total_length = 0
        for dataset_file in dataset_files:
            data = np.load(os.path.join(data_dir, dataset_file), mmap_mode="r")
            length = data.shape[0]
            self.data_lengths.append(length)
            self.total_length += length

    def __len__(self):
        return self.total_length

    def __getitem__(self, idx):
        cumulative_length = 0
        for i, length in enumerate(self.data_lengths):
            if idx < cumulative_length + length:
                file_idx = i
                sample_idx = idx - cumulative_length
                break
            cumulative_length += length
        dataset_file = os.path.join(self.data_dir, self.dataset_files[file_idx])
        data = np.load(dataset_file, mmap_mode="r")
        sample = data[sample_idx]
        return torch.tensor(np.array(sample[np.newaxis, :, :]), dtype=torch.float32)


def thesis_loader(data_dir, files, batch_size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return DataLoader(CosmoDataset(data_dir, files), batch_size=batch_size, shuffle=True, num_workers=0, generator=g)
