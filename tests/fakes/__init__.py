"""Offline stand-ins for the remote services (fake servers and the files they return)."""
