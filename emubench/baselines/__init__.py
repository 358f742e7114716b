"""Training-free baseline emulators: each with a known strength and a known flaw the metrics must reveal."""
