"""Plumbing both apps share: domain errors, REST helpers, text checks, health, async DB calls."""
