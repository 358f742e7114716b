"""cosmogan-dcgan: the reference emubench plugin (CosmoGAN's DCGAN as re-implemented in the thesis)."""
