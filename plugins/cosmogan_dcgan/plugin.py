"""Hook implementations of the reference plugin: one model, one trainer. Registered via the entry point
``cosmogan-dcgan = "cosmogan_dcgan.plugin"`` in the group ``emubench``, exactly like a third-party plugin."""

from emubench import hookimpl


@hookimpl
def register_models(register):
    from .model import CosmoGANDCGAN

    register(CosmoGANDCGAN)


@hookimpl
def register_trainers(register):
    from .trainer import DCGANTrainer

    register(DCGANTrainer)
