"""The print-queue stage (asset group ``print_queue``, wired in ``defs/print_queue/``; no Dagster here): reading
what a buyer wants printed, validating it, writing print tasks that follow their inputs, and pushing the result
back to ShipStation. The assets are thin wrappers around ``service`` (a print-tasks run) and ``writeback``.
"""
