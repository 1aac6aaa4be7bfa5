"""Batch jobs: the export worker and its renderers (PDF reports, ZIP archives, Camtrap DP), re-ID."""
