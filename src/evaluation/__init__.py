"""Evaluation: the science association's yearly figures per venue, read from bookings and check-ins."""
