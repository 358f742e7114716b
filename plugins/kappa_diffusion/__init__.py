"""kappa-diffusion: a denoising-diffusion reference emulator of κ maps (a second reference plugin)."""
