"""``python -m stedi_transforms``: the ``stedi`` command."""

from stedi_transforms.entry import entry_point

entry_point()
