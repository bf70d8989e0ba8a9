"""Audit: fairness, privacy, personal data and explanations of trained models."""
