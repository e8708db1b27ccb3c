"""Venues: science education bases, their staff, and the slots they publish."""
