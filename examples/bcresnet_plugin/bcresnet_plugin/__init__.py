"""Example plugin for audio-arch-suite: the ``bcresnet`` family and the ``beeps`` data set.

Installed, the suite finds both by name through the entry points in ``pyproject.toml``;
uninstalled (on ``PYTHONPATH``), name them as references:
``bcresnet_plugin.models:bcresnet`` and ``bcresnet_plugin.data:Beeps``.
"""
