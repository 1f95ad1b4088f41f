"""``python -m samskaping.speed calibrate MODEL``: the command's old name, kept so that it keeps working.

The command is :mod:`samskaping.cli.speed`; the code it runs is :mod:`samskaping.runtime`
(:mod:`samskaping.runtime.int8` and :mod:`samskaping.runtime.bf16`).
"""
