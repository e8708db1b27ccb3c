"""Activities not tied to a booking, and each base's annual self-report."""
