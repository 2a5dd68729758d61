"""``y3d runs``: the run log (what ScriptRunLog used to show), read from Dagster's own run storage."""
