"""The maintenance stage (asset group ``maintenance``, wired in ``defs/maintenance/``; no Dagster assets here):
retention of Dagster's own storage (``dagster_storage``) and of the application's raw data (``app_data``)."""
