"""Factorial ANOVA, effect sizes, sweep and efficiency summaries (not yet implemented)."""
