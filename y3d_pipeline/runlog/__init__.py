"""Run history read from Dagster's own storage (replaces ScriptRunLog): ``y3d runs`` (core, cli), ``y3d status``
(status, status_cli) and the run tags every run carries (tags)."""
