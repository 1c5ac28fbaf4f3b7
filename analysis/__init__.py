"""Analyses of a run table: pure functions returning tidy results (see DESIGN.md)."""
