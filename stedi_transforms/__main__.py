"""``python -m stedi_transforms``: the ``stedi`` command (how a client starts a server)."""

from stedi_transforms.server import entry_point

entry_point()
