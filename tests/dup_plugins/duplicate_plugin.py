"""A plugin that registers a model name the built-ins already use."""

from emubench import hookimpl


class FakeGRF:
    name = "grf"

    @classmethod
    def fit(cls, train, *, seed=0):
        return cls()

    def sample(self, n, *, seed, device="cpu"):
        raise NotImplementedError("never called: the name clashes")


@hookimpl
def register_models(register):
    register(FakeGRF)
