"""The sandbox fixtures come from y3d_pipeline_tests.plugins.sandbox, registered by the root conftest."""
