"""Hook implementations of the diffusion reference plugin: one model, one trainer. Registered via the entry point
``kappa-diffusion = "kappa_diffusion.plugin"`` in the group ``emubench``, exactly like a third-party plugin.

Its library, Hugging Face ``diffusers``, is an optional extra (``pip install 'emubench[diffusion]'``): the plugin
registers without it, and training or loading a run says what to install."""

from emubench import hookimpl


@hookimpl
def register_models(register):
    from .model import KappaDiffusion

    register(KappaDiffusion)


@hookimpl
def register_trainers(register):
    from .trainer import DiffusionTrainer

    register(DiffusionTrainer)
