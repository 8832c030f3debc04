"""Skill groups: teams of agents that sessions are routed within, with priorities and overflow."""
