"""Plain reporting computations (no Dagster imports); the assets live in ``y3d_pipeline.defs.reports``."""
